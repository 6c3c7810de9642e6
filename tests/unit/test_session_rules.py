from datetime import datetime, timedelta, timezone

from breachdash.auth.rules import session_ended_because

T0 = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
LIMITS = {"max_age": timedelta(hours=12), "idle_timeout": timedelta(minutes=30)}


def test_session_ended_because__live_within_both_limits():
    assert session_ended_because(created_at=T0, last_seen_at=T0 + timedelta(hours=11), now=T0 + timedelta(hours=11, minutes=29), **LIMITS) is None


def test_session_ended_because__idle():
    assert session_ended_because(created_at=T0, last_seen_at=T0, now=T0 + timedelta(minutes=30), **LIMITS) == "unused for more than 30 minutes"


def test_session_ended_because__absolute_lifetime_even_when_busy():
    assert session_ended_because(created_at=T0, last_seen_at=T0 + timedelta(hours=12), now=T0 + timedelta(hours=12), **LIMITS) == "signed in more than 12 hours ago"
