"""Outreach rules: latest event wins with a defined tie-break (Python reference vs the SQL the
import runs), status -> funnel measures, and the chart builders."""
from datetime import date, datetime, timedelta, timezone

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdash import charts
from breachdash.outreach.rules import (
    STATUS_PRECEDENCE,
    DeliveryStatus,
    funnel_problems,
    latest_status,
    measures_of,
)
from breachdash.outreach.state import events_as_state_rows, latest_per_key_sql

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


def test_latest_status__later_time_wins_then_precedence():
    assert latest_status([("delivered", T0, "a"), ("sent", T0 + timedelta(seconds=1), "b")])[0] == "sent"
    assert latest_status([("delivered", T0, "a"), ("bounced", T0, "b")])[0] == "bounced"
    assert latest_status([("bounced", T0, "a"), ("opened", T0, "b")])[0] == "opened"
    assert latest_status([]) is None


def test_precedence__evidence_of_receipt_beats_failure_beats_receipts():
    order = sorted(STATUS_PRECEDENCE, key=STATUS_PRECEDENCE.get)
    assert order.index("opened") > order.index("bounced") > order.index("delivered") > order.index("sent")
    assert set(order) == {s.value for s in DeliveryStatus}


def test_measures__each_status_counts_towards_its_funnel_steps():
    assert measures_of("replied") == ("targeted", "sent", "delivered", "replied")
    assert measures_of("bounced") == ("targeted", "sent", "bounced")
    assert measures_of("failed") == ("targeted", "failed")
    assert "delivered" not in measures_of("sent")


def test_funnel_problems__contradictions_named():
    assert funnel_problems({"targeted": 10, "sent": 8, "delivered": 7, "bounced": 1, "opened": 3}) == []
    fields = [f for f, _ in funnel_problems({"targeted": 1, "sent": 5, "delivered": 6, "opened": 9, "replied": 9})]
    assert fields == ["sent", "delivered", "opened", "replied"]


events = st.lists(st.tuples(
    st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["email", "sms"]),
    st.sampled_from([s.value for s in DeliveryStatus]), st.integers(0, 4)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(events)
def test_sql_latest_state__equals_the_python_rule(rows):
    """The import's SQL and rules.latest_status agree on status and time for any events."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE TABLE events (customer_id VARCHAR, phase VARCHAR, channel VARCHAR, status VARCHAR, "
                       "event_time TIMESTAMPTZ, vendor_ref VARCHAR)")
    connection.executemany("INSERT INTO events VALUES (?, 'p', ?, ?, ?, ?)",
                           [(c, ch, s, T0 + timedelta(minutes=m), f"v{i}") for i, (c, ch, s, m) in enumerate(rows)])
    got = {(c, ch): (s, t) for c, _p, ch, s, t, *_ in connection.execute(
        latest_per_key_sql(events_as_state_rows("events"))).fetchall()}
    expected = {}
    for customer, channel, status, minutes in rows:
        expected.setdefault((customer, channel), []).append((status, T0 + timedelta(minutes=minutes), ""))
    assert got == {key: latest_status(items)[:2] for key, items in expected.items()}


def test_outreach_funnel__stages_in_order_with_branches_noted():
    funnel = pd.DataFrame({"step": ["affected", "targeted", "sent", "delivered", "replied", "bounced", "failed"],
                           "customers": [1000, 900, 850, 800, 20, 40, 10],
                           "kind": ["stage"] * 5 + ["branch"] * 2, "basis": ["affected list"] + [""] * 6})
    figure = charts.outreach_funnel(funnel, phase="Initial notice")
    assert list(figure.data[0].x) == [1000, 900, 850, 800, 20]
    assert list(figure.data[0].y) == ["Affected", "Targeted", "Sent", "Delivered", "Replied"]
    assert "Bounced: 40" in figure.layout.annotations[0].text
    empty = charts.outreach_funnel(funnel.assign(customers=0), phase="Initial notice")
    assert not empty.data and "no outreach" in empty.layout.title.text


def test_outreach_over_time__cumulative_lines_and_target():
    hourly = pd.DataFrame({"hour": [T0, T0 + timedelta(hours=1)], "sent": [5, 9], "delivered": [3, 8],
                           "unreached": [1, 1], "replied": [0, 2]})
    figure = charts.outreach_over_time(hourly, phase="Initial notice", target=10)
    assert [t.name for t in figure.data] == ["Sent", "Delivered", "Bounced or failed", "Replied"]
    assert list(figure.data[1].y) == [3, 8]
    assert figure.layout.shapes[0].y0 == 10


def test_inquiries_vs_capacity__marks_days_over_capacity():
    days = pd.DataFrame({"day": [date(2026, 11, 6), date(2026, 11, 7)], "calls": [1200, 800], "mailbox": [300, 100],
                         "call_capacity": [1000, 1000], "note": ["", ""]})
    figure = charts.inquiries_vs_capacity(days)
    over = [t for t in figure.data if t.name == "Calls over capacity"][0]
    assert list(over.y) == [1200]
    assert figure.layout.barmode == "stack"
    assert "No inquiry" in charts.inquiries_vs_capacity(days.iloc[0:0]).layout.title.text
