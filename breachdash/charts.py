"""Chart builders: DataFrame in, plotly Figure out. Pure, no I/O.

Times: every datetime put into a figure is first converted to the zone the caller passes
(`zone=`, the incident's zone) and kept zone-aware. Plotly serialises it with its offset and
plotly.js draws the wall-clock part, so what the chart shows is the incident's local time; axis
titles name the zone.
"""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from breachdash.display import moment, span
from breachdash.scope.rules import PROTECTION_WORDS, Figure
from breachdash.timeline.models import EventKind

TIER_COLOURS = {
    "financial": "#b91c1c", "government_id": "#c2410c", "credentials": "#a16207", "health": "#7e22ce",
    "biometric": "#6d28d9", "identity": "#1d4ed8", "contact": "#0f766e", "unknown": "#6b7280",
}
# One colour per population, in the order populations first appear.
POPULATION_COLOURS = ("#1d4ed8", "#c2410c", "#0f766e", "#7e22ce", "#a16207", "#db2777", "#334155", "#15803d")
# Marker per published figure kind: a bound points the way the truth may lie.
KIND_SYMBOLS = {"exact": "circle", "range": "diamond", "up to": "triangle-down", "at least": "triangle-up",
                "unknown": "circle-open", "placeholder": "square-open"}
KIND_KEYS = {"exact": "exact figure", "range": "range (shaded: low–high)", "up to": "up to (upper bound)",
             "at least": "at least (lower bound)", "unknown": "count not known",
             "placeholder": "placeholder (not an estimate)"}
NOT_A_NUMBER = ("unknown", "placeholder")
UNIT_ORDER = ("individuals", "records")
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300, template="plotly_white",
               font=dict(family="sans-serif", size=12))


# ---------------------------------------------------------------- helpers

def _hover_text(value: object, limit: int = 120) -> str:
    """User text for a hover label: shortened, and with markup characters made inert
    (Plotly renders a subset of HTML in hover text)."""
    text = str(value or "—") if not _missing(value) else "—"
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _local_series(values, zone: str) -> pd.Series:
    """Datetimes (aware, or naive meaning UTC) as zone-aware timestamps in `zone`."""
    return pd.to_datetime(pd.Series(values), utc=True).dt.tz_convert(zone)


def _local(value, zone: str) -> pd.Timestamp | None:
    if _missing(value):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(zone)


def _int_or_none(value) -> int | None:
    return None if _missing(value) else int(value)


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _empty(figure: go.Figure, title: str, note: str, **layout) -> go.Figure:
    """No data: a title and a note, and no blank axes (Plotly's empty default is −1..4)."""
    figure.update_layout(title=title, **{**_LAYOUT, **layout})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(text=note, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                          font=dict(size=14, color="#6b7280"))
    return figure


def _population_colours(history: pd.DataFrame) -> dict[str, str]:
    keys = history["population_key"] if "population_key" in history else pd.Series(dtype=object)
    return {key: POPULATION_COLOURS[i % len(POPULATION_COLOURS)] for i, key in enumerate(dict.fromkeys(keys))}


def _units_present(history: pd.DataFrame) -> list[str]:
    units = list(dict.fromkeys(history["unit"]))
    return sorted(units, key=lambda u: (UNIT_ORDER.index(u) if u in UNIT_ORDER else len(UNIT_ORDER), str(u)))


def _prepare_history(history: pd.DataFrame, zone: str) -> pd.DataFrame:
    """The revision history with local times and the columns every estimate chart needs (older
    frames without populations or figure kinds are read as one population of exact/range figures)."""
    data = history.copy()
    data["at"] = _local_series(data["recorded_at"], zone)
    if "population_key" not in data:
        data["population_key"] = "all"
    if "population" not in data:
        data["population"] = data["population_key"]
    if "figure_kind" not in data:
        data["figure_kind"] = ["range" if (not _missing(lo) and not _missing(hi) and lo != hi) else "exact"
                               for lo, hi in zip(data.get("low", [None] * len(data)),
                                                 data.get("high", [None] * len(data)))]
    for column in ("low", "best", "high"):
        if column not in data:
            data[column] = None
    if "point" not in data:
        data["point"] = [Figure(str(k), _int_or_none(lo), _int_or_none(b), _int_or_none(hi)).point
                         for k, lo, b, hi in zip(data["figure_kind"], data["low"], data["best"], data["high"])]
    if "figure" not in data:
        data["figure"] = [Figure(str(k), _int_or_none(lo), _int_or_none(b), _int_or_none(hi)).describe()
                          for k, lo, b, hi in zip(data["figure_kind"], data["low"], data["best"], data["high"])]
    for column in ("recorded_by", "reason", "method"):
        if column not in data:
            data[column] = ""
    data["figure_kind"] = data["figure_kind"].map(lambda k: str(getattr(k, "value", k)))
    return data.sort_values(["at", "seq"] if "seq" in data else ["at"], kind="stable")


