"""The one timeline writer: every domain that puts something on the timeline calls log_event."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.common import as_utc, utcnow
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, Conflict, InvalidInput, NotFound
from breachdash.incidents.models import Incident, TimePrecision
from breachdash.timeline.rules import earliest_moment
from breachdash.timeline.models import EventKind, TimelineEvent, TimelineEventCreate
from breachdash.versioning import changed_at
from breachdash.incidents.models import MILESTONE_FIELDS


def log_event(
    session: Session,
    *,
    incident_id: int,
    kind: EventKind,
    title: str,
    recorded_by: str,
    occurred_at: datetime | None = None,
    detail: str = "",
    systems: list[str] | None = None,
    source_ref: str = "",
    occurred_precision: str = "exact",
    origin: tuple[str, object] | None = None,
    recorded_at: datetime | None = None,
    supersedes_id: int | None = None,
) -> TimelineEvent:
    """Add one event inside the caller's transaction (the caller audits its own action)."""
    now = utcnow()
    event = TimelineEvent(
        incident_id=incident_id,
        occurred_at=as_utc(occurred_at) if occurred_at else now,
        occurred_precision=occurred_precision,
        recorded_at=as_utc(recorded_at) if recorded_at else now,
        kind=EventKind(kind).value,
        title=title[:300],
        detail=detail,
        systems=list(systems or []),
        source_ref=source_ref,
        recorded_by=recorded_by,
        origin_type=origin[0] if origin else None,
        origin_ref=str(origin[1]) if origin else None,
        supersedes_id=supersedes_id,
    )
    session.add(event)
    session.flush()
    return event


# Clocks differ a little between laptops and servers; beyond this an event "in the future" is a mistake.
MAX_CLOCK_SKEW = timedelta(minutes=5)


MAX_SYSTEMS = 50
MAX_REASON_CHARS = 2_000


def _check_reason(reason: str) -> None:
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput.single("reason", f"at most {MAX_REASON_CHARS:,} characters")


def _validated_event(event_in: TimelineEventCreate | dict) -> TimelineEventCreate:
    event_in = validate_input(TimelineEventCreate, event_in)
    if event_in.occurred_at.tzinfo is None:
        raise InvalidInput.single("occurred_at", "needs a time zone")
    if event_in.occurred_at - utcnow() > MAX_CLOCK_SKEW:
        raise InvalidInput.single("occurred_at", "is in the future")
    if event_in.occurred_precision not in {p.value for p in TimePrecision}:
        raise InvalidInput.single("occurred_precision", f"unknown precision {event_in.occurred_precision!r}")
    event_in.systems = [s.strip() for s in event_in.systems if s.strip()]
    if any(len(s) > 200 for s in event_in.systems):
        raise InvalidInput.single("systems", "a system name is longer than 200 characters")
    if len(event_in.systems) > MAX_SYSTEMS:
        raise InvalidInput.single("systems", f"{len(event_in.systems):,} systems; at most {MAX_SYSTEMS} per entry")
    if not event_in.title.strip():
        raise InvalidInput.single("title", "is empty")
    return event_in


def add_event(
    engine: Engine, *, actor: Actor, incident_id: int, event_in: TimelineEventCreate | dict
) -> TimelineEvent:
    """A person's entry on the timeline (architects and Legal)."""
    require(actor, Action.record_timeline_event)
    event_in = _validated_event(event_in)
    with write_session(engine) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"No incident with id {incident_id}.")
        event_in.occurred_at = earliest_moment(event_in.occurred_at, event_in.occurred_precision,
                                               incident.display_timezone)
        event = log_event(session, incident_id=incident_id, kind=event_in.kind, title=event_in.title.strip(),
                          detail=event_in.detail, systems=event_in.systems, source_ref=event_in.source_ref,
                          occurred_at=event_in.occurred_at, occurred_precision=event_in.occurred_precision,
                          recorded_by=actor.email)
        record_audit(session, actor=actor.email, action="timeline.event_added", entity_type="timeline_event",
                     entity_id=event.id, incident_id=incident_id, after=event_in.model_dump(mode="json"))
    return event


def _editable_event(session: Session, event_id: int) -> TimelineEvent:
    event = session.get(TimelineEvent, event_id)
    if event is None:
        raise NotFound(f"No timeline event with id {event_id}.")
    if event.origin_type is not None:
        raise Conflict(f"Event #{event_id} was written automatically ({event.origin_type}); "
                       "correct the record it comes from instead.")
    if event.retracted_at is not None:
        raise Conflict(f"Event #{event_id} was retracted by {event.retracted_by} at {changed_at(event.retracted_at)}; "
                       "it cannot change any more — reload.")
    successor = session.exec(select(TimelineEvent).where(TimelineEvent.supersedes_id == event_id)).first()
    if successor is not None:
        raise Conflict(f"Event #{event_id} was already corrected by {successor.recorded_by} at "
                       f"{changed_at(successor.recorded_at)} (event #{successor.id}) — reload and correct that one.")
    return event


