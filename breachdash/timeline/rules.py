"""Timeline rules as pure functions: local times to UTC, milestone durations and oddities."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from breachdash.errors import InvalidInput


def local_to_utc(day: date, clock: time, zone: str, *, later_if_ambiguous: bool = False) -> datetime:
    """A wall-clock time in an IANA zone, as UTC. A time that does not exist (the hour skipped
    when clocks go forward) is refused; one that happens twice (clocks go back) takes the first
    occurrence unless `later_if_ambiguous`."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        shown = zone if len(zone) <= 64 else zone[:63] + "…"
        raise ValueError(f"unknown IANA time zone {shown!r}") from None
    naive = datetime.combine(day, clock)
    candidate = naive.replace(tzinfo=tz, fold=1 if later_if_ambiguous else 0)
    # A skipped local time does not survive a round trip through UTC.
    if candidate.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks skipped that hour)")
    return candidate.astimezone(timezone.utc)


def local_input_to_utc(day: date, clock: time, zone: str, *, field: str) -> datetime:
    """local_to_utc for form input: a bad zone or skipped time is an InvalidInput naming the field."""
    try:
        return local_to_utc(day, clock, zone)
    except ValueError as exc:
        raise InvalidInput.single(field, str(exc)) from None


def is_ambiguous(day: date, clock: time, zone: str) -> bool:
    naive = datetime.combine(day, clock)
    tz = ZoneInfo(zone)
    return naive.replace(tzinfo=tz, fold=0).utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset()


def earliest_moment(at: datetime, precision: str, zone: str) -> datetime:
    """The convention for a moment known only to the day or month: its earliest moment in the
    incident's zone (clocks that start from it start no later than the law allows)."""
    local = at.astimezone(ZoneInfo(zone))
    if precision == "day":
        return local_to_utc(local.date(), time(0, 0), zone)
    if precision == "month":
        return local_to_utc(local.date().replace(day=1), time(0, 0), zone)
    return at.astimezone(timezone.utc)


def latest_moment(earliest: datetime, precision: str, zone: str) -> datetime:
    """The last moment a day or month known only as such can mean (its earliest moment is stored)."""
    local = earliest.astimezone(ZoneInfo(zone))
    if precision == "day":
        return local_to_utc(local.date() + timedelta(days=1), time(0, 0), zone)
    if precision == "month":
        first = local.date().replace(day=1)
        following = (first.replace(year=first.year + 1, month=1) if first.month == 12
                     else first.replace(month=first.month + 1))
        return local_to_utc(following, time(0, 0), zone)
    return earliest


@dataclass(frozen=True)
class Duration:
    name: str
    definition: str
    value: timedelta | None
    flag: str = ""  # set when the order of the milestones is odd (allowed, but worth a look)
    approximate: bool = False  # an end is known only to the day, month or roughly
    shortest: timedelta | None = None  # with an imprecise end: the least and most it can be
    longest: timedelta | None = None


DURATIONS = (
    ("Dwell time", "from the start of the intrusion to its detection", "intrusion_started_at", "detected_at"),
    ("Time to contain", "from detection to containment", "detected_at", "contained_at"),
    ("Time to first notice", "from Legal's awareness (when the clocks start) to the first customer notice",
     "legal_aware_at", "first_notice_at"),
    ("Detection to announcement", "from detection to the first public announcement (press release, filing or "
     "website)", "detected_at", "public_announced_at"),
    ("Detection to first customer notice", "from detection to the first notice sent to customers", "detected_at",
     "first_notice_at"),
    ("Detection to first regulator notice", "from detection to the first regulator notified", "detected_at",
     "regulator_first_notified_at"),
)


def milestone_durations(milestones: dict[str, datetime | None],
                        precisions: dict[str, str] | None = None, zone: str = "UTC") -> list[Duration]:
    """Each derived duration with its definition; None while either end is unknown. A negative
    span is kept and flagged (real timelines can be odd) rather than hidden. A span with an end
    known only to the day or month is approximate, with the least and most it can be."""
    precisions = precisions or {}
    out = []
    for name, definition, start, end in DURATIONS:
        a, b = milestones.get(start), milestones.get(end)
        value = (b - a) if a is not None and b is not None else None
        flag = f"{end.replace('_at', '').replace('_', ' ')} is before {start.replace('_at', '').replace('_', ' ')}" \
            if value is not None and value < timedelta(0) else ""
        start_precision, end_precision = precisions.get(start, "exact"), precisions.get(end, "exact")
        approximate = start_precision != "exact" or end_precision != "exact"
        shortest = longest = None
        if value is not None and approximate:
            shortest = b - latest_moment(a, start_precision, zone)
            longest = latest_moment(b, end_precision, zone) - a
        out.append(Duration(name, definition, value, flag, approximate, shortest, longest))
    return out