def _step_path(times: list, values: list, end) -> tuple[list, list]:
    """A step line through known values, each held until the next revision (the last until `end`);
    a revision whose count is not known breaks the line rather than inventing a number."""
    xs, ys = [], []
    for i, (moment_, value) in enumerate(zip(times, values)):
        following = times[i + 1] if i + 1 < len(times) else end
        if value is None:
            if xs and xs[-1] is not None:
                xs.append(None)
                ys.append(None)
            continue
        xs += [moment_, following]
        ys += [value, value]
    return xs, ys


def _band_path(times: list, lows: list, highs: list, end) -> tuple[list, list]:
    """Low–high rectangles, one per revision that publishes both bounds, as one self-filled path."""
    xs, ys = [], []
    for i, (moment_, low, high) in enumerate(zip(times, lows, highs)):
        if low is None or high is None:
            continue
        following = times[i + 1] if i + 1 < len(times) else end
        xs += [moment_, following, following, moment_, moment_, None]
        ys += [low, low, high, high, low, None]
    return xs, ys


def _add_population_steps(figure: go.Figure, data: pd.DataFrame, *, end, colours: dict[str, str], row: int,
                          unit: str, zone: str, band: bool, unknown_axis: bool, legend: bool,
                          name_with_unit: bool = False) -> int:
    """One population's step line (and band) per population in `data` (one unit) into a subplot
    row. Revisions with no number go on the hidden 0..1 secondary axis as hollow markers labelled
    'count not known' when `unknown_axis`, else are left out. Returns how many were left out."""
    left_out = 0
    for key, rows in data.groupby("population_key", sort=False):
        colour = colours.get(key, POPULATION_COLOURS[0])
        label = _hover_text(rows["population"].iloc[0], 60)
        name = f"{label} ({unit})" if name_with_unit else label
        times = list(rows["at"])
        kinds = list(rows["figure_kind"])
        points = [None if k in NOT_A_NUMBER else _int_or_none(p) for k, p in zip(kinds, rows["point"])]
        if band:
            lows = [None if k in NOT_A_NUMBER else _int_or_none(v) for k, v in zip(kinds, rows["low"])]
            highs = [None if k in NOT_A_NUMBER else _int_or_none(v) for k, v in zip(kinds, rows["high"])]
            bx, by = _band_path(times, lows, highs, end)
            if bx:
                figure.add_trace(go.Scatter(
                    x=bx, y=by, mode="lines", fill="toself", fillcolor=_rgba(colour, 0.15), line=dict(width=0),
                    name=f"{name}: low–high", legendgroup=key, showlegend=False, hoverinfo="skip"),
                    row=row, col=1, **({"secondary_y": False} if unknown_axis else {}))
        lx, ly = _step_path(times, points, end)
        figure.add_trace(go.Scatter(
            x=lx, y=ly, mode="lines", line=dict(color=colour, width=2), name=name, legendgroup=key,
            showlegend=legend, hoverinfo="skip", connectgaps=False),
            row=row, col=1, **({"secondary_y": False} if unknown_axis else {}))
        hover = rows.assign(
            who=rows["recorded_by"].map(_hover_text), why=rows["reason"].map(_hover_text),
            how=rows["method"].map(_hover_text), text=rows["figure"].map(_hover_text),
            population_text=label, when=[t.strftime("%Y-%m-%d %H:%M %Z") for t in times], unit_text=unit,
            revision=rows["seq"] if "seq" in rows else "")
        columns = ["population_text", "revision", "text", "who", "why", "how", "unit_text", "when"]
        template = ("<b>%{customdata[0]}</b><br>Revision %{customdata[1]} (%{customdata[6]}): %{customdata[2]}"
                    "<br>recorded %{customdata[7]} by %{customdata[3]}<br>why: %{customdata[4]}"
                    "<br>method: %{customdata[5]}<extra></extra>")
        known = [p is not None for p in points]
        shown = hover[known]
        if not shown.empty:
            figure.add_trace(go.Scatter(
                x=shown["at"], y=[p for p in points if p is not None], mode="markers", name=f"{name}: revisions",
                legendgroup=key, showlegend=False,
                marker=dict(color=colour, size=9, symbol=[KIND_SYMBOLS.get(k, "circle") for k in shown["figure_kind"]],
                            line=dict(width=1, color=colour)),
                customdata=shown[columns].to_numpy(), hovertemplate=template),
                row=row, col=1, **({"secondary_y": False} if unknown_axis else {}))
        unknown = hover[[not k for k in known]]
        if unknown.empty:
            continue
        if not unknown_axis:
            left_out += len(unknown)
            continue
        figure.add_trace(go.Scatter(
            x=unknown["at"], y=[0.9] * len(unknown), mode="markers+text", name=f"{name}: count not known",
            legendgroup=key, showlegend=False, text=["count not known"] * len(unknown), textposition="bottom center",
            textfont=dict(size=10, color=colour), cliponaxis=False,
            marker=dict(color=colour, size=10, symbol=[KIND_SYMBOLS[k] for k in unknown["figure_kind"]],
                        line=dict(width=2, color=colour)),
            customdata=unknown[columns].to_numpy(), hovertemplate=template), row=row, col=1, secondary_y=True)
    return left_out


