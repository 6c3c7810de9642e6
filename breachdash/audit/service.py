"""The one audit writer, and the verifier of the chain and of the rows it vouches for."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import event as sa_event
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from breachdash.audit import digests as row_digests
from breachdash.audit.models import AuditEvent
from breachdash.audit.rules import (
    GENESIS_HASH, KEYED, SEAL_ACTION, ChainBreak, ChainWalk, canonical_json, describe_event, first_break,
    keyed_chain_hash, seal_content,
)
from breachdash.auth.rules import SYSTEM_EMAIL, Action, Actor, require
from breachdash.common import utcnow
from breachdash.config import AuditKey, load_audit_key
from breachdash.db import read_session, write_session
from breachdash.errors import AuditKeyMissing, Conflict
from breachdash.config import DEVELOPMENT_AUDIT_KEY

EVENTS = "breachdash_audit_events"  # this transaction's audit events, in order (session.info)


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
    commit, so concurrent writers cannot fork the chain. The event is keyed (HMAC-SHA256 with the
    audit key); an unkeyed prefix left by an older version is sealed first. At commit the
    transaction's events get the digests of the covered rows it wrote (audit/digests.py) and are
    hashed again, in order.
    """
    key = load_audit_key()
    session.flush()
    head = session.exec(select(AuditEvent.id, AuditEvent.hash, AuditEvent.hash_alg)
                        .order_by(col(AuditEvent.id).desc()).limit(1)).first()
    prev_hash = head.hash if head else GENESIS_HASH
    if head is not None and head.hash_alg != KEYED:
        prev_hash = _append_seal(session, key, head_id=head.id, head_hash=head.hash).hash
    return _append(session, key, prev_hash=prev_hash, actor=actor, action=action, entity_type=entity_type,
                   entity_id=str(entity_id), incident_id=incident_id, before_json=canonical_json(before),
                   after_json=canonical_json(after), digests={})


def _append(session: Session, key: AuditKey, *, prev_hash: str, digests: dict, **fields) -> AuditEvent:
    event = AuditEvent(occurred_at=utcnow(), prev_hash=prev_hash, hash="", hash_alg=KEYED,
                       row_digests=canonical_json(digests), **fields)
    event.hash = _keyed_hash(key, event)
    session.add(event)
    session.flush()
    session.info.setdefault(EVENTS, []).append(event)  # digested and hashed again at commit
    return event


def _keyed_hash(key: AuditKey, event: AuditEvent) -> str:
    return keyed_chain_hash(key=key.secret, prev_hash=event.prev_hash, occurred_at=event.occurred_at,
                            actor=event.actor, action=event.action, entity_type=event.entity_type,
                            entity_id=event.entity_id, incident_id=event.incident_id, before_json=event.before_json,
                            after_json=event.after_json, row_digests=event.row_digests)


def _append_seal(session: Session, key: AuditKey, *, head_id: int, head_hash: str) -> AuditEvent:
    """The first keyed event after an unkeyed prefix: how many unkeyed events there are and the last
    one's hash, under the key, with the digests of every covered row as it is at this moment (the
    rows from before the key were never digested; from here on their changes are checked)."""
    count = session.exec(select(func.count()).select_from(AuditEvent)).one()
    connection = session.connection()
    snapshot = {k: d for name in row_digests.COVERED_TABLES if row_digests.table(name) is not None
                for k, d in row_digests.all_digests(connection, name)}
    return _append(session, key, prev_hash=head_hash, actor=SYSTEM_EMAIL, action=SEAL_ACTION,
                   entity_type="audit_chain", entity_id=str(head_id), incident_id=None, before_json="null",
                   after_json=canonical_json(seal_content(unkeyed_events=count, unkeyed_head_id=head_id,
                                                          unkeyed_head=head_hash)),
                   digests=snapshot)


