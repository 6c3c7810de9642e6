"""The one timeline writer: every domain that puts something on the timeline calls log_event."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.common import as_utc, utcnow
from breachdash.db import read_session, write_session
from breachdash.errors import InvalidInput, NotFound
from breachdash.incidents.models import Incident, TimePrecision
from breachdash.timeline.models import EventKind, TimelineEvent, TimelineEventCreate


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
    )
    session.add(event)
    session.flush()
    return event


# Clocks differ a little between laptops and servers; beyond this an event "in the future" is a mistake.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def add_event(
    engine: Engine, *, actor: Actor, incident_id: int, event_in: TimelineEventCreate | dict
) -> TimelineEvent:
    """A person's entry on the timeline (architects and Legal)."""
    require(actor, Action.record_timeline_event)
    try:
        event_in = TimelineEventCreate.model_validate(event_in)
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from None
    if event_in.occurred_at.tzinfo is None:
        raise InvalidInput.single("occurred_at", "needs a time zone")
    if event_in.occurred_at - utcnow() > MAX_CLOCK_SKEW:
        raise InvalidInput.single("occurred_at", "is in the future")
    if event_in.occurred_precision not in {p.value for p in TimePrecision}:
        raise InvalidInput.single("occurred_precision", f"unknown precision {event_in.occurred_precision!r}")
    systems = [s.strip() for s in event_in.systems if s.strip()]
    if any(len(s) > 200 for s in systems):
        raise InvalidInput.single("systems", "a system name is longer than 200 characters")
    with write_session(engine) as session:
        if session.get(Incident, incident_id) is None:
            raise NotFound(f"No incident with id {incident_id}.")
        event = log_event(session, incident_id=incident_id, kind=event_in.kind, title=event_in.title.strip(),
                          detail=event_in.detail, systems=systems, source_ref=event_in.source_ref,
                          occurred_at=event_in.occurred_at, occurred_precision=event_in.occurred_precision,
                          recorded_by=actor.email)
        record_audit(session, actor=actor.email, action="timeline.event_added", entity_type="timeline_event",
                     entity_id=event.id, incident_id=incident_id, after=event_in.model_dump(mode="json"))
    return event


def timeline_frame(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Events in happened order, each with when it was recorded and by whom."""
    require_signed_in(actor)
    with read_session(engine) as session:
        rows = session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                            .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))).all()
    return pd.DataFrame(
        [{"id": r.id, "occurred_at": r.occurred_at, "precision": r.occurred_precision, "kind": r.kind,
          "title": r.title, "detail": r.detail, "systems": ", ".join(r.systems), "recorded_at": r.recorded_at,
          "recorded_by": r.recorded_by, "retracted": r.retracted_at is not None} for r in rows],
        columns=["id", "occurred_at", "precision", "kind", "title", "detail", "systems", "recorded_at",
                 "recorded_by", "retracted"],
    )