def _time_range(times: list, *, single_pad=pd.Timedelta(days=1)) -> tuple:
    """The x range around some times: a day either side of a single moment (never an
    hour-by-hour axis for one point), else a small margin."""
    first, last = min(times), max(times)
    if last - first < pd.Timedelta(hours=1):
        return first - single_pad, last + single_pad
    pad = max((last - first) * 0.04, pd.Timedelta(hours=6))
    return first - pad, last + pad


# ---------------------------------------------------------------- scope

def estimate_trend(history: pd.DataFrame, *, zone: str = "UTC") -> go.Figure:
    """Each population's published figure over time: one step line per population on its
    `point`, a low–high band only where a revision publishes both bounds, a marker shape per
    figure kind (▼ up to, ▲ at least, ◆ range, ● exact), and one panel per unit so individuals
    and records never share an axis. Unknown and placeholder revisions are hollow markers on a
    'count not known' line at the top of their panel, never a number. Times in `zone`."""
    from plotly.subplots import make_subplots

    if history.empty:
        return _empty(go.Figure(), "Affected: estimates over time", "No estimates yet")
    data = _prepare_history(history, zone)
    units = _units_present(data)
    colours = _population_colours(data)
    start, end = _time_range(list(data["at"]))
    figure = make_subplots(rows=len(units), cols=1, shared_xaxes=True, vertical_spacing=0.12,
                           subplot_titles=[f"Affected {unit}" for unit in units] if len(units) > 1 else None,
                           specs=[[{"secondary_y": True}] for _ in units])
    legend_seen: set[str] = set()
    for row, unit in enumerate(units, start=1):
        rows = data[data["unit"] == unit]
        _add_population_steps(figure, rows, end=end, colours=colours, row=row, unit=unit, zone=zone, band=True,
                              unknown_axis=True, legend=False)
        figure.update_yaxes(title_text=unit, tickformat=",", rangemode="tozero", row=row, col=1, secondary_y=False)
        figure.update_yaxes(visible=False, range=[0, 1], fixedrange=True, showgrid=False, row=row, col=1,
                            secondary_y=True)
    if data["population_key"].nunique() > 1:  # name each line at its end too (the briefing hides legends)
        for row, unit in enumerate(units, start=1):
            for key, rows in data[data["unit"] == unit].groupby("population_key", sort=False):
                times = list(rows["at"]) + [end]
                known = [(times[i + 1], p) for i, (k, p) in enumerate(zip(rows["figure_kind"], rows["point"]))
                         if k not in NOT_A_NUMBER and not _missing(p)]
                if known:  # at the end of the last stretch drawn
                    figure.add_annotation(x=known[-1][0], y=int(known[-1][1]),
                                          text=_hover_text(rows["population"].iloc[0], 40),
                                          xanchor="right", yanchor="bottom", showarrow=False,
                                          font=dict(size=10, color=colours[key]), row=row, col=1)
    # One legend entry per population (even across units), then a key to the marker shapes.
    for trace in figure.data:
        if trace.mode == "lines" and trace.fill is None and trace.legendgroup not in legend_seen:
            trace.showlegend = True
            legend_seen.add(trace.legendgroup)
    for kind in [k for k in KIND_SYMBOLS if k in set(data["figure_kind"])]:
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=KIND_KEYS[kind],
                                    legendgroup=f"kind: {kind}",
                                    marker=dict(symbol=KIND_SYMBOLS[kind], color="#6b7280", size=9,
                                                line=dict(width=1.5, color="#6b7280")),
                                    hoverinfo="skip"), row=1, col=1)
    title = (f"Affected {units[0]}: each population's published figure" if len(units) == 1
             else "Affected: each population's published figure, one panel per unit")
    figure.update_layout(title=title, legend=dict(orientation="h", y=-0.2, yanchor="top"),
                         **{**_LAYOUT, "height": 300 + 190 * (len(units) - 1),
                            "margin": dict(l=10, r=10, t=50, b=10)})
    figure.update_xaxes(range=[start, end])
    figure.update_xaxes(title_text=f"recorded ({zone})", row=len(units), col=1)
    return figure