@sa_event.listens_for(OrmSession, "before_commit")
def _finish_transaction_events(session) -> None:
    """before_commit: put the digests of the rows this transaction wrote into its events, then
    hash them again in order (each event's own row; the last one, every row touched)."""
    events = session.info.pop(EVENTS, None)
    if not events:
        return
    session.flush()
    key = load_audit_key()
    touched = row_digests.touched_digests(session)
    prev_hash = events[0].prev_hash
    for index, event in enumerate(events):
        digests = json.loads(event.row_digests or "{}")
        if index == len(events) - 1:
            digests.update(touched)
        else:
            target = row_digests.entity_table(event.entity_type)
            own = row_digests.row_key(target[0], event.entity_id) if target else None
            if own in touched:
                digests[own] = touched[own]
        event.row_digests = canonical_json(digests)
        event.prev_hash = prev_hash
        event.hash = _keyed_hash(key, event)
        prev_hash = event.hash
    session.flush()
    row_digests.forget_touched(session)


@sa_event.listens_for(OrmSession, "after_soft_rollback")
def _forget_on_rollback(session, _previous_transaction) -> None:
    session.info.pop(EVENTS, None)
    row_digests.forget_touched(session)


def rekey_audit(engine: Engine) -> AuditEvent | None:
    """Seal an unkeyed chain left by an older version with the configured key (an operator's
    one-time step after upgrading; the first audited write does the same). Refused when the
    unkeyed chain does not verify: sealing must not vouch for an altered history. None when
    there is nothing to seal (empty, or already keyed)."""
    key = load_audit_key()
    with write_session(engine) as session:
        head = session.exec(select(AuditEvent.id, AuditEvent.hash, AuditEvent.hash_alg)
                            .order_by(col(AuditEvent.id).desc()).limit(1)).first()
        if head is None or head.hash_alg == KEYED:
            return None
        walk = ChainWalk()
        broken = first_break(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))), key=key.secret, walk=walk)
        if broken is not None:
            raise Conflict(f"The unkeyed audit chain is broken at {broken}; it was not sealed.")
        return _append_seal(session, key, head_id=head.id, head_hash=head.hash)


@dataclass(frozen=True)
class RowProblem:
    row: str  # "table:id"
    problem: str

    def __str__(self) -> str:
        return f"{self.row.replace(':', ' #', 1)}: {self.problem}"


@dataclass(frozen=True)
class AuditVerification:
    checked: int
    broken: ChainBreak | None
    head_id: int | None = None
    head_hash: str | None = None  # record it elsewhere: removing the newest rows cannot be seen from inside
    head_alg: str | None = None
    unkeyed: int = 0
    keyed_from: int | None = None
    sealed: bool = True
    expected_head: str | None = None
    expected_head_id: int | None = None
    rows_checked: dict[str, int] = field(default_factory=dict)
    row_problems: list[RowProblem] = field(default_factory=list)
    key_source: str | None = None
    development_key: bool = False
    key_missing: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """Every reason the trail cannot be trusted, most basic first (empty when it verifies)."""
        found = []
        if self.broken is not None:
            found.append(f"the chain is broken at {self.broken}")
            if self.key_missing:
                found.append(self.key_missing)
        elif not self.sealed:
            found.append(f"all {self.unkeyed} events are unkeyed (plain SHA-256, recomputable by anyone) and no "
                         "keyed seal follows them: run `python -m breachdash rekey-audit` once after upgrading; "
                         "if this chain was keyed before, its keyed events were removed or rewritten")
        if self.expected_head is not None and self.expected_head_id is None:
            found.append(f"the head kept elsewhere ({self.expected_head}) is not in the chain: events from it on "
                         "were removed, or the chain was rewritten")
        if self.row_problems:
            found.append(f"{len(self.row_problems)} data row(s) differ from what the audit trail recorded")
        return found


