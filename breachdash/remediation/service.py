"""Tracked actions: containment, remediation and post-incident work, with owners and due dates."""
from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, parse_role, require, require_signed_in
from breachdash.common import as_utc, utcnow
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, InvalidInput, NotFound
from breachdash.remediation.models import ActionCreate, ActionStatus, RemediationAction
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update

_KIND = {"containment": EventKind.containment, "remediation": EventKind.remediation,
         "post-incident": EventKind.decision}


def add_action(engine: Engine, *, actor: Actor, incident_id: int, action_in: ActionCreate | dict) -> RemediationAction:
    require(actor, Action.manage_actions)
    action_in = validate_input(ActionCreate, action_in)
    try:
        owner = parse_role(action_in.owner_role).value
    except ValueError as exc:
        raise InvalidInput.single("owner_role", str(exc)) from None
    if action_in.due_at is not None and action_in.due_at.tzinfo is None:
        raise InvalidInput.single("due_at", "needs a time zone")
    with write_session(engine) as session:
        item = RemediationAction(incident_id=incident_id, action=action_in.action, category=action_in.category.value,
                                 owner_role=owner, due_at=as_utc(action_in.due_at) if action_in.due_at else None,
                                 created_by=actor.email, updated_by=actor.email)
        session.add(item)
        session.flush()
        record_audit(session, actor=actor.email, action="action.added", entity_type="remediation_action",
                     entity_id=item.id, incident_id=incident_id, after=action_in.model_dump(mode="json"))
    return item


def set_action_status(
    engine: Engine, *, actor: Actor, action_id: int, status: ActionStatus | str, expected_version: int
) -> RemediationAction:
    """Move an action; when it is done it goes on the timeline."""
    require(actor, Action.manage_actions)
    try:
        status = ActionStatus(status)
    except ValueError:
        raise InvalidInput.single("status", f"unknown status {status!r}") from None
    with write_session(engine) as session:
        item = session.get(RemediationAction, action_id)
        if item is None:
            raise NotFound(f"No action with id {action_id}.")
        before = {"status": item.status, "done_at": item.done_at}
        done = status == ActionStatus.done
        changes = {"status": status.value, "done_at": utcnow() if done else None, "done_by": actor.email if done else None}
        item = apply_versioned_update(session, RemediationAction, row_id=action_id, expected_version=expected_version,
                                      changes=changes, actor_email=actor.email)
        if done and before["status"] != ActionStatus.done:
            log_event(session, incident_id=item.incident_id, kind=_KIND[item.category], title=f"Done: {item.action}",
                      occurred_at=item.done_at, recorded_by=actor.email, origin=("action", item.id))
        record_audit(session, actor=actor.email, action="action.status_set", entity_type="remediation_action",
                     entity_id=item.id, incident_id=item.incident_id, before=before,
                     after={"status": item.status, "done_at": item.done_at})
    return item


def actions_frame(engine: Engine, *, actor: Actor | None, incident_id: int, open_only: bool = False) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        query = select(RemediationAction).where(RemediationAction.incident_id == incident_id)
        if open_only:
            query = query.where(RemediationAction.status != ActionStatus.done.value)
        rows = session.exec(query.order_by(col(RemediationAction.due_at).is_(None), col(RemediationAction.due_at),
                                           col(RemediationAction.id))).all()
    return pd.DataFrame(
        [{"id": r.id, "action": r.action, "category": r.category, "owner_role": r.owner_role, "status": r.status,
          "due_at": r.due_at, "done_at": r.done_at, "done_by": r.done_by, "version": r.version} for r in rows],
        columns=["id", "action", "category", "owner_role", "status", "due_at", "done_at", "done_by", "version"],
    )