def exposure_heatmap(cells: pd.DataFrame) -> go.Figure:
    """Customers per data type (rows, most sensitive first) and region (columns, largest first)."""
    if cells.empty:
        return _empty(go.Figure(), "No data type × region breakdown in this revision", "No breakdown recorded")
    order_rows = (cells.drop_duplicates("name").sort_values(["tier_rank", "name"])["name"].tolist())
    order_cols = cells.groupby("region")["count"].sum().sort_values(ascending=False).index.tolist()
    grid = cells.pivot_table(index="name", columns="region", values="count", aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=order_rows, columns=order_cols, fill_value=0)
    figure = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=grid.columns.tolist(), y=grid.index.tolist(), colorscale="Reds",
        hovertemplate="%{y} in %{x}: %{z:,} customers<extra></extra>", colorbar=dict(title="customers"),
    ))
    figure.update_layout(title="Exposure by data type and region",
                         **{**_LAYOUT, "height": max(300, 34 * len(grid) + 120)})
    figure.update_yaxes(autorange="reversed")
    return figure


# How the bar is filled: hatched when the exposure is only suspected, dotted when the data was held
# in a form that protects it (encrypted with the key not taken, hashed, partial, expired).
# "Encrypted, key possibly taken" gets no dots: a reader must not take it for protected data.
PROTECTED = {"encrypted, key not taken", "hashed", "partial or truncated", "expired"}
_PATTERN_KEY = {"/": "hatched: suspected", ".": "dotted: protected (encrypted with key not taken, hashed, partial "
                                                "or expired)", "x": "cross-hatched: suspected and protected"}
_LOG_TICKS = [(10 ** power, label) for power, label in enumerate(
    ["1", "10", "100", "1K", "10K", "100K", "1M", "10M", "100M", "1B", "10B", "100B"])]


def _pattern(status: str, protection: str) -> str:
    suspected, protected = status == "suspected", protection in PROTECTED
    return "x" if suspected and protected else "/" if suspected else "." if protected else ""


def exposure_by_type(data_types: pd.DataFrame) -> go.Figure:
    """Horizontal bars per data type (per data type and population when there are several
    populations), one colour per sensitivity tier, most sensitive on top, each tier once in the
    legend. The bar's text is the figure as published ('up to 500', 'at least 10,000', 'count not
    known') with how the data was held; suspected exposure is hatched, protected data dotted.

    The count axis is logarithmic with plain ticks (1, 10, 100, 1K, …): real breaches put a
    220,000 card count beside 146 million names, and on a linear axis the small bar vanishes.
    A log bar's length is not proportional, so every bar also carries its figure as text, and the
    axis title says 'log scale'. A row whose count is not known is a marker at the axis start
    labelled 'count not known': no length, so no invented number."""
    figure = go.Figure()
    if data_types.empty:
        return _empty(figure, "Exposed data types by sensitivity tier", "No exposed data types recorded yet")
    data = data_types.copy()
    if "figure" not in data:
        data["figure"] = [Figure.from_count(_int_or_none(c), str(k) if not _missing(k) else "exact")
                          for c, k in zip(data["count"], data.get("count_kind", [None] * len(data)))]
    data["protection"] = data["protection"].fillna("plain") if "protection" in data else "plain"
    populations = list(dict.fromkeys(data["population"])) if "population" in data else []
    units = list(dict.fromkeys(data["unit"])) if "unit" in data else []
    several = len(populations) > 1
    data["label"] = [f"{_hover_text(n, 60)} · {_hover_text(p, 40)}" if several else _hover_text(n, 60)
                     for n, p in zip(data["name"], data["population"] if several else data["name"])]
    # object dtype: a count that is not known stays None (never NaN, never 0)
    data["point"] = pd.Series([f.point if isinstance(f, Figure) else _int_or_none(c)
                               for f, c in zip(data["figure"], data["count"])], index=data.index, dtype=object)
    data["drawn"] = [p is not None and p > 0 for p in data["point"]]
    data["sort_point"] = [-1 if p is None else p for p in data["point"]]
    data = data.sort_values(["tier_rank", "sort_point", "label"], ascending=[False, True, False], kind="stable")
    unit_of = (lambda row: row.unit) if len(units) > 1 else (lambda row: "")
    data["text"] = [
        row.figure.describe(unit_of(row)) + (f" · {row.protection}" if row.protection != "plain" else "")
        + (" · suspected" if row.status == "suspected" else "") for row in data.itertuples()]
    data["hover"] = [
        "<br>".join(filter(None, [
            f"<b>{row.label}</b>",
            _hover_text(row.figure.describe(row.unit if "unit" in data else "customers"), 160),
            f"{_hover_text(row.tier_name)} · {row.status}",
            _hover_text(PROTECTION_WORDS.get(row.protection, row.protection)).capitalize()]))
        for row in data.itertuples()]
    data["pattern"] = [_pattern(s, p) for s, p in zip(data["status"], data["protection"])]
    known = [int(p) for p in data.loc[data["drawn"], "point"]] or [1]
    biggest = max(known)
    # The axis starts a decade below the smallest count (at 1 at the lowest), so that 289,000
    # and 2.1M do not both look "nearly full"; a row with no count sits at that start.
    floor = 10 ** max(0, math.floor(math.log10(min(known))) - 1)
    seen_tiers: set[str] = set()
    for (rank, tier, tier_name), rows in data.groupby(["tier_rank", "tier", "tier_name"], sort=True):
        colour = TIER_COLOURS.get(tier, TIER_COLOURS["unknown"])
        bars, stubs = rows[rows["drawn"]], rows[~rows["drawn"]]
        if not bars.empty:
            figure.add_trace(go.Bar(
                x=[int(p) for p in bars["point"]], y=bars["label"], orientation="h", name=_hover_text(tier_name),
                legendgroup=str(tier), showlegend=tier not in seen_tiers, legendrank=int(rank),
                text=bars["text"].map(_hover_text).tolist(), textposition="auto", insidetextanchor="end",
                cliponaxis=False, customdata=bars[["hover"]].to_numpy(),
                marker=dict(color=colour, pattern=dict(shape=bars["pattern"].tolist(), fgcolor="white",
                                                       fgopacity=0.5, solidity=0.25)),
                hovertemplate="%{customdata[0]}<extra></extra>"))
            seen_tiers.add(tier)
        if not stubs.empty:
            figure.add_trace(go.Scatter(
                x=[floor] * len(stubs), y=stubs["label"], mode="markers+text", name=_hover_text(tier_name),
                legendgroup=str(tier), showlegend=tier not in seen_tiers, legendrank=int(rank),
                text=stubs["text"].map(_hover_text).tolist(), textposition="middle right", cliponaxis=False,
                marker=dict(symbol="line-ns-open", size=14, color=colour, line=dict(width=3, color=colour)),
                customdata=stubs[["hover"]].to_numpy(), hovertemplate="%{customdata[0]}<extra></extra>"))
            seen_tiers.add(tier)
    patterns = [p for p in ("/", ".", "x") if p in set(data["pattern"])]
    key = "<br><sup>" + " · ".join(_PATTERN_KEY[p] for p in patterns) + "</sup>" if patterns else ""
    top = math.log10(biggest) + 1.3  # room for the text beside the longest bar
    ticks = [(v, t) for v, t in _LOG_TICKS if floor <= v <= 10 ** top]
    unit_title = units[0] if len(units) == 1 else "individuals or records" if units else "customers"
    figure.update_layout(title="Exposed data types by sensitivity tier", barmode="overlay",
                         yaxis=dict(categoryorder="array", categoryarray=data["label"].tolist()),
                         legend=dict(title_text="Tier", traceorder="normal"),
                         **{**_LAYOUT, "height": max(280, 30 * len(data) + 120),
                            "margin": dict(l=10, r=10, t=40, b=10)})
    figure.update_xaxes(type="log", range=[math.log10(floor * 0.8), top], tickvals=[v for v, _ in ticks],
                        ticktext=[t for _, t in ticks], title_text=f"{unit_title} (log scale: each step ×10){key}")
    return figure


