"""The one audit writer, and the chain verifier."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.models import AuditEvent
from breachdash.audit.rules import GENESIS_HASH, ChainBreak, canonical_json, chain_hash, first_break
from breachdash.auth.rules import Action, Actor, require
from breachdash.common import utcnow
from breachdash.db import read_session

def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: Any,
    incident_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one audit event inside the caller's transaction.

    The caller's session comes from write_session, which holds the database's write lock until
    commit, so concurrent writers cannot fork the chain.
    """
    session.flush()
    last = session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    prev_hash = last or GENESIS_HASH
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        incident_id=incident_id,
        before_json=canonical_json(before),
        after_json=canonical_json(after),
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = chain_hash(
        prev_hash=prev_hash,
        occurred_at=event.occurred_at,
        actor=event.actor,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        incident_id=event.incident_id,
        before_json=event.before_json,
        after_json=event.after_json,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class AuditVerification:
    checked: int
    broken: ChainBreak | None
    head_id: int | None = None
    head_hash: str | None = None  # record it elsewhere: removing the newest rows cannot be seen from inside

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(engine: Engine) -> AuditVerification:
    """Stream the chain in id order and report the first broken link, if any."""
    seen = {"n": 0, "id": None, "hash": None}

    def rows():
        with read_session(engine) as session:
            for row in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)).execution_options(yield_per=2000)):
                seen["n"] += 1
                seen["id"], seen["hash"] = row.id, row.hash
                yield row

    broken = first_break(rows())
    return AuditVerification(checked=seen["n"], broken=broken, head_id=seen["id"], head_hash=seen["hash"])


def audit_frame(engine: Engine, *, actor: Actor, incident_id: int | None = None, limit: int = 500) -> pd.DataFrame:
    """The newest audit events, for display."""
    require(actor, Action.view_audit)
    with read_session(engine) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
        if incident_id is not None:
            query = query.where(AuditEvent.incident_id == incident_id)
        rows = session.exec(query).all()
    return pd.DataFrame(
        [
            {
                "#": row.id,
                "when (UTC)": row.occurred_at,
                "who": row.actor,
                "action": row.action,
                "entity": f"{row.entity_type} {row.entity_id}",
                "before": row.before_json,
                "after": row.after_json,
                "hash": row.hash[:12],
            }
            for row in rows
        ],
        columns=["#", "when (UTC)", "who", "action", "entity", "before", "after", "hash"],
    )
