from datetime import date, datetime, time, timedelta, timezone

import pytest

from breachdash.timeline.rules import is_ambiguous, local_to_utc, milestone_durations

UTC = timezone.utc


def test_local_to_utc__plain_time_in_new_york():
    # 09:14 EST (UTC-5) on 18 Nov is 14:14 UTC.
    assert local_to_utc(date(2026, 11, 18), time(9, 14), "America/New_York") == datetime(2026, 11, 18, 14, 14, tzinfo=UTC)


def test_local_to_utc__skipped_hour_on_spring_forward_is_refused():
    # 8 Mar 2026: New York clocks jump from 02:00 to 03:00; 02:30 never happens.
    with pytest.raises(ValueError, match="does not exist in America/New_York"):
        local_to_utc(date(2026, 3, 8), time(2, 30), "America/New_York")


def test_local_to_utc__repeated_hour_on_fall_back_takes_first_unless_asked():
    # 1 Nov 2026: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    assert is_ambiguous(date(2026, 11, 1), time(1, 30), "America/New_York")
    assert local_to_utc(date(2026, 11, 1), time(1, 30), "America/New_York") == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert local_to_utc(date(2026, 11, 1), time(1, 30), "America/New_York", later_if_ambiguous=True) == \
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_local_to_utc__unknown_zone():
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        local_to_utc(date(2026, 1, 1), time(0, 0), "Mars/Olympus")


def test_milestone_durations__definitions_values_and_odd_order_flagged():
    t = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    durations = {d.name: d for d in milestone_durations({
        "intrusion_started_at": t - timedelta(days=41), "detected_at": t,
        "contained_at": t - timedelta(hours=2), "legal_aware_at": t + timedelta(hours=6), "first_notice_at": None})}
    assert durations["Dwell time"].value == timedelta(days=41) and not durations["Dwell time"].flag
    assert durations["Time to contain"].value == timedelta(hours=-2)
    assert durations["Time to contain"].flag == "contained is before detected"
    assert durations["Time to first notice"].value is None
    assert "Legal's awareness" in durations["Time to first notice"].definition
