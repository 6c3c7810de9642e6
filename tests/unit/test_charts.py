"""Chart builders are pure: known frames in, the right traces out."""
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from breachdash import charts
from breachdash.scope.rules import Figure
from breachdash.scope.service import HISTORY_COLUMNS
from breachdash.timeline.models import EventKind

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
ZONE = "America/New_York"


def _revision(seq, day, population, kind, low=None, best=None, high=None, unit="individuals", reason="why",
              method="m", wording=""):
    figure = Figure(kind, low, best, high, wording)
    return {"seq": seq, "population": population, "population_key": population.lower().replace(" ", "-"),
            "recorded_at": T0 + timedelta(days=day), "recorded_by": "a@x.example", "figure_kind": kind,
            "low": low, "best": best, "high": high, "wording": wording, "figure": figure.describe(), "unit": unit,
            "confidence": "medium", "method": method, "reason": reason, "corrects_seq": None, "source": "",
            "point": figure.point, "change": None, "change_text": ""}


def _history():
    frame = pd.DataFrame([
        _revision(1, 0, "UK consumers", "exact", best=20, unit="records"),
        _revision(2, 1, "US consumers", "range", 90, 100, 110, method="<b>x</b>"),
        _revision(3, 2, "US consumers", "range", 95, 98, 101, reason="w" * 500),
        _revision(4, 3, "US consumers", "unknown", wording="a substantial proportion"),
        _revision(5, 4, "US consumers", "up to", high=500),
        _revision(6, 5, "Canada", "at least", low=10_000),
        _revision(7, 6, "Canada", "placeholder", best=500),
    ], columns=HISTORY_COLUMNS)
    for column in ("low", "best", "high", "corrects_seq", "point", "change"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _y_numbers(trace):
    return [v for v in (trace.y or ()) if v is not None]


def _primary(figure):
    """Traces on a numeric (primary) y axis, by axis."""
    secondary = {a.replace("axis", "") for a in figure.layout.to_plotly_json() if a.startswith("yaxis")
                 and figure.layout[a].overlaying}
    return [t for t in figure.data if (t.yaxis or "y") not in secondary]


# ---------------------------------------------------------------- estimate trend

def test_estimate_trend__one_panel_per_unit_never_two_units_on_one_axis():
    figure = charts.estimate_trend(_history(), zone=ZONE)
    titles = {figure.layout[a].title.text for a in ("yaxis", "yaxis3")}
    assert titles == {"individuals", "records"}
    axis_units = {}
    for trace in figure.data:
        if trace.customdata is not None:
            axis_units.setdefault(trace.yaxis, set()).update(row[6] for row in trace.customdata)
    assert all(len(units) == 1 for units in axis_units.values())
    assert {next(iter(u)) for u in axis_units.values()} == {"individuals", "records"}


def test_estimate_trend__step_line_per_population_breaks_where_the_count_is_not_known():
    figure = charts.estimate_trend(_history(), zone=ZONE)
    us = next(t for t in figure.data if t.name == "US consumers" and t.mode == "lines")
    assert us.showlegend
    assert list(us.y) == [100, 100, 98, 98, None, 500, 500]  # held until the next revision; gap at unknown
    legend = [t.name for t in figure.data if t.showlegend is not False and not t.legendgroup.startswith("kind: ")]
    assert sorted(legend) == ["Canada", "UK consumers", "US consumers"]


def test_estimate_trend__band_only_where_both_bounds_exist():
    figure = charts.estimate_trend(_history(), zone=ZONE)
    bands = [t for t in figure.data if t.fill == "toself"]
    assert len(bands) == 1 and bands[0].legendgroup == "us-consumers"
    assert sorted(set(_y_numbers(bands[0]))) == [90, 95, 101, 110]


def test_estimate_trend__kinds_as_marker_shapes_and_unknowns_never_a_number():
    figure = charts.estimate_trend(_history(), zone=ZONE)
    revisions = {row[1]: symbol for t in figure.data if t.customdata is not None
                 for row, symbol in zip(t.customdata, t.marker.symbol)}
    assert revisions[2] == "diamond" and revisions[5] == "triangle-down" and revisions[6] == "triangle-up"
    assert revisions[1] == "circle" and revisions[4] == "circle-open" and revisions[7] == "square-open"
    not_known = [t for t in figure.data if t.text is not None and "count not known" in list(t.text)]
    assert {row[1] for t in not_known for row in t.customdata} == {4, 7}
    assert all(figure.layout[t.yaxis.replace("y", "yaxis")].visible is False for t in not_known)
    # The placeholder's 500 is on no numeric axis (US's "up to 500" is, on its own revision).
    canada = [t for t in _primary(figure) if t.legendgroup == "canada"]
    assert 500 not in [v for t in canada for v in _y_numbers(t)]
    keys = [t.name for t in figure.data if t.legendgroup.startswith("kind: ")]
    assert "up to (upper bound)" in keys and "at least (lower bound)" in keys and "count not known" in keys


def test_estimate_trend__hover_gives_the_published_figure_escaped_and_short():
    figure = charts.estimate_trend(_history(), zone=ZONE)
    rows = {row[1]: row for t in figure.data if t.customdata is not None for row in t.customdata}
    assert rows[5][2] == "up to 500" and rows[5][0] == "US consumers"
    assert rows[4][2] == "“a substantial proportion” (count not known)"
    assert len(rows[3][4]) <= 120 and rows[3][4].endswith("…")
    assert rows[2][5] == "&lt;b&gt;x&lt;/b&gt;"
    template = next(t for t in figure.data if t.customdata is not None).hovertemplate
    assert "Revision" in template and "why:" in template and "method:" in template


def test_estimate_trend__single_point_gets_a_day_either_side():
    figure = charts.estimate_trend(_history().iloc[:1], zone=ZONE)
    low, high = figure.layout.xaxis.range
    assert pd.Timestamp(high) - pd.Timestamp(low) == pd.Timedelta(days=2)


def test_estimate_trend__empty_says_so_without_blank_axes():
    figure = charts.estimate_trend(_history().iloc[:0], zone=ZONE)
    assert not figure.data
    assert figure.layout.annotations[0].text == "No estimates yet"
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False


# ---------------------------------------------------------------- exposure

def _types(populations=("US consumers",)):
    rows = []
    for population in populations:
        rows += [
            ("payment_card", "Payment card numbers", "financial", "Financial", 1, Figure.exact(220_000), "confirmed",
             "encrypted, key not taken"),
            ("bank_account", "Bank account numbers", "financial", "Financial", 1, Figure.from_count(None, "unknown"),
             "suspected", "plain"),
            ("name", "Names", "identity", "Identity", 6, Figure.exact(146_000_000), "confirmed", "plain"),
            ("email", "Email addresses", "contact", "Contact", 7, Figure.from_count(500, "up to"), "suspected",
             "plain"),
        ]
    frame = pd.DataFrame(rows, columns=["data_type", "name", "tier", "tier_name", "tier_rank", "figure", "status",
                                        "protection"])
    frame["count"] = pd.array([f.point for f in frame["figure"]], dtype="Int64")
    frame["count_kind"] = [f.kind if f.kind != "unknown" else "unknown" for f in frame["figure"]]
    frame["population"] = [p for p in populations for _ in range(4)]
    frame["population_key"] = frame["population"].str.lower()
    frame["unit"] = "individuals"
    return frame


def _bars_by_label(figure):
    out = {}
    for trace in figure.data:
        for i, label in enumerate(trace.y):
            out[label] = (trace, i)
    return out


def test_exposure_by_type__unknown_counts_stay_visible_and_small_counts_beside_huge_ones():
    figure = charts.exposure_by_type(_types())
    by_label = _bars_by_label(figure)
    stub, i = by_label["Bank account numbers"]
    assert stub.type == "scatter" and "count not known" in stub.text[i]
    assert stub.x[i] == figure.layout.xaxis.tickvals[0] == 10  # the axis start: a decade below the smallest, 500
    bar, i = by_label["Payment card numbers"]
    assert bar.type == "bar" and bar.x[i] == 220_000 and bar.text[i].startswith("220,000")
    assert figure.layout.xaxis.type == "log" and "log scale" in figure.layout.xaxis.title.text
    ticks = dict(zip(figure.layout.xaxis.tickvals, figure.layout.xaxis.ticktext))
    assert ticks[1_000] == "1K" and ticks[1_000_000] == "1M" and ticks[100_000_000] == "100M"
    email, i = by_label["Email addresses"]
    assert email.text[i] == "up to 500 · suspected"


def test_exposure_by_type__protection_and_suspicion_as_text_hover_and_pattern():
    figure = charts.exposure_by_type(_types())
    by_label = _bars_by_label(figure)
    card, i = by_label["Payment card numbers"]
    assert "encrypted, key not taken" in card.text[i]
    assert "the key is not known to have been taken" in card.customdata[i][0]
    assert card.marker.pattern.shape[i] == "."
    email, i = by_label["Email addresses"]
    assert email.marker.pattern.shape[i] == "/"
    names, i = by_label["Names"]
    assert names.marker.pattern.shape[i] == ""
    assert "hatched: suspected" in figure.layout.xaxis.title.text


def test_exposure_by_type__each_tier_once_in_the_legend_most_sensitive_on_top():
    figure = charts.exposure_by_type(_types())
    legend = [t.name for t in figure.data if t.showlegend]
    assert sorted(legend) == ["Contact", "Financial", "Identity"]
    assert len({t.legendgroup for t in figure.data}) == 3
    assert list(figure.layout.yaxis.categoryarray)[-1] in ("Payment card numbers", "Bank account numbers")


def test_exposure_by_type__one_bar_per_type_and_population_when_several():
    figure = charts.exposure_by_type(_types(("US consumers", "UK consumers")))
    labels = set(_bars_by_label(figure))
    assert "Payment card numbers · US consumers" in labels and "Payment card numbers · UK consumers" in labels
    assert len(labels) == 8


def test_exposure_by_type__empty_says_so():
    figure = charts.exposure_by_type(_types().iloc[:0])
    assert not figure.data and figure.layout.xaxis.visible is False


def test_exposure_heatmap__rows_by_sensitivity_columns_by_size():
    cells = pd.DataFrame({
        "name": ["Names", "Names", "Payment card numbers"], "tier_rank": [6, 6, 1],
        "region": ["DE", "US-CA", "US-CA"], "count": [5, 9, 3]})
    figure = charts.exposure_heatmap(cells)
    heat = figure.data[0]
    assert list(heat.y) == ["Payment card numbers", "Names"]
    assert list(heat.x) == ["US-CA", "DE"]
    assert heat.z.tolist() == [[3, 0], [9, 5]]


# ---------------------------------------------------------------- timeline

def _events(count, kinds=("detection", "containment", "legal")):
    return pd.DataFrame({
        "id": range(count), "occurred_at": [pd.Timestamp(T0) + pd.Timedelta(hours=i) for i in range(count)],
        "precision": ["exact"] * count,
        "recorded_at": [pd.Timestamp(T0) + pd.Timedelta(hours=i + 1) for i in range(count)],
        "kind": [kinds[i % len(kinds)] for i in range(count)], "title": [f"e{i}" for i in range(count)],
        "recorded_by": ["a@x.example"] * count,
        "state": ["superseded" if i == 0 else "retracted" if i == 1 else "current" for i in range(count)]})


def test_incident_timeline__kinds_come_from_the_event_kinds():
    assert charts.KIND_ORDER == [k.value for k in EventKind]
    assert "ransom or extortion contact" in charts.KIND_COLOURS
    assert set(charts.KIND_COLOURS) == set(charts.KIND_ORDER)


def test_incident_timeline__lanes_spans_markers_and_estimate_panel():
    milestones = {"intrusion_started_at": T0 - timedelta(days=10), "detected_at": T0,
                  "contained_at": T0 + timedelta(days=1), "first_notice_at": None}
    figure = charts.incident_timeline(_events(6), milestones, _history(), zone=ZONE)
    names = [t.name for t in figure.data]
    assert names[:2] == ["Dwell time", "Containing"]  # no first notice yet: no third span
    detection = next(t for t in figure.data if t.name == "detection")
    assert list(detection.marker.symbol) == ["circle-open", "circle"]
    assert not detection.showlegend  # the lane name is on the axis already
    assert next(t for t in figure.data if t.name == "containment").marker.symbol[0] == "x"
    assert detection.customdata[0][1] == "2026-10-31 20:00 EDT"  # 00:00 UTC, before New York falls back
    # The estimate panel: one unit (individuals, as there are some), one line per population.
    lines = [t for t in figure.data if t.yaxis == "y2" and t.mode == "lines"]
    assert sorted(t.name for t in lines) == ["Canada", "US consumers"]
    assert figure.layout.yaxis2.title.text == "individuals"
    assert all(row[6] == "individuals" for t in figure.data if t.yaxis == "y2" and t.customdata is not None
               for row in t.customdata)
    assert figure.layout.xaxis2.title.text == f"time ({ZONE})"


def test_incident_timeline__records_panel_when_no_individuals():
    history = _history()
    figure = charts.incident_timeline(_events(3), {}, history[history["unit"] == "records"], zone=ZONE)
    line = next(t for t in figure.data if t.yaxis == "y2" and t.mode == "lines")
    assert line.name == "UK consumers (records)" and figure.layout.yaxis2.title.text == "records"


def test_incident_timeline__announcement_span_and_imprecise_ends_dotted():
    milestones = {"intrusion_started_at": T0 - timedelta(days=100), "detected_at": T0,
                  "contained_at": T0 + timedelta(days=30), "public_announced_at": T0 + timedelta(days=3),
                  "regulator_first_notified_at": T0 + timedelta(days=2)}
    figure = charts.incident_timeline(_events(3), milestones, _history().iloc[:0], zone=ZONE,
                                      precisions={"contained_at": "month", "intrusion_started_at": "day"})
    spans = {t.name: t for t in figure.data if (t.legendgroup or "").startswith("span: ")}
    assert spans["Detection to announcement"].line.dash == "solid"
    assert spans["Detection to announcement"].y[0] == "disclosure"
    assert spans["Containing (approximate)"].line.dash == "dash"
    assert "about 30 days" in spans["Containing (approximate)"].hovertemplate
    assert "November 2026" in spans["Containing (approximate)"].hovertemplate
    assert "First regulator notified" in [t.name for t in figure.data]
    # A 100-day dwell does not set the default view: it starts a few days before detection.
    start, end = (pd.Timestamp(v) for v in figure.layout.xaxis.range)
    assert start == pd.Timestamp(T0).tz_convert(ZONE) - pd.Timedelta(days=3)
    assert end > pd.Timestamp(T0 + timedelta(days=30))
    assert figure.layout.xaxis.rangeslider.visible


def test_incident_timeline__500_events_use_smaller_translucent_markers_and_no_empty_panel():
    figure = charts.incident_timeline(_events(500), {}, _history().iloc[:0])
    markers = [t for t in figure.data if t.mode == "markers"]
    assert sum(len(t.x) for t in markers) == 500
    assert all(t.marker.size == 6 and t.marker.opacity < 0.6 for t in markers)
    assert figure.layout.xaxis.rangeslider.visible and "xaxis2" not in figure.layout


def test_incident_timeline__ransom_contact_has_its_lane():
    figure = charts.incident_timeline(_events(2, kinds=("ransom or extortion contact",)), {}, _history().iloc[:0])
    assert "ransom or extortion contact" in figure.layout.yaxis.categoryarray


# ---------------------------------------------------------------- time zones (issue 16.3)

def _register():
    return pd.DataFrame({
        "rule_id": ["GDPR-33", "US-NY"], "recipient": ["regulator", "individuals"], "regime": ["GDPR", "NY <b>"],
        "applicability": ["applies", "may apply"], "status": ["not due", "late"],
        "clock_started_at": [T0, T0 - timedelta(days=20)], "due_at": [T0 + timedelta(hours=72), T0]})


def _chart_times(figure):
    """Every datetime-like value in a figure's data and shapes."""
    values = []
    for trace in figure.data:
        for name in ("x", "base"):
            value = getattr(trace, name, None)
            if value is not None and not isinstance(value, (int, float, str)):
                values += [v for v in value if isinstance(v, (datetime, pd.Timestamp))]
    for shape in figure.layout.shapes:
        values += [v for v in (shape.x0, shape.x1) if isinstance(v, (datetime, pd.Timestamp))]
    return values


def _builders():
    milestones = {"intrusion_started_at": T0 - timedelta(days=10), "detected_at": T0,
                  "legal_aware_at": T0 + timedelta(hours=3), "contained_at": T0 + timedelta(days=1),
                  "public_announced_at": T0 + timedelta(days=2)}
    hourly = pd.DataFrame({"hour": [T0, T0 + timedelta(hours=1)], "sent": [5, 9], "delivered": [3, 8],
                           "unreached": [1, 1], "replied": [0, 2]})
    return {
        "estimate_trend": lambda zone: charts.estimate_trend(_history(), zone=zone),
        "incident_timeline": lambda zone: charts.incident_timeline(_events(6), milestones, _history(), zone=zone),
        "outreach_over_time": lambda zone: charts.outreach_over_time(hourly, phase="Initial", zone=zone),
        "obligation_deadlines": lambda zone: charts.obligation_deadlines(
            _register(), milestones, now=T0 + timedelta(days=1), zone=zone),
    }


@pytest.mark.parametrize("builder", sorted(_builders()))
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_chart_times_are_in_the_incidents_zone(builder, zone):
    figure = _builders()[builder](zone)
    times = _chart_times(figure)
    assert times, f"{builder} drew no times"
    assert all(str(pd.Timestamp(v).tz) == zone for v in times)
    # What plotly.js receives: the local wall-clock time with its offset (which it ignores).
    sent = figure.to_json()
    local_midnight_utc = pd.Timestamp(T0).tz_convert(zone).strftime("%Y-%m-%dT%H:%M:%S")
    assert local_midnight_utc in sent and "T00:00:00+00:00" not in sent
    titles = " ".join(filter(None, (figure.layout[a].title.text for a in figure.layout.to_plotly_json()
                                    if a.startswith("xaxis"))))
    assert zone in titles


def test_obligation_deadlines__bars_end_at_the_local_due_time_across_a_clock_change():
    figure = charts.obligation_deadlines(_register(), {}, now=T0, zone=ZONE)
    bar = next(t for t in figure.data if t.name == "not due")
    start = pd.Timestamp(bar.base[0])
    end = start.tz_localize(None) + pd.Timedelta(milliseconds=bar.x[0])
    assert end == pd.Timestamp(T0 + timedelta(hours=72)).tz_convert(ZONE).tz_localize(None)


def test_inquiries_are_calendar_days_without_a_zone():
    days = pd.DataFrame({"day": [date(2026, 11, 6)], "calls": [1], "mailbox": [1], "call_capacity": [5],
                         "note": [""]})
    bars = charts.inquiries_vs_capacity(days).data[0]
    assert all(isinstance(v, date) and not isinstance(v, datetime) for v in bars.x)