# ---------------------------------------------------------------- timeline

KIND_ORDER = [kind.value for kind in EventKind]
_KIND_PALETTE = {
    "intrusion": "#7f1d1d", "detection": "#b91c1c", "containment": "#c2410c", "remediation": "#15803d",
    "forensic finding": "#7e22ce", "scope revision": "#1d4ed8", "decision": "#0f766e", "legal": "#a16207",
    "regulator": "#92400e", "law enforcement": "#334155", "communication": "#db2777",
    "ransom or extortion contact": "#4c0519", "other": "#6b7280",
}
KIND_COLOURS = {kind: _KIND_PALETTE.get(kind, "#6b7280") for kind in KIND_ORDER}
SPAN_LANE, DISCLOSURE_LANE = "milestone spans", "disclosure"
# (label, start field, end field, colour, lane): the response chain shares one lane; the
# announcement span overlaps it, so it has its own.
SPANS = (
    ("Dwell time", "intrusion_started_at", "detected_at", "#7f1d1d", SPAN_LANE),
    ("Containing", "detected_at", "contained_at", "#c2410c", SPAN_LANE),
    ("Until first notice", "contained_at", "first_notice_at", "#db2777", SPAN_LANE),
    ("Detection to announcement", "detected_at", "public_announced_at", "#0f766e", DISCLOSURE_LANE),
)
# Disclosure milestones marked as points on the disclosure lane.
DISCLOSURE_POINTS = (("First public announcement", "public_announced_at"),
                     ("First customer notice", "first_notice_at"),
                     ("First regulator notified", "regulator_first_notified_at"))
LEAD_IN = pd.Timedelta(days=3)  # the default view starts this long before detection


