"""Chart builders are pure: known frames in, the right traces out."""
from datetime import datetime, timedelta, timezone

import pandas as pd

from breachdash import charts

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _history():
    return pd.DataFrame({
        "seq": [1, 2, 3], "recorded_at": [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)],
        "recorded_by": ["a@x.example"] * 3, "low": [10, 90, 95], "best": [20, 100, 98], "high": [30, 110, 101],
        "unit": ["records", "individuals", "individuals"], "method": ["m", "m", "<b>x</b>"],
        "reason": ["", "why", "w" * 500],
    })


def test_estimate_trend__draws_one_unit_only_with_band_and_hover():
    figure = charts.estimate_trend(_history(), unit="individuals")
    best = figure.data[-1]
    assert list(best.y) == [100, 98]
    assert [list(t.y) for t in figure.data[:2]] == [[110, 101], [90, 95]]
    assert "why:" in best.hovertemplate and "method:" in best.hovertemplate
    reasons = [row[4] for row in best.customdata]
    assert len(reasons[1]) <= 120 and reasons[1].endswith("…")
    assert "&lt;b&gt;" in best.customdata[1][5]


def test_estimate_trend__single_point_gets_a_readable_range():
    figure = charts.estimate_trend(_history(), unit="records")
    low, high = figure.layout.xaxis.range
    assert pd.Timestamp(high) - pd.Timestamp(low) == pd.Timedelta(days=2)


def test_exposure_by_type__one_trace_per_tier_and_status_financial_first():
    types = pd.DataFrame({
        "name": ["Payment card numbers", "Names", "Bank account numbers"],
        "tier": ["financial", "identity", "financial"], "tier_name": ["Financial", "Identity", "Financial"],
        "tier_rank": [1, 6, 1], "count": [5, 50, 2], "status": ["confirmed", "confirmed", "suspected"]})
    figure = charts.exposure_by_type(types)
    names = sorted(trace.name for trace in figure.data)
    assert names == ["Financial · confirmed", "Financial · suspected", "Identity · confirmed"]
    suspected = next(t for t in figure.data if t.name == "Financial · suspected")
    assert suspected.marker.pattern.shape == "/"
    assert list(figure.layout.yaxis.categoryarray)[-1] in ("Payment card numbers", "Bank account numbers")


def test_exposure_heatmap__rows_by_sensitivity_columns_by_size():
    cells = pd.DataFrame({
        "name": ["Names", "Names", "Payment card numbers"], "tier_rank": [6, 6, 1],
        "region": ["DE", "US-CA", "US-CA"], "count": [5, 9, 3]})
    figure = charts.exposure_heatmap(cells)
    heat = figure.data[0]
    assert list(heat.y) == ["Payment card numbers", "Names"]
    assert list(heat.x) == ["US-CA", "DE"]
    assert heat.z.tolist() == [[3, 0], [9, 5]]


def _events(count):
    kinds = ["detection", "containment", "legal"]
    return pd.DataFrame({
        "id": range(count), "occurred_at": [pd.Timestamp(T0) + pd.Timedelta(hours=i) for i in range(count)],
        "recorded_at": [pd.Timestamp(T0) + pd.Timedelta(hours=i + 1) for i in range(count)],
        "kind": [kinds[i % 3] for i in range(count)], "title": [f"e{i}" for i in range(count)],
        "recorded_by": ["a@x.example"] * count,
        "state": ["superseded" if i == 0 else "retracted" if i == 1 else "current" for i in range(count)]})


def test_incident_timeline__lanes_spans_markers_and_estimate_panel():
    milestones = {"intrusion_started_at": T0 - timedelta(days=10), "detected_at": T0,
                  "contained_at": T0 + timedelta(days=1), "first_notice_at": None}
    figure = charts.incident_timeline(_events(6), milestones, _history(), zone="America/New_York")
    names = [t.name for t in figure.data]
    assert names[:2] == ["Dwell time", "Containing"]  # no first notice yet: no third span
    detection = next(t for t in figure.data if t.name == "detection")
    assert list(detection.marker.symbol) == ["circle-open", "circle"]
    assert next(t for t in figure.data if t.name == "containment").marker.symbol[0] == "x"
    assert names[-1] == "best estimate (individuals)" and list(figure.data[-1].y) == [100, 98]
    assert detection.customdata[0][1] == "2026-10-31 20:00 EDT"  # 00:00 UTC, before New York falls back


def test_incident_timeline__500_events_use_smaller_translucent_markers_and_no_empty_panel():
    figure = charts.incident_timeline(_events(500), {}, _history().iloc[:0])
    markers = [t for t in figure.data if t.mode == "markers"]
    assert sum(len(t.x) for t in markers) == 500
    assert all(t.marker.size == 6 and t.marker.opacity < 0.6 for t in markers)
    assert figure.layout.xaxis.rangeslider.visible and "xaxis2" not in figure.layout
