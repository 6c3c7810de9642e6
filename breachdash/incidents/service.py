"""Incidents: create, update (versioned), find, list."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, Conflict, InvalidInput, NotFound
from breachdash.common import utcnow
from breachdash.incidents.models import MILESTONE_FIELDS, Incident, IncidentCreate, IncidentUpdate, TimePrecision
from breachdash.flows import after_incident_created, after_milestone, after_sector_flags_change
from breachdash.timeline.models import EventKind
from breachdash.timeline.rules import earliest_moment
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update

MILESTONE_LABELS = {
    "intrusion_started_at": ("Intrusion began", EventKind.intrusion),
    "detected_at": ("Breach detected", EventKind.detection),
    "legal_aware_at": ("Legal became aware (regulatory clocks start)", EventKind.legal),
    "breach_determined_at": ("Determined that a breach of personal data occurred", EventKind.decision),
    "materiality_determined_at": ("Incident determined to be material (SEC)", EventKind.decision),
    "assessment_completed_at": ("Breach assessment completed", EventKind.decision),
    "classified_major_at": ("Classified as a major ICT incident (DORA)", EventKind.decision),
    "contained_at": ("Breach contained", EventKind.containment),
    "remediated_at": ("Remediation complete", EventKind.remediation),
    "first_notice_at": ("First customer notice", EventKind.communication),
    "public_announced_at": ("First public announcement", EventKind.communication),
    "regulator_first_notified_at": ("First regulator notified", EventKind.regulator),
    "closed_at": ("Incident closed", EventKind.other),
}


def incident_snapshot(incident: Incident) -> dict:
    return incident.model_dump(exclude={"id"})


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.single("display_timezone", f"unknown IANA time zone {name!r}") from None


def create_incident(engine: Engine, *, actor: Actor, incident_in: IncidentCreate | dict) -> Incident:
    """Create an incident with its default communication plan (flows.after_incident_created)."""
    require(actor, Action.create_incident)
    incident_in = validate_input(IncidentCreate, incident_in)
    _check_timezone(incident_in.display_timezone)
    with write_session(engine) as session:
        if session.exec(select(Incident.id).where(Incident.slug == incident_in.slug)).first():
            raise Conflict(f"An incident with the slug {incident_in.slug!r} already exists.")
        incident = Incident.model_validate(
            incident_in, update={"created_by": actor.email, "updated_by": actor.email}
        )
        incident.sector_flags = [flag.value for flag in incident_in.sector_flags]
        session.add(incident)
        session.flush()
        record_audit(session, actor=actor.email, action="incident.created", entity_type="incident",
                     entity_id=incident.id, incident_id=incident.id, after=incident_snapshot(incident))
        after_incident_created(session, incident=incident, actor=actor)
    return incident


def update_incident(
    engine: Engine, *, actor: Actor, incident_id: int, expected_version: int, incident_in: IncidentUpdate | dict
) -> Incident:
    """Change the incident's descriptive fields (milestones: set_milestone)."""
    require(actor, Action.update_incident)
    incident_in = validate_input(IncidentUpdate, incident_in)
    changes = incident_in.model_dump(exclude_unset=True, mode="python")
    if "display_timezone" in changes:
        _check_timezone(changes["display_timezone"])
    if "sector_flags" in changes and changes["sector_flags"] is not None:
        changes["sector_flags"] = [str(flag) for flag in changes["sector_flags"]]
    with write_session(engine) as session:
        incident = _get(session, incident_id)
        before = incident_snapshot(incident)
        incident = apply_versioned_update(
            session, Incident, row_id=incident_id, expected_version=expected_version,
            changes=changes, actor_email=actor.email,
        )
        record_audit(session, actor=actor.email, action="incident.updated", entity_type="incident",
                     entity_id=incident_id, incident_id=incident_id, before=before,
                     after=incident_snapshot(incident))
        if before["sector_flags"] != incident.sector_flags:
            after_sector_flags_change(session, incident_id=incident_id, actor_email=actor.email)
    return incident


def set_milestone(
    engine: Engine, *, actor: Actor, incident_id: int, milestone: str, at: datetime | None,
    expected_version: int, precision: str = "exact",
) -> Incident:
    """Set (or clear, with None) one milestone; setting it writes its timeline event."""
    require(actor, Action.set_milestone)
    if milestone not in MILESTONE_FIELDS:
        raise InvalidInput.single("milestone", f"unknown milestone {milestone!r}")
    if at is not None:
        if at.tzinfo is None:
            raise InvalidInput.single(milestone, "needs a time zone")
        if at - utcnow() > timedelta(minutes=5):
            raise InvalidInput.single(milestone, "is in the future")
    if precision not in {p.value for p in TimePrecision}:
        raise InvalidInput.single("precision", f"unknown precision {precision!r}")
    with write_session(engine) as session:
        current = _get(session, incident_id)
        before = incident_snapshot(current)
        if at is not None:
            at = earliest_moment(at, precision, current.display_timezone)
        precisions = {k: v for k, v in (current.milestone_precisions or {}).items() if k != milestone}
        if at is not None and precision != TimePrecision.exact:
            precisions[milestone] = precision
        changes = {milestone: at, "milestone_precisions": precisions}
        incident = apply_versioned_update(session, Incident, row_id=incident_id, expected_version=expected_version,
                                          changes=changes, actor_email=actor.email)
        if at is not None:
            label, kind = MILESTONE_LABELS[milestone]
            log_event(session, incident_id=incident_id, kind=kind, title=label, occurred_at=at,
                      occurred_precision=precision, recorded_by=actor.email, origin=("milestone", milestone))
        record_audit(session, actor=actor.email, action="incident.milestone_set", entity_type="incident",
                     entity_id=incident_id, incident_id=incident_id, before={milestone: before[milestone]},
                     after={milestone: at, "precision": precision})
        after_milestone(session, incident_id=incident_id, actor_email=actor.email, label=MILESTONE_LABELS[milestone][0])
    return incident


def _get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"No incident with id {incident_id}.")
    return incident


def get_incident(engine: Engine, *, actor: Actor | None, incident_id: int) -> Incident:
    require_signed_in(actor)
    with read_session(engine) as session:
        return _get(session, incident_id)


def find_incident(engine: Engine, ref: str) -> Incident:
    """By id or slug, for the command line."""
    with read_session(engine) as session:
        query = select(Incident).where(
            (Incident.slug == ref) | (Incident.id == int(ref)) if ref.isdigit() else Incident.slug == ref
        )
        incident = session.exec(query).first()
    if incident is None:
        raise NotFound(f"No incident with id or slug {ref!r}.")
    return incident


def list_incidents(engine: Engine, *, actor: Actor | None) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        rows = session.exec(select(Incident).order_by(col(Incident.status).desc(), col(Incident.created_at).desc())).all()
    return pd.DataFrame(
        [{"id": r.id, "slug": r.slug, "title": r.title, "company": r.company, "status": r.status,
          "is_demo": r.is_demo} for r in rows],
        columns=["id", "slug", "title", "company", "status", "is_demo"],
    )


def count_incidents(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.exec(select(func.count()).select_from(Incident)).one()