def incident_timeline(events: pd.DataFrame, milestones: dict, history: pd.DataFrame, *, zone: str = "UTC",
                      precisions: dict | None = None) -> go.Figure:
    """Lanes by kind (events as points, superseded hollow, retracted crossed; the lane names are
    on the axis, not repeated in the legend), the milestone spans as bars on top (dotted where an
    end is known only to the day, month or approximately), and each population's figure as a step
    line in a panel below, for one unit only (individuals if any, else records). Times in `zone`.
    The default view runs from a few days before detection to the last thing recorded, so a long
    dwell time does not squeeze every event to the right; the range slider and 'all' show it all."""
    from plotly.subplots import make_subplots

    precisions = precisions or {}
    local_milestones = {field: _local(value, zone) for field, value in (milestones or {}).items()}
    estimate, unit = history, None
    if not history.empty:
        prepared = _prepare_history(history, zone)
        unit = _units_present(prepared)[0]
        estimate = prepared[prepared["unit"] == unit]
    panels = 2 if not estimate.empty else 1
    figure = make_subplots(rows=panels, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                           row_heights=[0.74, 0.26] if panels == 2 else [1.0])
    present = set(events["kind"]) if "kind" in events else set()
    extra_kinds = sorted(k for k in present if k not in KIND_ORDER)
    kinds = [k for k in KIND_ORDER if k in present] + extra_kinds
    span_lanes = []
    moments: list[pd.Timestamp] = []
    for label, start, end, colour, lane in SPANS:
        a, b = local_milestones.get(start), local_milestones.get(end)
        if a is None or b is None:
            continue
        rough = [field for field in (start, end) if precisions.get(field, "exact") != "exact"]
        start_text = moment(a, precisions.get(start, "exact"), zone)
        end_text = moment(b, precisions.get(end, "exact"), zone)
        length = span((b - a).to_pytimedelta(), approximate=bool(rough))
        figure.add_trace(go.Scatter(
            x=[a, b], y=[lane, lane], mode="lines",
            line=dict(color=colour, width=14, dash="dash" if rough else "solid"),
            name=label + (" (approximate)" if rough else ""), legendgroup=f"span: {label}",
            hovertemplate=f"{label}: {length}<br>{start_text} → {end_text}<extra></extra>"), row=1, col=1)
        span_lanes.append(lane)
    for label, field in DISCLOSURE_POINTS:
        at = local_milestones.get(field)
        if at is None:
            continue
        figure.add_trace(go.Scatter(
            x=[at], y=[DISCLOSURE_LANE], mode="markers", name=label, showlegend=False,
            marker=dict(symbol="diamond", size=11, color="#0f766e", line=dict(width=1, color="white")),
            hovertemplate=f"{label}: {moment(at, precisions.get(field, 'exact'), zone)}<extra></extra>"), row=1, col=1)
        span_lanes.append(DISCLOSURE_LANE)
    lanes = [lane for lane in (SPAN_LANE, DISCLOSURE_LANE) if lane in span_lanes] + kinds
    marker_size = 9 if len(events) <= 100 else 6
    for kind in kinds:
        rows = events[events["kind"] == kind] if not events.empty else events
        if rows.empty:
            continue
        occurred = _local_series(rows["occurred_at"], zone)
        moments += list(occurred)
        symbols = rows["state"].map({"superseded": "circle-open", "retracted": "x"}).fillna("circle")
        rough = rows["precision"].fillna("exact") if "precision" in rows else pd.Series("exact", index=rows.index)
        local = [moment(v, p, zone) for v, p in zip(occurred, rough)]
        recorded = _local_series(rows["recorded_at"], zone).map(lambda v: v.strftime("%Y-%m-%d %H:%M %Z"))
        colour = KIND_COLOURS.get(kind, "#6b7280")
        figure.add_trace(go.Scatter(
            x=occurred.tolist(), y=[kind] * len(rows), mode="markers", name=kind, showlegend=False,
            marker=dict(color=colour, size=marker_size, symbol=symbols.tolist(),
                        opacity=0.85 if len(events) <= 100 else 0.55, line=dict(width=1, color=colour)),
            customdata=list(zip(rows["title"].map(_hover_text), local, recorded, rows["recorded_by"].map(_hover_text),
                                rows["state"])),
            hovertemplate=("<b>%{customdata[0]}</b><br>happened %{customdata[1]}<br>recorded %{customdata[2]}"
                           " by %{customdata[3]}<br>%{customdata[4]}<extra></extra>"),
        ), row=1, col=1)
    moments += [m for m in local_milestones.values() if m is not None]
    if panels == 2:
        moments += list(estimate["at"])
        colours = _population_colours(estimate)
        end = max(moments)
        left_out = _add_population_steps(figure, estimate, end=end, colours=colours, row=2, unit=unit, zone=zone,
                                          band=False, unknown_axis=False, legend=True,
                                          name_with_unit=estimate["population_key"].nunique() == 1)
        figure.update_yaxes(title_text=unit, tickformat=",", rangemode="tozero", row=2, col=1)
        note = f"Affected {unit}, per population"
        if left_out:
            note += f" ({left_out} revision{'s' if left_out != 1 else ''} with the count not known: not drawn)"
        figure.add_annotation(text=note, xref="x2 domain", yref="y2 domain", x=0, y=1, xanchor="left",
                              yanchor="bottom", showarrow=False, font=dict(size=11, color="#374151"))
    figure.update_yaxes(categoryorder="array", categoryarray=list(reversed(lanes)), row=1, col=1)
    figure.update_xaxes(rangeslider=dict(visible=True, thickness=0.06), title_text=f"time ({zone})",
                        row=panels, col=1)
    figure.update_xaxes(rangeselector=dict(x=1, xanchor="right", y=1.04, buttons=[
        dict(count=2, label="2 days", step="day", stepmode="backward"),
        dict(count=7, label="week", step="day", stepmode="backward"),
        dict(count=1, label="month", step="month", stepmode="backward"),
        dict(step="all", label="all")]), row=1, col=1)
    detected = local_milestones.get("detected_at")
    if detected is not None and moments and min(moments) < detected - LEAD_IN:
        last = max(max(moments), detected + pd.Timedelta(days=1))
        figure.update_xaxes(range=[detected - LEAD_IN, last + max((last - detected) * 0.03, pd.Timedelta(hours=6))])
    elif len(moments) == 1 or (moments and max(moments) - min(moments) < pd.Timedelta(hours=1)):
        figure.update_xaxes(range=list(_time_range(moments)))
    figure.update_layout(title=f"Incident timeline (times in {zone})",
                         legend=dict(orientation="h", y=-0.42, yanchor="top"),
                         **{**_LAYOUT, "height": 260 + 34 * len(lanes)})
    return figure