def correct_event(
    engine: Engine, *, actor: Actor, event_id: int, event_in: TimelineEventCreate | dict, reason: str = ""
) -> TimelineEvent:
    """A correction is a new event; the original stays visible, marked superseded."""
    require(actor, Action.record_timeline_event)
    event_in = _validated_event(event_in)
    _check_reason(reason)
    with write_session(engine) as session:
        original = _editable_event(session, event_id)
        zone = session.get(Incident, original.incident_id).display_timezone
        event_in.occurred_at = earliest_moment(event_in.occurred_at, event_in.occurred_precision, zone)
        event = log_event(session, incident_id=original.incident_id, kind=event_in.kind,
                          title=event_in.title.strip(), detail=event_in.detail, systems=event_in.systems,
                          source_ref=event_in.source_ref, occurred_at=event_in.occurred_at,
                          occurred_precision=event_in.occurred_precision, recorded_by=actor.email,
                          supersedes_id=original.id)
        record_audit(session, actor=actor.email, action="timeline.event_corrected", entity_type="timeline_event",
                     entity_id=event.id, incident_id=original.incident_id,
                     before={"id": original.id, "title": original.title, "occurred_at": original.occurred_at},
                     after={**event_in.model_dump(mode="json"), "reason": reason})
    return event


def retract_event(engine: Engine, *, actor: Actor, event_id: int, reason: str) -> TimelineEvent:
    """Withdraw an entry that should not have been made; it stays visible, marked retracted."""
    require(actor, Action.record_timeline_event)
    if not reason.strip():
        raise InvalidInput.single("reason", "say why the entry is retracted")
    _check_reason(reason)
    with write_session(engine) as session:
        event = _editable_event(session, event_id)
        event.retracted_at, event.retracted_by, event.retraction_reason = utcnow(), actor.email, reason.strip()
        session.add(event)
        session.flush()
        record_audit(session, actor=actor.email, action="timeline.event_retracted", entity_type="timeline_event",
                     entity_id=event.id, incident_id=event.incident_id, after={"reason": reason.strip()})
    return event


def timeline_frame(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> pd.DataFrame:
    """Events in happened order, each with when it was recorded, by whom, and its state.

    With `as_known_at`, only what had been recorded by then, in the state it had then: a later
    correction or retraction is not applied (recorded time, not happened time, decides)."""
    require_signed_in(actor)
    with read_session(engine) as session:
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
        if as_known_at is not None:
            query = query.where(TimelineEvent.recorded_at <= as_utc(as_known_at))
        rows = session.exec(query.order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))).all()
    cutoff = as_utc(as_known_at) if as_known_at is not None else None
    superseded_by = {r.supersedes_id: r.id for r in rows if r.supersedes_id is not None}

    def state(row: TimelineEvent) -> str:
        if row.retracted_at is not None and (cutoff is None or row.retracted_at <= cutoff):
            return "retracted"
        if row.id in superseded_by:
            return "superseded"
        return "correction" if row.supersedes_id is not None else "current"

    return pd.DataFrame(
        [{"id": r.id, "occurred_at": r.occurred_at, "precision": r.occurred_precision, "kind": r.kind,
          "title": r.title, "detail": r.detail, "systems": ", ".join(r.systems), "source_ref": r.source_ref,
          "recorded_at": r.recorded_at, "recorded_by": r.recorded_by, "state": state(r),
          "supersedes": r.supersedes_id, "superseded_by": superseded_by.get(r.id),
          "retraction_reason": r.retraction_reason if state(r) == "retracted" else None,
          "automatic": r.origin_type is not None,
          # The rule correct_event/retract_event enforce: only current entries people recorded.
          "editable": r.origin_type is None and state(r) in ("current", "correction")} for r in rows],
        columns=["id", "occurred_at", "precision", "kind", "title", "detail", "systems", "source_ref",
                 "recorded_at", "recorded_by", "state", "supersedes", "superseded_by", "retraction_reason",
                 "automatic", "editable"],
    )


def _milestone_events(session: Session, incident_id: int, as_known_at: datetime) -> list[TimelineEvent]:
    """The milestone events recorded by `as_known_at`, in recording order (the last one for a
    milestone is what was known of it then)."""
    return list(session.exec(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                    TimelineEvent.origin_type == "milestone",
                                    TimelineEvent.recorded_at <= as_utc(as_known_at))
        .order_by(col(TimelineEvent.recorded_at), col(TimelineEvent.id))).all())


def milestones_as_known_at(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> dict[str, datetime | None]:
    """The incident's milestones; with `as_known_at`, as recorded by then (from the milestone
    events, the latest recorded one for each milestone)."""
    require_signed_in(actor)
    with read_session(engine) as session:
        if as_known_at is None:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"No incident with id {incident_id}.")
            return {field: getattr(incident, field) for field in MILESTONE_FIELDS}
        events = _milestone_events(session, incident_id, as_known_at)
    known: dict[str, datetime | None] = {field: None for field in MILESTONE_FIELDS}
    for event in events:
        known[event.origin_ref] = event.occurred_at
    return known


def milestone_precisions_as_known_at(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> dict[str, str]:
    """How well each milestone is known (field -> precision; a field absent is exact), as recorded
    by `as_known_at` if given."""
    require_signed_in(actor)
    with read_session(engine) as session:
        if as_known_at is None:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"No incident with id {incident_id}.")
            return dict(incident.milestone_precisions or {})
        events = _milestone_events(session, incident_id, as_known_at)
    known: dict[str, str] = {}
    for event in events:
        known[event.origin_ref] = event.occurred_precision
    return {field: precision for field, precision in known.items() if precision != "exact"}
