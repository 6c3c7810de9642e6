"""Obligations and their filings. (The applicability engine that derives them is its own piece.)"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.common import as_utc
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, Conflict, InvalidInput, NotFound
from breachdash.obligations.models import Applicability, Obligation, ObligationFiling, ObligationStatus
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update


class ObligationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rule_id: str = Field(min_length=1, max_length=80)
    jurisdiction: str = Field(min_length=1, max_length=40)
    regime: str = Field(min_length=1, max_length=200)
    recipient: str = Field(min_length=1, max_length=60)
    applicability: Applicability = Applicability.applies
    reason: str = Field(default="", max_length=5000)
    clock_started_at: datetime | None = None
    due_at: datetime | None = None


def add_obligation(engine: Engine, *, actor: Actor, incident_id: int, obligation_in: ObligationCreate | dict) -> Obligation:
    require(actor, Action.manage_obligations)
    obligation_in = validate_input(ObligationCreate, obligation_in)
    try:
        for field in ("clock_started_at", "due_at"):
            value = getattr(obligation_in, field)
            if value is not None:
                setattr(obligation_in, field, as_utc(value))
    except ValueError as exc:
        raise InvalidInput.single("due_at", str(exc)) from None
    with write_session(engine) as session:
        if session.exec(select(Obligation.id).where(Obligation.incident_id == incident_id,
                                                   Obligation.rule_id == obligation_in.rule_id)).first():
            raise Conflict(f"The obligation {obligation_in.rule_id} is already tracked for this incident.")
        obligation = Obligation(incident_id=incident_id, updated_by=actor.email,
                                **obligation_in.model_dump(mode="python"))
        obligation.applicability = obligation_in.applicability.value
        session.add(obligation)
        session.flush()
        log_event(session, incident_id=incident_id, kind=EventKind.legal,
                  title=f"Obligation identified: {obligation.regime} → {obligation.recipient}",
                  detail=obligation.reason, recorded_by=actor.email, origin=("obligation", obligation.rule_id))
        record_audit(session, actor=actor.email, action="obligation.added", entity_type="obligation",
                     entity_id=obligation.id, incident_id=incident_id, after=obligation_in.model_dump(mode="json"))
    return obligation


def file_obligation(
    engine: Engine, *, actor: Actor, obligation_id: int, filed_at: datetime, reference: str = "", note: str = "",
    corrects_id: int | None = None,
) -> ObligationFiling:
    """Append a filing; the obligation becomes filed."""
    require(actor, Action.manage_obligations)
    if filed_at.tzinfo is None:
        raise InvalidInput.single("filed_at", "needs a time zone")
    with write_session(engine) as session:
        obligation = session.get(Obligation, obligation_id)
        if obligation is None:
            raise NotFound(f"No obligation with id {obligation_id}.")
        filing = ObligationFiling(obligation_id=obligation_id, filed_at=as_utc(filed_at), filed_by=actor.email,
                                  reference=reference, note=note, corrects_id=corrects_id)
        session.add(filing)
        session.flush()
        apply_versioned_update(session, Obligation, row_id=obligation.id, expected_version=obligation.version,
                               changes={"status": ObligationStatus.filed.value}, actor_email=actor.email)
        log_event(session, incident_id=obligation.incident_id, kind=EventKind.regulator,
                  title=f"Filed: {obligation.regime} → {obligation.recipient}", detail=reference,
                  occurred_at=filing.filed_at, recorded_by=actor.email, origin=("filing", obligation.rule_id))
        record_audit(session, actor=actor.email, action="obligation.filed", entity_type="obligation_filing",
                     entity_id=filing.id, incident_id=obligation.incident_id,
                     after={"rule_id": obligation.rule_id, "filed_at": filing.filed_at, "reference": reference})
    return filing


def upcoming_obligations(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        rows = session.exec(select(Obligation).where(Obligation.incident_id == incident_id)
                            .order_by(col(Obligation.due_at).is_(None), col(Obligation.due_at))).all()
    return pd.DataFrame(
        [{"rule_id": r.rule_id, "jurisdiction": r.jurisdiction, "regime": r.regime, "recipient": r.recipient,
          "applicability": r.applicability, "status": r.status, "due_at": r.due_at, "reason": r.reason}
         for r in rows],
        columns=["rule_id", "jurisdiction", "regime", "recipient", "applicability", "status", "due_at", "reason"],
    )