# ---------------------------------------------------------------- outreach

FUNNEL_LABELS = {"affected": "Affected", "targeted": "Targeted", "sent": "Sent", "delivered": "Delivered",
                 "replied": "Replied", "bounced": "Bounced", "failed": "Failed to send"}


def outreach_funnel(funnel: pd.DataFrame, *, phase: str) -> go.Figure:
    """Affected -> targeted -> sent -> delivered -> replied, with the bounced and failed branches
    noted in red beside the funnel (with their share of the first step)."""
    stages = funnel[funnel["kind"] == "stage"]
    branches = funnel[funnel["kind"] == "branch"]
    figure = go.Figure()
    if stages["customers"].sum() == 0:
        return _empty(figure, f"{_hover_text(phase, 80)}: no outreach recorded yet", "No outreach recorded yet")
    top = max(int(stages["customers"].max()), 1)
    figure.add_trace(go.Funnel(
        y=[FUNNEL_LABELS[s] for s in stages["step"]], x=stages["customers"], name="customers",
        texttemplate="%{value:,} (%{percentInitial:.0%})", textposition="auto", marker=dict(color="#1d4ed8"),
        hovertemplate="%{y}: %{x:,} customers (%{percentInitial} of the first step)<extra></extra>"))
    figure.update_layout(title=f"{_hover_text(phase, 80)}: outreach funnel", funnelmode="stack", showlegend=False,
                         **{**_LAYOUT, "height": 340})
    if not branches.empty:
        lines = [f"{FUNNEL_LABELS[r.step]}: {int(r.customers):,} ({r.customers / top:.1%})"
                 for r in branches.itertuples()]
        figure.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=1, y=1.08, showarrow=False,
                              align="right", font=dict(color="#b91c1c"), bgcolor="rgba(255,255,255,0.8)")
    return figure


