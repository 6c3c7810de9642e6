"""Communication phases, checklists, message versions, sign-offs and the sent log."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field as PydanticField
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from breachdash.audit.service import record_audit
from breachdash.auth.models import Role
from breachdash.auth.rules import PERMISSIONS, Action, Actor, require, require_signed_in
from breachdash.comms.models import (
    ApproverChange,
    ApproverChangeStatus,
    Audience,
    Channel,
    ChecklistItem,
    CommsPhase,
    Decision,
    MessageVersion,
    PhaseStatus,
    SendRecord,
    SignOff,
)
from breachdash.comms.checks import Facts, check_message
from breachdash.comms.policy import (
    approver_change_problem,
    load_policy,
    removal_problem,
    second_signature_problem,
)
from breachdash.comms.rules import (
    ALIGNMENT_PHASE_KEY,
    RevisionFacts,
    SignOffView,
    missing_sign_offs,
    role_label,
    stale_reason,
    transition_problem,
)
from breachdash.common import utcnow
from breachdash.config import DATA_DIR
from breachdash.db import read_session, write_session
from breachdash.errors import (
    validate_input,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyRefused,
    StaleUpdate,
)
from breachdash.incidents.models import Incident
from breachdash.reference import tier_rank
from breachdash.scope.models import ScopeRevision
from breachdash.scope.rules import figure_of
from breachdash.scope.service import scope_snapshot
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update, changed_at, stale_message
from breachdash.reference import data_types as catalogue

MAX_MESSAGE_CHARS = 200_000
MAX_CONTACT_LINE_CHARS = 500


def default_plan() -> dict:
    return json.loads((DATA_DIR / "phase_plan.json").read_text(encoding="utf-8"))


def create_default_plan(session: Session, *, incident: Incident, actor: Actor) -> list[CommsPhase]:
    """Called inside incident creation: the phases and checklists from data/phase_plan.json."""
    phases = []
    for position, spec in enumerate(default_plan()["phases"], start=1):
        phase = CommsPhase(
            incident_id=incident.id, key=spec["key"], name=spec["name"], position=position,
            audience=spec["audience"], channels=spec["channels"], required_roles=spec["required_roles"],
            target_at=incident.created_at + timedelta(hours=spec["target_offset_hours"]),
            updated_by=actor.email,
        )
        session.add(phase)
        session.flush()
        for item_position, item in enumerate(spec["checklist"], start=1):
            session.add(ChecklistItem(phase_id=phase.id, position=item_position, text=item["text"],
                                      owner_role=item["owner_role"], due_at=phase.target_at,
                                      updated_by=actor.email))
        phases.append(phase)
    session.flush()
    record_audit(session, actor=actor.email, action="comms.plan_created", entity_type="incident",
                 entity_id=incident.id, incident_id=incident.id,
                 after={"phases": [p.key for p in phases]})
    return phases


def content_hash(subject: str, body: str) -> str:
    return hashlib.sha256(json.dumps([subject, body], ensure_ascii=False).encode("utf-8")).hexdigest()


def _phase(session: Session, phase_id: int) -> CommsPhase:
    phase = session.get(CommsPhase, phase_id)
    if phase is None:
        raise NotFound(f"No communication phase with id {phase_id}.")
    return phase


def _latest_version(session: Session, phase: CommsPhase) -> MessageVersion | None:
    return session.exec(
        select(MessageVersion).where(MessageVersion.phase_id == phase.id, MessageVersion.audience == phase.audience)
        .order_by(col(MessageVersion.number).desc()).limit(1)
    ).first()


def _revision_facts(session: Session, incident_id: int, seq: int | None,
                    memo: dict[int | None, RevisionFacts | None] | None = None) -> RevisionFacts | None:
    """The scope as it stood after revision `seq` (now, when None). `memo` keeps the facts already
    read within one read (a page's phases share them): the facts now also stand for the latest
    revision's own seq."""
    if memo is not None and seq in memo:
        return memo[seq]
    snapshot = scope_snapshot(session, incident_id, seq)
    facts = None if snapshot is None else RevisionFacts(
        seq=snapshot.seq, figures={f.label: f.figure.describe(f.unit) for f in snapshot.figures},
        data_types=snapshot.data_types)
    if memo is not None:
        memo[seq] = facts
        if seq is None and facts is not None:
            memo[facts.seq] = facts
    return facts


def _sign_off_rows(session: Session, version: MessageVersion) -> list[SignOff]:
    """A version's sign-offs, oldest first (a re-confirmation comes after the approval it renews)."""
    return list(session.exec(select(SignOff).where(SignOff.message_version_id == version.id)
                             .order_by(col(SignOff.signed_at), col(SignOff.id))).all())


def _stale(session: Session, row: SignOff, incident_id: int, now: RevisionFacts | None,
           memo: dict | None = None) -> str | None:
    """Why an approval no longer covers the current facts (None: it does, or it is not an approval)."""
    if row.decision != Decision.approve.value:
        return None
    at_signing = (_revision_facts(session, incident_id, row.facts_revision_seq, memo)
                  if row.facts_revision_seq else None)
    return stale_reason(at_signing, now)


def _sign_off_views(session: Session, version: MessageVersion, incident_id: int,
                    memo: dict | None = None, rows: list[SignOff] | None = None) -> list[SignOffView]:
    """`rows`: the version's sign-offs, oldest first, when already read (else read here)."""
    memo = {} if memo is None else memo
    now = _revision_facts(session, incident_id, None, memo)
    return [SignOffView(r.role, r.signer, r.decision, r.content_sha256, r.signed_at,
                        _stale(session, r, incident_id, now, memo))
            for r in (_sign_off_rows(session, version) if rows is None else rows)]


def _latest_versions(session: Session, phases: list[CommsPhase]) -> dict[int, MessageVersion]:
    """Each phase's latest message version for its audience, in one read."""
    if not phases:
        return {}
    audience = {phase.id: phase.audience for phase in phases}
    latest = (select(MessageVersion.phase_id, MessageVersion.audience,
                     func.max(MessageVersion.number).label("number"))
              .where(col(MessageVersion.phase_id).in_(list(audience)))
              .group_by(MessageVersion.phase_id, MessageVersion.audience).subquery())
    versions = session.exec(select(MessageVersion).join(
        latest, (MessageVersion.phase_id == latest.c.phase_id) & (MessageVersion.audience == latest.c.audience)
        & (MessageVersion.number == latest.c.number))).all()
    return {v.phase_id: v for v in versions if v.audience == audience[v.phase_id]}


def _sign_offs_of(session: Session, versions: list[MessageVersion]) -> dict[int, list[SignOff]]:
    """Every given version's sign-offs, oldest first, in one read."""
    rows: dict[int, list[SignOff]] = {v.id: [] for v in versions}
    if versions:
        for row in session.exec(select(SignOff).where(col(SignOff.message_version_id).in_(list(rows)))
                                .order_by(col(SignOff.signed_at), col(SignOff.id))).all():
            rows[row.message_version_id].append(row)
    return rows


def _stale_approvers(views: list[SignOffView], required: list[str]) -> list[SignOffView]:
    """Required roles whose latest decision on the text is an approval gone stale: each such
    signer may re-confirm the same text against the current facts."""
    latest: dict[str, SignOffView] = {}
    for view in views:
        if view.role in required:
            latest[view.role] = view
    return [v for v in latest.values() if v.decision == Decision.approve.value and v.stale_reason]


def message_facts(session: Session, incident_id: int) -> Facts:
    """What a message is checked against: every population's current figure (and their total where
    it means something), the exposed data types, and earlier revisions' figures."""
    snapshot = scope_snapshot(session, incident_id)
    if snapshot is None:
        return Facts()
    total, _unit = snapshot.total
    current = [f.figure for f in snapshot.figures] + ([total] if total is not None and len(snapshot.figures) > 1
                                                      else [])
    current_seqs = {f.seq for f in snapshot.figures}
    earlier = session.exec(select(ScopeRevision).where(ScopeRevision.incident_id == incident_id)
                           .order_by(col(ScopeRevision.seq))).all()
    return Facts(figures=tuple(current), revision_seq=snapshot.seq, exposed=snapshot.data_types,
                 earlier_points={r.seq: figure_of(r).point for r in earlier
                                 if r.seq not in current_seqs and figure_of(r).point})


def required_roles(phase: CommsPhase) -> list[str]:
    """Who must sign this phase: the plan's roles plus any the approval policy requires (so an
    older or imported plan cannot weaken the policy)."""
    return load_policy().effective_roles(key=phase.key, audience=phase.audience, stored=phase.required_roles)


def _missing(session: Session, phase: CommsPhase, version: MessageVersion | None) -> list[str]:
    return _standing(session, phase, version)[0]


def _standing(session: Session, phase: CommsPhase, version: MessageVersion | None,
              views: list[SignOffView] | None = None, memo: dict | None = None) -> tuple[list[str], list[SignOffView]]:
    """(required roles still missing on the latest text, the stale approvals among them — their
    signers may re-confirm the same text). `memo`: revision facts shared across phases (one read)."""
    if version is None:
        return required_roles(phase), []
    required = required_roles(phase)
    views = _sign_off_views(session, version, phase.incident_id, memo) if views is None else views
    missing = missing_sign_offs(content_sha256=version.content_sha256, required_roles=required, sign_offs=views,
                                different_people=load_policy().different_people)
    return missing, [v for v in _stale_approvers(views, required) if v.role in missing]


def _alignment_done(session: Session, incident_id: int) -> bool:
    status = session.exec(select(CommsPhase.status).where(
        CommsPhase.incident_id == incident_id, CommsPhase.key == ALIGNMENT_PHASE_KEY)).first()
    return status in (PhaseStatus.approved, PhaseStatus.sent, PhaseStatus.done)


def save_message(
    engine: Engine, *, actor: Actor, phase_id: int, subject: str, body: str, base_number: int | None
) -> MessageVersion:
    """Save a draft as a new immutable version (earlier approvals stay bound to earlier text).
    `base_number` is the version the person started from (None: no saved version yet); if
    someone saved a newer one meanwhile, the save is refused with who and when — never a silent
    overwrite of their change."""
    require(actor, Action.draft_message)
    problems = []
    if not body.strip():
        problems.append(("body", "the message is empty"))
    if len(body) > MAX_MESSAGE_CHARS:
        problems.append(("body", f"the message is {len(body):,} characters; the limit is {MAX_MESSAGE_CHARS:,}"))
    if len(subject) > 300:
        problems.append(("subject", "the subject is longer than 300 characters"))
    if problems:
        raise InvalidInput(problems)
    with write_session(engine) as session:
        phase = _phase(session, phase_id)
        previous = _latest_version(session, phase)
        digest = content_hash(subject, body)
        if previous is not None and previous.content_sha256 == digest:
            raise Conflict(f"Version {previous.number} already has exactly this text.")
        if (previous.number if previous else None) != (base_number or None):
            started = f"version {base_number}" if base_number else "no saved version"
            if previous is None:
                raise StaleUpdate(f"Version {base_number} you started from no longer exists — reload.")
            raise StaleUpdate(f"The message was changed by {previous.created_by} at {changed_at(previous.created_at)} "
                              f"(version {previous.number}; you started from {started}) — reload to see it. "
                              "Your text was not saved and is kept.")
        facts = message_facts(session, phase.incident_id)
        checks = check_message(subject, body, facts, customer_facing=phase.audience != "internal")
        version = MessageVersion(
            phase_id=phase.id, audience=phase.audience, number=(previous.number + 1) if previous else 1,
            subject=subject, body=body, content_sha256=digest, facts_revision_seq=facts.revision_seq,
            checks=checks.as_dict(), created_by=actor.email,
        )
        session.add(version)
        session.flush()
        if phase.status == PhaseStatus.not_started:
            apply_versioned_update(session, CommsPhase, row_id=phase.id, expected_version=phase.version,
                                   changes={"status": PhaseStatus.drafting.value}, actor_email=actor.email)
        record_audit(session, actor=actor.email, action="comms.message_saved", entity_type="message_version",
                     entity_id=version.id, incident_id=phase.incident_id,
                     after={"phase": phase.key, "number": version.number, "sha256": digest})
    return version


def sign_off(
    engine: Engine, *, actor: Actor, message_version_id: int, role: Role | str, decision: Decision | str,
    comment: str = "", expected_sha256: str | None = None,
) -> SignOff:
    """Record one role's decision on one exact version of the text.

    A person decides once per version and role — unless the facts changed since: when their
    latest decision for this role is an approval a later scope revision made stale, they may
    decide again on the same text (re-confirm it, or now request changes). The new sign-off binds
    to the same content hash and the current facts revision; the stale one stays as history."""
    require(actor, Action.sign_off)
    return _record_sign_off(engine, actor=actor, message_version_id=message_version_id, role=role,
                            decision=decision, comment=comment, expected_sha256=expected_sha256, reconfirm=False)


def _record_sign_off(
    engine: Engine, *, actor: Actor, message_version_id: int, role: Role | str, decision: Decision | str,
    comment: str, expected_sha256: str | None, reconfirm: bool,
) -> SignOff:
    """The one writer of sign-offs (`reconfirm`: only renewing one's own stale approval)."""
    require(actor, Action.sign_off)
    role, decision = Role(role), Decision(decision)
    if not actor.holds(role):
        raise PermissionDenied(f"{actor.email} does not hold the role {role.label} and cannot sign for it.")
    if len(comment) > 10_000:
        raise InvalidInput.single("comment", "longer than 10,000 characters")
    with write_session(engine) as session:
        version = session.get(MessageVersion, message_version_id)
        if version is None:
            raise NotFound(f"No message version with id {message_version_id}.")
        phase = _phase(session, version.phase_id)
        latest = _latest_version(session, phase)
        if latest.id != version.id:
            raise Conflict(f"Version {version.number} was superseded by version {latest.number}, saved by "
                           f"{latest.created_by} at {changed_at(latest.created_at)} — reload and review the new text.")
        if expected_sha256 is not None and expected_sha256 != version.content_sha256:
            raise Conflict("The text changed since you read it; reload before signing.")
        if role.value not in required_roles(phase):
            raise InvalidInput.single("role", f"{phase.name} does not need a {role.label} sign-off")
        earlier = [r for r in _sign_off_rows(session, version) if r.signer == actor.email]
        existing = [r for r in earlier if r.role == role.value]
        renews, stale = None, None
        if existing:
            renews = existing[-1]
            stale = _stale(session, renews, phase.incident_id, _revision_facts(session, phase.incident_id, None))
            if stale is None:
                raise Conflict(f"{actor.email} already signed version {version.number} as {role.label} "
                               f"({renews.decision}).")
        elif reconfirm:
            raise Conflict(f"{actor.email} has no approval of version {version.number} as {role.label} to re-confirm; "
                           "sign it instead.")
        problem = second_signature_problem(load_policy(), role=role.value, signer=actor.email,
                                           earlier=[(r.signer, r.role) for r in earlier])
        if problem:
            raise PolicyRefused(problem)
        facts_seq = session.exec(select(func.max(ScopeRevision.seq)).where(
            ScopeRevision.incident_id == phase.incident_id)).one()
        record = SignOff(message_version_id=version.id, signer=actor.email, role=role.value,
                         decision=decision.value, comment=comment, content_sha256=version.content_sha256,
                         facts_revision_seq=facts_seq)
        session.add(record)
        session.flush()
        if renews is None:
            verb = "approved" if decision == Decision.approve else "requested changes to"
        else:
            verb = "re-confirmed" if decision == Decision.approve else "withdrew the approval of and requested changes to"
        facts = f" against the facts of scope revision {facts_seq}" if renews is not None and facts_seq else ""
        log_event(session, incident_id=phase.incident_id, kind=EventKind.communication,
                  title=f"{role.label} {verb} {phase.name} v{version.number}{facts}",
                  detail="\n".join(filter(None, [f"The earlier approval had gone stale: {stale}." if stale else "",
                                                  comment])),
                  recorded_by=actor.email,
                  origin=("sign_off", f"{phase.key}:v{version.number}:{role.value}"
                                      + (f":r{facts_seq}" if renews is not None else "")))
        after = {"phase": phase.key, "version": version.number, "role": role.value,
                 "decision": decision.value, "sha256": version.content_sha256, "facts_revision_seq": facts_seq}
        if renews is not None:
            after |= {"renews_sign_off": renews.id, "renewed_facts_revision_seq": renews.facts_revision_seq,
                      "stale_reason": stale}
        record_audit(session, actor=actor.email,
                     action="comms.sign_off_reconfirmed" if renews is not None and decision == Decision.approve
                     else "comms.signed_off",
                     entity_type="sign_off", entity_id=record.id, incident_id=phase.incident_id, after=after)
    return record


def reconfirm_sign_off(engine: Engine, *, actor: Actor, message_version_id: int, role: Role | str,
                       comment: str = "", expected_sha256: str | None = None) -> SignOff:
    """Re-confirm one's stale approval of the same text against the current facts (a new
    approval bound to the same content hash and the latest scope revision)."""
    require(actor, Action.sign_off)
    return _record_sign_off(engine, actor=actor, message_version_id=message_version_id, role=role,
                            decision=Decision.approve, comment=comment, expected_sha256=expected_sha256,
                            reconfirm=True)


def transition_phase(
    engine: Engine, *, actor: Actor, phase_id: int, to_status: PhaseStatus | str, expected_version: int
) -> CommsPhase:
    require(actor, Action.edit_phase_plan)
    target = PhaseStatus(to_status)
    if target == PhaseStatus.sent:
        raise InvalidInput.single("status", "use 'mark sent', which records the version and channels")
    with write_session(engine) as session:
        return _transition(session, actor=actor, phase=_phase(session, phase_id), target=target,
                           expected_version=expected_version)


def _transition(session: Session, *, actor: Actor, phase: CommsPhase, target: PhaseStatus,
                expected_version: int, log: bool = True) -> CommsPhase:
    latest = _latest_version(session, phase)
    missing, stale = _standing(session, phase, latest)
    problem = transition_problem(
        current=PhaseStatus(phase.status), target=target,
        latest_version_number=latest.number if latest else None,
        missing_roles=missing, audience=phase.audience,
        alignment_done=_alignment_done(session, phase.incident_id), stale_roles=[v.role for v in stale],
    )
    if problem:
        raise Conflict(problem)
    before = phase.status
    phase = apply_versioned_update(session, CommsPhase, row_id=phase.id, expected_version=expected_version,
                                   changes={"status": target.value}, actor_email=actor.email)
    if log:
        log_event(session, incident_id=phase.incident_id, kind=EventKind.communication,
                  title=f"{phase.name}: {before} → {target.value}", recorded_by=actor.email,
                  origin=("phase", phase.key))
    record_audit(session, actor=actor.email, action="comms.phase_moved", entity_type="comms_phase",
                 entity_id=phase.id, incident_id=phase.incident_id,
                 before={"status": before}, after={"status": target.value})
    return phase


def mark_sent(
    engine: Engine, *, actor: Actor, phase_id: int, channels: list[str], expected_version: int
) -> list[SendRecord]:
    """Record that the approved version went out, on which channels; the phase becomes sent."""
    require(actor, Action.mark_sent)
    if not channels:
        raise InvalidInput.single("channels", "name at least one channel")
    try:
        channels = [Channel(c).value for c in channels]
    except ValueError as exc:
        raise InvalidInput.single("channels", str(exc)) from None
    with write_session(engine) as session:
        phase = _phase(session, phase_id)
        latest = _latest_version(session, phase)
        unfilled = (latest.checks or {}).get("placeholders", []) if latest else []
        if unfilled:
            raise Conflict(f"blocked: version {latest.number} still has unfilled placeholders "
                           f"({', '.join('{{' + p + '}}' for p in unfilled)})")
        # The sent record below is the timeline entry for this move.
        phase = _transition(session, actor=actor, phase=phase, target=PhaseStatus.sent,
                            expected_version=expected_version, log=False)
        now = utcnow()
        records = [SendRecord(phase_id=phase.id, message_version_id=latest.id, audience=phase.audience,
                              channel=channel, sent_at=now, sent_by=actor.email,
                              open_warnings=list(latest.checks.get("warnings", [])))
                   for channel in channels]
        session.add_all(records)
        session.flush()
        log_event(session, incident_id=phase.incident_id, kind=EventKind.communication,
                  title=f"{phase.name} v{latest.number} sent to {phase.audience} by {', '.join(channels)}",
                  recorded_by=actor.email, origin=("send", f"{phase.key}:v{latest.number}"))
        incident = session.get(Incident, phase.incident_id)
        if phase.audience == "customers" and incident.first_notice_at is None:
            apply_versioned_update(session, Incident, row_id=incident.id, expected_version=incident.version,
                                   changes={"first_notice_at": now}, actor_email=actor.email)
            log_event(session, incident_id=incident.id, kind=EventKind.communication, title="First customer notice",
                      occurred_at=now, recorded_by=actor.email, origin=("milestone", "first_notice_at"))
        record_audit(session, actor=actor.email, action="comms.sent", entity_type="comms_phase",
                     entity_id=phase.id, incident_id=phase.incident_id,
                     after={"version": latest.number, "sha256": latest.content_sha256, "channels": channels})
    return records


def set_checklist_item(
    engine: Engine, *, actor: Actor, item_id: int, done: bool, expected_version: int
) -> ChecklistItem:
    require(actor, Action.edit_checklist)
    with write_session(engine) as session:
        item = session.get(ChecklistItem, item_id)
        if item is None:
            raise NotFound(f"No checklist item with id {item_id}.")
        phase = _phase(session, item.phase_id)
        before = {"done_at": item.done_at, "done_by": item.done_by}
        changes = {"done_at": utcnow(), "done_by": actor.email} if done else {"done_at": None, "done_by": None}
        item = apply_versioned_update(session, ChecklistItem, row_id=item.id, expected_version=expected_version,
                                      changes=changes, actor_email=actor.email)
        record_audit(session, actor=actor.email, action="comms.checklist_item_set", entity_type="checklist_item",
                     entity_id=item.id, incident_id=phase.incident_id, before=before,
                     after={"done_at": item.done_at, "done_by": item.done_by})
    return item


def phase_progress(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """One row per phase: status, checklist done/total, approvals still missing on the latest text."""
    require_signed_in(actor)
    with read_session(engine) as session:
        phases = session.exec(select(CommsPhase).where(CommsPhase.incident_id == incident_id)
                              .order_by(col(CommsPhase.position))).all()
        counts = dict(
            (row[0], (row[1], row[2]))
            for row in session.exec(
                select(ChecklistItem.phase_id, func.count(), func.count(ChecklistItem.done_at))
                .join(CommsPhase, CommsPhase.id == ChecklistItem.phase_id)
                .where(CommsPhase.incident_id == incident_id).group_by(ChecklistItem.phase_id)
            ).all()
        )
        rows = []
        facts: dict = {}  # the scope's facts, read once for every phase's sign-offs
        latest_versions = _latest_versions(session, list(phases))
        sign_offs = _sign_offs_of(session, list(latest_versions.values()))
        for phase in phases:
            latest = latest_versions.get(phase.id)
            views = (_sign_off_views(session, latest, incident_id, facts, sign_offs[latest.id])
                     if latest is not None else None)
            missing, stale = _standing(session, phase, latest, views, memo=facts)
            total, done = counts.get(phase.id, (0, 0))
            rows.append({
                "phase_id": phase.id, "key": phase.key, "phase": phase.name, "position": phase.position,
                "audience": phase.audience, "status": phase.status, "target_at": phase.target_at,
                "checklist_done": done, "checklist_total": total,
                "latest_version": latest.number if latest else None,
                "approvals_missing": ", ".join(role_label(r) for r in missing) if latest else "",
                "reconfirm": ", ".join(role_label(v.role) for v in stale),
                "status_shown": status_shown(phase.status, [v.role for v in stale], missing if latest else []),
                "version": phase.version,
            })
    return pd.DataFrame(rows, columns=["phase_id", "key", "phase", "position", "audience", "status", "target_at",
                                       "checklist_done", "checklist_total", "latest_version",
                                       "approvals_missing", "reconfirm", "status_shown", "version"])


def status_shown(status: str, stale_roles: list[str], missing_roles: list[str]) -> str:
    """The phase's status as a person should read it: an approved phase whose approvals no longer
    all stand says so (it cannot be sent until they are re-confirmed or given)."""
    if status != PhaseStatus.approved or not missing_roles:
        return status
    if stale_roles and set(stale_roles) == set(missing_roles):
        return f"approved — stale: {', '.join(role_label(r) for r in stale_roles)} to re-confirm"
    return f"approved — awaiting {', '.join(role_label(r) for r in missing_roles)}"


# ---------------------------------------------------------------- read side and helpers for the page

def templates() -> list[dict]:
    return json.loads((DATA_DIR / "message_templates.json").read_text(encoding="utf-8"))["templates"]


def fill_template(engine: Engine, *, actor: Actor, incident_id: int, template_key: str,
                  contact_line: str = "") -> tuple[str, str]:
    """A template's subject and body with the live facts filled in; a value breachdash does not
    know (e.g. the contact line, until given) stays as its {{placeholder}}, which blocks sending."""
    require_signed_in(actor)
    if len(contact_line) > MAX_CONTACT_LINE_CHARS:
        raise InvalidInput.single("contact_line", f"at most {MAX_CONTACT_LINE_CHARS} characters")
    template = next((t for t in templates() if t["key"] == template_key), None)
    if template is None:
        raise NotFound(f"No message template {template_key!r}.")
    with read_session(engine) as session:
        incident = session.get(Incident, incident_id)
        facts = message_facts(session, incident_id)
    names = catalogue()
    exposed = sorted(facts.exposed, key=lambda code: (tier_rank(code), code))
    values = {
        "company": incident.company,
        "best_estimate": facts.headline,
        "data_types": ", ".join(re.sub(r"^your ", "", names[c].plain_description) for c in exposed if c in names)
        or None,
        "detected_date": incident.detected_at.strftime("%-d %B %Y") if incident.detected_at else None,
        "contact_line": contact_line.strip() or None,
    }

    def fill(text: str) -> str:
        return re.sub(r"\{\{\s*([a-z_]+)\s*\}\}",
                      lambda m: values.get(m.group(1)) or m.group(0), text)

    return fill(template["subject"]), fill(template["body"])


def live_checks(engine: Engine, *, actor: Actor, phase_id: int, subject: str, body: str) -> dict:
    """The checks a save would record, for showing while drafting (writes nothing)."""
    require_signed_in(actor)
    with read_session(engine) as session:
        phase = _phase(session, phase_id)
        facts = message_facts(session, phase.incident_id)
    return check_message(subject, body, facts, customer_facing=phase.audience != "internal").as_dict()


def phase_detail(engine: Engine, *, actor: Actor | None, phase_id: int) -> dict:
    """Everything the page shows for one phase: checklist, versions, sign-offs on the latest text
    (with stale reasons), what is still missing, and the sent log."""
    require_signed_in(actor)
    with read_session(engine) as session:
        phase = _phase(session, phase_id)
        items = session.exec(select(ChecklistItem).where(ChecklistItem.phase_id == phase_id)
                             .order_by(col(ChecklistItem.position), col(ChecklistItem.id))).all()
        versions = session.exec(select(MessageVersion).where(MessageVersion.phase_id == phase_id)
                                .order_by(col(MessageVersion.number))).all()
        latest = _latest_version(session, phase)
        views = _sign_off_views(session, latest, phase.incident_id) if latest else []
        comments = {(r.signer, r.role, r.signed_at): r.comment for r in session.exec(
            select(SignOff).where(SignOff.message_version_id == latest.id)).all()} if latest else {}
        sends = session.exec(select(SendRecord).where(SendRecord.phase_id == phase_id)
                             .order_by(col(SendRecord.sent_at))).all()
        missing, stale = _standing(session, phase, latest, views)
        pending = _pending_change(session, phase_id)
    return {
        "phase": phase,
        "required_roles": required_roles(phase),
        "policy": approval_policy_for(phase),
        "approver_change": pending,
        "checklist": pd.DataFrame(
            [{"id": i.id, "done": i.done_at is not None, "item": i.text, "owner": role_label(i.owner_role),
              "due_at": i.due_at, "done_by": i.done_by, "done_at": i.done_at, "version": i.version} for i in items],
            columns=["id", "done", "item", "owner", "due_at", "done_by", "done_at", "version"]),
        "versions": versions,
        "latest": latest,
        "sign_offs": pd.DataFrame(
            [{"role": role_label(v.role), "signer": v.signer, "decision": v.decision, "signed_at": v.signed_at,
              "comment": comments.get((v.signer, v.role, v.signed_at), ""),
              "standing": _standing_text(v, views[index + 1:])} for index, v in enumerate(views)],
            columns=["role", "signer", "decision", "signed_at", "comment", "standing"]),
        "missing": [role_label(r) for r in missing] if latest else [],
        # Signers whose approval of this exact text went stale: they may re-confirm it as it is.
        "reconfirm": [{"role": v.role, "signer": v.signer, "reason": v.stale_reason} for v in stale],
        # (signer, role) pairs whose latest decision on this text stands: they have nothing to sign.
        "decided": {(v.signer, v.role) for v in {(v.signer, v.role): v for v in views}.values()
                    if not v.stale_reason},
        "status_shown": status_shown(phase.status, [v.role for v in stale], missing if latest else []),
        "sends": pd.DataFrame([{"version": next((v.number for v in versions if v.id == s.message_version_id), None),
                                "channel": s.channel, "sent_at": s.sent_at, "sent_by": s.sent_by,
                                "open_warnings": len(s.open_warnings)} for s in sends],
                              columns=["version", "channel", "sent_at", "sent_by", "open_warnings"]),
    }


def _standing_text(view: SignOffView, later: list[SignOffView]) -> str:
    renewed = next((v for v in later if v.signer == view.signer and v.role == view.role), None)
    if renewed is not None:
        return ("superseded: re-confirmed against newer facts" if renewed.decision == Decision.approve.value
                else f"superseded: later {renewed.decision}")
    if view.stale_reason:
        return "stale: " + view.stale_reason
    return "current" if view.decision == Decision.approve.value else "—"


def save_checklist(engine: Engine, *, actor: Actor, changes: list[dict]) -> int:
    """Apply ticked/unticked items from an edited checklist: each {id, done, version}. A stale row
    stops the save with who changed it; rows before it stay saved (each is its own record)."""
    for change in changes:
        set_checklist_item(engine, actor=actor, item_id=int(change["id"]), done=bool(change["done"]),
                           expected_version=int(change["version"]))
    return len(changes)


class PhaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = PydanticField(default=None, min_length=1, max_length=200)
    audience: Audience | None = None
    channels: list[Channel] | None = None
    target_at: datetime | None = None
    required_roles: list[Role] | None = None


def update_phase(engine: Engine, *, actor: Actor, phase_id: int, expected_version: int,
                 phase_in: PhaseUpdate | dict, reason: str = "") -> CommsPhase:
    """Edit one phase of the plan: name, audience, channels, target date, roles that must sign.

    Who must sign is guarded twice. The approval policy (data/approval_policy.json) refuses a list
    that leaves out a role it requires, whoever asks — the audience before and after an audience
    change both count. Any other change to the roles is not applied but recorded as a proposal
    that a second person, holding another role, approves (approve_approver_change); the other
    fields are saved at once."""
    require_signed_in(actor)
    phase_in = validate_input(PhaseUpdate, phase_in)
    changes = phase_in.model_dump(exclude_unset=True, mode="json")
    if "target_at" in changes:
        if phase_in.target_at is not None and phase_in.target_at.tzinfo is None:
            raise InvalidInput.single("target_at", "needs a time zone")
        changes["target_at"] = phase_in.target_at
    if changes.get("required_roles") == []:
        raise InvalidInput.single("required_roles", "at least one role must sign")
    if "admin" in (changes.get("required_roles") or []):
        raise InvalidInput.single("required_roles", "admins administer breachdash; they do not sign messages")
    if len(reason) > 2_000:
        raise InvalidInput.single("reason", "longer than 2,000 characters")
    with write_session(engine) as session:
        phase = _phase(session, phase_id)
        new_roles = list(dict.fromkeys(changes.pop("required_roles", phase.required_roles)))
        audiences = {phase.audience, changes.get("audience", phase.audience)}
        problem = removal_problem(load_policy(), key=phase.key, name=phase.name, audiences=audiences,
                                  new_roles=new_roles)
        if problem:
            raise PolicyRefused(problem)
        require(actor, Action.edit_phase_plan)
        if phase.version != expected_version:
            raise StaleUpdate(stale_message(phase))
        if changes:
            before = {key: getattr(phase, key) for key in changes}
            phase = apply_versioned_update(session, CommsPhase, row_id=phase_id, expected_version=expected_version,
                                           changes=changes, actor_email=actor.email)
            record_audit(session, actor=actor.email, action="comms.phase_edited", entity_type="comms_phase",
                         entity_id=phase_id, incident_id=phase.incident_id, before=before, after=changes)
        if set(new_roles) != set(phase.required_roles):
            _propose_approvers(session, actor=actor, phase=phase, to_roles=new_roles, reason=reason)
    return phase


def _roles_text(roles) -> str:
    return ", ".join(role_label(r) for r in roles) or "nobody"


def _pending_change(session: Session, phase_id: int) -> ApproverChange | None:
    return session.exec(select(ApproverChange).where(
        ApproverChange.phase_id == phase_id, ApproverChange.status == ApproverChangeStatus.pending.value)
        .order_by(col(ApproverChange.id).desc())).first()


def _propose_approvers(session: Session, *, actor: Actor, phase: CommsPhase, to_roles: list[str],
                       reason: str) -> ApproverChange:
    pending = _pending_change(session, phase.id)
    if pending is not None:
        raise Conflict(f"A change to who must sign {phase.name} ({_roles_text(pending.to_roles)}, proposed by "
                       f"{pending.proposed_by}) already awaits a second person; approve, reject or withdraw it first.")
    change = ApproverChange(phase_id=phase.id, from_roles=list(phase.required_roles), to_roles=to_roles,
                            reason=reason.strip(), proposed_by=actor.email,
                            proposer_roles=sorted(r.value for r in actor.roles))
    session.add(change)
    session.flush()
    log_event(session, incident_id=phase.incident_id, kind=EventKind.communication,
              title=f"{phase.name}: change of who must sign proposed ({_roles_text(change.from_roles)} → "
                    f"{_roles_text(to_roles)}), awaiting a second person",
              detail=change.reason, recorded_by=actor.email, origin=("approver_change", f"{change.id}:proposed"))
    record_audit(session, actor=actor.email, action="comms.approvers_proposed", entity_type="approver_change",
                 entity_id=change.id, incident_id=phase.incident_id,
                 before={"required_roles": change.from_roles},
                 after={"phase": phase.key, "required_roles": to_roles, "proposer_roles": change.proposer_roles})
    return change


def _open_change(session: Session, change_id: int) -> tuple[ApproverChange, CommsPhase]:
    change = session.get(ApproverChange, change_id)
    if change is None:
        raise NotFound(f"No proposed approver change with id {change_id}.")
    if change.status != ApproverChangeStatus.pending.value:
        raise Conflict(f"This change was already {change.status} by {change.decided_by} at "
                       f"{changed_at(change.decided_at)} — reload.")
    return change, _phase(session, change.phase_id)


def approve_approver_change(engine: Engine, *, actor: Actor, change_id: int) -> CommsPhase:
    """The second person's approval (two-person rule): someone other than the proposer, holding a
    role the proposer does not, applies the proposed roles — if the policy still allows them and
    nobody changed the phase's roles meanwhile."""
    require(actor, Action.decide_approver_change)
    with write_session(engine) as session:
        change, phase = _open_change(session, change_id)
        problem = approver_change_problem(
            proposer=change.proposed_by, proposer_roles=change.proposer_roles, decider=actor.email,
            decider_roles=[r.value for r in actor.roles],
            deciding_roles=[r.value for r in PERMISSIONS[Action.decide_approver_change]])
        if problem is None:
            problem = removal_problem(load_policy(), key=phase.key, name=phase.name, audiences=[phase.audience],
                                      new_roles=change.to_roles)
        if problem:
            raise PolicyRefused(problem)
        if list(phase.required_roles) != list(change.from_roles):
            raise StaleUpdate(f"Who must sign {phase.name} was changed by {phase.updated_by} at "
                              f"{changed_at(phase.updated_at)} since this was proposed — reload, and reject this change.")
        phase = apply_versioned_update(session, CommsPhase, row_id=phase.id, expected_version=phase.version,
                                       changes={"required_roles": list(change.to_roles)}, actor_email=actor.email)
        _decide(session, actor=actor, change=change, phase=phase, status=ApproverChangeStatus.approved)
    return phase


def reject_approver_change(engine: Engine, *, actor: Actor, change_id: int) -> ApproverChange:
    """Reject a proposed change to who must sign (or, by its proposer, withdraw it)."""
    require(actor, Action.decide_approver_change)
    with write_session(engine) as session:
        change, phase = _open_change(session, change_id)
        status = (ApproverChangeStatus.withdrawn if actor.email == change.proposed_by
                  else ApproverChangeStatus.rejected)
        _decide(session, actor=actor, change=change, phase=phase, status=status)
    return change


def _decide(session: Session, *, actor: Actor, change: ApproverChange, phase: CommsPhase,
            status: ApproverChangeStatus) -> None:
    change.status, change.decided_by, change.decided_at = status.value, actor.email, utcnow()
    session.add(change)
    session.flush()
    log_event(session, incident_id=phase.incident_id, kind=EventKind.communication,
              title=f"{phase.name}: change of who must sign ({_roles_text(change.from_roles)} → "
                    f"{_roles_text(change.to_roles)}) {status.value}", recorded_by=actor.email,
              origin=("approver_change", f"{change.id}:{status.value}"))
    record_audit(session, actor=actor.email, action=f"comms.approvers_{status.value}", entity_type="approver_change",
                 entity_id=change.id, incident_id=phase.incident_id,
                 before={"required_roles": change.from_roles},
                 after={"phase": phase.key, "required_roles": change.to_roles, "status": status.value,
                        "proposed_by": change.proposed_by})


def approval_policy_for(phase: CommsPhase) -> dict:
    """What the page says about a phase's approvers: the roles the policy requires (with why), and
    which roles' sign-offs must come from different people."""
    policy = load_policy()
    return {"required": policy.required(key=phase.key, audiences=[phase.audience]),
            "different_people": sorted(policy.different_people)}