def verify_chain(engine: Engine, *, expect_head: str | None = None) -> AuditVerification:
    """Stream the chain in id order and report the first broken link, if any; then, when the chain
    is keyed and intact, re-read every covered data row and compare it with the digest in the latest
    keyed event that recorded it. `expect_head`: a head hash kept elsewhere, which must still be in
    the chain (the chain may have grown since)."""
    try:
        key, key_missing = load_audit_key(), None
    except AuditKeyMissing as exc:
        key, key_missing = None, str(exc)
    walk = ChainWalk(look_for=expect_head.strip().lower() if expect_head else None)
    with read_session(engine) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id)).execution_options(yield_per=2000))
        broken = first_break(rows, key=key.secret if key else None, walk=walk)
        if broken is not None and key is not None and not key.development:
            broken = _with_key_hint(session, broken)
        checked_rows, problems = {}, []
        if broken is None and walk.keyed_from is not None:
            checked_rows, problems = _check_rows(session.connection(), walk)
    return AuditVerification(
        checked=walk.checked, broken=broken, head_id=walk.head_id, head_hash=walk.head_hash, head_alg=walk.head_alg,
        unkeyed=walk.unkeyed, keyed_from=walk.keyed_from, sealed=walk.sealed, expected_head=walk.look_for,
        expected_head_id=walk.found_id, rows_checked=checked_rows, row_problems=problems,
        key_source=key.source if key else None, development_key=bool(key and key.development),
        key_missing=key_missing)


def _with_key_hint(session: Session, broken: ChainBreak) -> ChainBreak:
    """A chain that fails under the configured key but checks under the development key was
    written by a demo or test setup; say so rather than only 'altered'."""
    row = session.get(AuditEvent, broken.event_id)
    if row is None or row.hash_alg != KEYED:
        return broken
    if keyed_chain_hash(key=DEVELOPMENT_AUDIT_KEY.encode("utf-8"), prev_hash=row.prev_hash,
                        occurred_at=row.occurred_at, actor=row.actor, action=row.action,
                        entity_type=row.entity_type, entity_id=row.entity_id, incident_id=row.incident_id,
                        before_json=row.before_json, after_json=row.after_json,
                        row_digests=row.row_digests) == row.hash:
        return ChainBreak(broken.event_id, "it was keyed with the published development key "
                                           "(BREACHDASH_AUDIT_DEV_KEY), not the configured one")
    return broken


def _check_rows(connection, walk: ChainWalk) -> tuple[dict[str, int], list[RowProblem]]:
    counts: dict[str, int] = {}
    problems: list[RowProblem] = []
    recorded_by_table: dict[str, dict[str, tuple[str | None, int]]] = {}
    for name, recorded in walk.digests.items():
        recorded_by_table.setdefault(name.split(":", 1)[0], {})[name] = recorded
    for table_name in row_digests.COVERED_TABLES:
        if row_digests.table(table_name) is None:
            continue
        recorded = recorded_by_table.pop(table_name, {})
        seen = 0
        for name, digest in row_digests.all_digests(connection, table_name):
            seen += 1
            entry = recorded.pop(name, None)
            if entry is None:
                problems.append(RowProblem(name, "no audit event in the chain recorded this row (inserted outside breachdash, "
                                                 "or the event that wrote it was removed)"))
            elif entry[0] is None:
                problems.append(RowProblem(name, f"audit event #{entry[1]} recorded it deleted, yet it is there"))
            elif entry[0] != digest:
                problems.append(RowProblem(name, f"its content differs from what audit event #{entry[1]} recorded "
                                                 "(edited outside breachdash)"))
        counts[table_name] = seen
        for name, (digest, event_id) in sorted(recorded.items()):
            if digest is not None:
                problems.append(RowProblem(name, f"audit event #{event_id} recorded it, and it is gone "
                                                 "(deleted outside breachdash)"))
    return counts, problems


def _recorded(text: str):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


AUDIT_FRAME_COLUMNS = ["#", "when (UTC)", "who", "what", "action", "entity", "before", "after", "hash", "prev_hash",
                       "hash_alg"]


def audit_frame(engine: Engine, *, actor: Actor, incident_id: int | None = None, limit: int = 500) -> pd.DataFrame:
    """The newest audit events, for display: each as a sentence ("what"), with the action code,
    the recorded values (JSON text) and the full hashes for whoever opens the detail."""
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
                "what": describe_event(actor=row.actor, action=row.action, before=_recorded(row.before_json),
                                       after=_recorded(row.after_json)),
                "action": row.action,
                "entity": f"{row.entity_type} {row.entity_id}",
                "before": row.before_json,
                "after": row.after_json,
                "hash": row.hash,
                "prev_hash": row.prev_hash,
                "hash_alg": row.hash_alg,
            }
            for row in rows
        ],
        columns=AUDIT_FRAME_COLUMNS,
    )