def outreach_over_time(hourly: pd.DataFrame, *, phase: str, target: int = 0, zone: str = "UTC") -> go.Figure:
    """Cumulative customers sent, delivered, unreached and replied, hour by hour (in `zone`)."""
    figure = go.Figure()
    if hourly.empty:
        return _empty(figure, f"{_hover_text(phase, 80)}: no delivery reports imported yet",
                      "No delivery reports imported yet")
    hours = _local_series(hourly["hour"], zone).tolist()
    styles = {"sent": ("Sent", "#64748b"), "delivered": ("Delivered", "#15803d"),
              "unreached": ("Bounced or failed", "#b91c1c"), "replied": ("Replied", "#a16207")}
    for column, (label, colour) in styles.items():
        figure.add_trace(go.Scatter(x=hours, y=hourly[column], mode="lines", name=label,
                                    line=dict(color=colour, shape="hv"),
                                    hovertemplate=f"{label}: %{{y:,}}<extra></extra>"))
    if target:
        figure.add_hline(y=target, line=dict(color="#1d4ed8", dash="dot"),
                         annotation_text=f"to reach: {target:,}", annotation_position="top left")
    figure.update_layout(title=f"{_hover_text(phase, 80)}: customers reached over time (cumulative)",
                         hovermode="x unified",
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    figure.update_yaxes(rangemode="tozero", tickformat=",")
    figure.update_xaxes(title_text=f"hour ({zone})")
    if len(hours) == 1:
        figure.update_xaxes(range=list(_time_range(hours)))
    return figure


def inquiries_vs_capacity(days: pd.DataFrame) -> go.Figure:
    """Calls and mailbox messages per day as stacked bars, the call centre's capacity as a line;
    days over capacity are marked. Days are calendar dates as entered (no time, so no zone)."""
    figure = go.Figure()
    if days.empty:
        return _empty(figure, "No inquiry volumes recorded yet", "No inquiry volumes recorded yet")
    figure.add_trace(go.Bar(x=days["day"], y=days["calls"], name="Calls", marker_color="#1d4ed8",
                            hovertemplate="%{x|%d %b}: %{y:,} calls<extra></extra>"))
    figure.add_trace(go.Bar(x=days["day"], y=days["mailbox"], name="Mailbox", marker_color="#93c5fd",
                            hovertemplate="%{x|%d %b}: %{y:,} messages<extra></extra>"))
    figure.add_trace(go.Scatter(x=days["day"], y=days["call_capacity"], name="Call capacity", mode="lines+markers",
                                line=dict(color="#b91c1c", dash="dash", shape="hvh"),
                                hovertemplate="%{x|%d %b}: capacity %{y:,} calls<extra></extra>"))
    over = days[days["calls"] > days["call_capacity"]]
    if not over.empty:
        figure.add_trace(go.Scatter(x=over["day"], y=over["calls"], mode="markers", name="Calls over capacity",
                                    marker=dict(symbol="triangle-up", size=12, color="#b91c1c"),
                                    hovertemplate="%{x|%d %b}: %{y:,} calls, over capacity<extra></extra>"))
    figure.update_layout(title="Customer inquiries per day against call-centre capacity", barmode="stack",
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    figure.update_yaxes(rangemode="tozero", tickformat=",")
    return figure


# ---------------------------------------------------------------- obligations

_RECIPIENT_LABELS = {
    "regulator": "regulator", "individuals": "individuals", "attorney_general": "attorney general", "media": "media",
    "credit_bureaus": "credit bureaus", "other_authority": "other authority", "internal": "internal",
    "business_partner": "business partner",
}
STATUS_COLOURS = {"late": "#b91c1c", "not due": "#1d4ed8", "in preparation": "#a16207", "filed": "#15803d",
                  "not applicable": "#9ca3af"}


def obligation_deadlines(register: pd.DataFrame, milestones: dict, *, now, zone: str = "UTC") -> go.Figure:
    """Each applicable obligation's clock as a bar from its start to its deadline, coloured by
    status, with detection, awareness and now marked: the deadlines on the incident's timeline,
    in `zone`."""
    data = register[register["due_at"].notna() & register["applicability"].isin(["applies", "may apply"])]
    figure = go.Figure()
    if data.empty:
        return _empty(figure, "No deadlines yet", "No deadlines yet")
    data = data.sort_values("due_at", ascending=False)
    labels = [f"{r.rule_id} → {_RECIPIENT_LABELS.get(r.recipient, r.recipient)}" for r in data.itertuples()]
    for status, rows in data.assign(label=labels).groupby("status", sort=False):
        due = _local_series(rows["due_at"], zone)
        starts = _local_series(rows["clock_started_at"].fillna(rows["due_at"]), zone)
        # Bar length in wall-clock time, so a bar crossing a daylight-saving change still ends
        # at the local due time plotly.js draws.
        lengths = (due.dt.tz_localize(None) - starts.dt.tz_localize(None)).dt.total_seconds() * 1000
        figure.add_trace(go.Bar(
            base=starts.tolist(), x=lengths, y=rows["label"], orientation="h",
            name=status, marker=dict(color=STATUS_COLOURS.get(status, "#6b7280")),
            customdata=list(zip(rows["regime"].map(_hover_text), due.dt.strftime("%Y-%m-%d %H:%M %Z"))),
            hovertemplate="%{y}<br>%{customdata[0]}<br>due %{customdata[1]}<extra></extra>"))
    # Labels on staggered rows: detection and awareness are often hours apart.
    for row, (name, at, colour) in enumerate((("detected", milestones.get("detected_at"), "#7f1d1d"),
                                              ("Legal aware", milestones.get("legal_aware_at"), "#a16207"),
                                              ("now", now, "#111827"))):
        at = _local(at, zone)
        if at is not None:
            figure.add_vline(x=at, line=dict(color=colour, dash="dot"))
            figure.add_annotation(x=at, y=1.01 + 0.045 * row, yref="paper", text=name, showarrow=False,
                                  xanchor="left", font=dict(color=colour, size=11))
    figure.update_layout(title="Notification deadlines on the incident timeline", barmode="overlay",
                         legend=dict(orientation="h", y=-0.22, yanchor="top"),
                         **{**_LAYOUT, "height": max(340, 24 * len(data) + 200),
                            "margin": dict(l=10, r=10, t=80, b=70)})
    figure.update_xaxes(type="date", title_text=f"time ({zone})")
    return figure
