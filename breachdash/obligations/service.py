"""Obligations: derived by the rules engine from the live record (recompute_obligations), or added
by hand; their filings (append-only) and tracking status; the register Legal exports."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.common import as_utc, utcnow
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, Conflict, InvalidInput, NotFound
from breachdash.incidents.models import Incident
from breachdash.obligations.models import (
    Applicability,
    Obligation,
    ObligationFiling,
    ObligationSource,
    ObligationStatus,
)
from breachdash.obligations.rules import RECIPIENT_NAMES, Facts, Trigger, decide_all, rules_by_id
from breachdash.reference import data_types
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
        for name in ("clock_started_at", "due_at"):
            value = getattr(obligation_in, name)
            if value is not None:
                setattr(obligation_in, name, as_utc(value))
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
    """Append a filing (a correction is a new filing naming the one it corrects); the obligation
    becomes filed, and clocks chained to it start."""
    require(actor, Action.manage_obligations)
    if filed_at.tzinfo is None:
        raise InvalidInput.single("filed_at", "needs a time zone")
    if as_utc(filed_at) > utcnow() + timedelta(minutes=5):
        raise InvalidInput.single("filed_at", "is in the future")
    if len(reference) > 300:
        raise InvalidInput.single("reference", "at most 300 characters")
    if len(note) > 20_000:
        raise InvalidInput.single("note", "at most 20,000 characters")
    with write_session(engine) as session:
        obligation = _get_obligation(session, obligation_id)
        if corrects_id is not None:
            corrected = session.get(ObligationFiling, corrects_id)
            if corrected is None or corrected.obligation_id != obligation_id:
                raise InvalidInput.single("corrects_id", "is not a filing of this obligation")
        filing = ObligationFiling(obligation_id=obligation_id, filed_at=as_utc(filed_at), filed_by=actor.email,
                                  reference=reference.strip(), note=note, corrects_id=corrects_id)
        session.add(filing)
        session.flush()
        apply_versioned_update(session, Obligation, row_id=obligation.id, expected_version=obligation.version,
                               changes={"status": ObligationStatus.filed.value}, actor_email=actor.email)
        title = "Correction filed" if corrects_id else "Filed"
        log_event(session, incident_id=obligation.incident_id, kind=EventKind.regulator,
                  title=f"{title}: {obligation.regime} → {RECIPIENT_NAMES.get(obligation.recipient, obligation.recipient)}",
                  detail=reference, occurred_at=filing.filed_at, recorded_by=actor.email,
                  origin=("filing", filing.id))
        record_audit(session, actor=actor.email, action="obligation.filed", entity_type="obligation_filing",
                     entity_id=filing.id, incident_id=obligation.incident_id,
                     after={"rule_id": obligation.rule_id, "filed_at": filing.filed_at, "reference": reference,
                            "corrects_id": corrects_id})
        recompute_obligations(session, incident_id=obligation.incident_id, actor_email=actor.email,
                              cause=f"filing {obligation.rule_id}")
    return filing


def find_obligation(engine: Engine, incident_id: int, rule_id: str) -> Obligation:
    with read_session(engine) as session:
        obligation = session.exec(select(Obligation).where(Obligation.incident_id == incident_id,
                                                           Obligation.rule_id == rule_id)).first()
    if obligation is None:
        raise NotFound(f"No obligation {rule_id} for this incident.")
    return obligation


def _get_obligation(session: Session, obligation_id: int) -> Obligation:
    obligation = session.get(Obligation, obligation_id)
    if obligation is None:
        raise NotFound(f"No obligation with id {obligation_id}.")
    return obligation


def filings_frame(engine: Engine, *, actor: Actor | None, obligation_id: int) -> pd.DataFrame:
    """Every filing of one obligation, oldest first (corrections name what they correct)."""
    require_signed_in(actor)
    with read_session(engine) as session:
        rows = session.exec(select(ObligationFiling).where(ObligationFiling.obligation_id == obligation_id)
                            .order_by(col(ObligationFiling.id))).all()
    return pd.DataFrame([{"filing_id": f.id, "filed_at": f.filed_at, "filed_by": f.filed_by, "reference": f.reference,
                          "note": f.note, "corrects": f.corrects_id, "recorded_at": f.recorded_at} for f in rows],
                        columns=["filing_id", "filed_at", "filed_by", "reference", "note", "corrects", "recorded_at"])


def recompute_for(engine: Engine, *, actor: Actor, incident_id: int) -> ObligationChanges:
    """Re-run the rules now (after a rules-file update, or to refresh 'late')."""
    require(actor, Action.manage_obligations)
    with write_session(engine) as session:
        return recompute_obligations(session, incident_id=incident_id, actor_email=actor.email, cause="a manual recompute")


# ---------------------------------------------------------------- the rules engine, applied

@dataclass
class ObligationChanges:
    new: list[Obligation] = field(default_factory=list)
    gone: list[Obligation] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # rules seen for the first time (applicable or not)


# Which incident milestone starts each kind of clock. Awareness is Legal's awareness when recorded,
# else detection; a breach determination not yet recorded falls back to awareness.
def incident_milestones(incident: Incident) -> dict[str, datetime | None]:
    awareness = incident.legal_aware_at or incident.detected_at
    return {
        Trigger.awareness.value: awareness,
        Trigger.discovery.value: incident.detected_at,
        Trigger.breach_determination.value: incident.breach_determined_at or awareness,
        Trigger.materiality_determination.value: incident.materiality_determined_at,
        Trigger.assessment_completed.value: incident.assessment_completed_at,
        Trigger.classification_as_major.value: incident.classified_major_at,
        Trigger.ransom_payment.value: None,
    }


def incident_facts(session: Session, incident_id: int, today: date | None = None) -> Facts:
    """The facts the engine decides from: latest revision, sector flags, milestones, filings."""
    from breachdash.scope.models import ScopeDataTypeCount, ScopeRegionCount, ScopeRevision

    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"No incident with id {incident_id}.")
    revision = session.exec(select(ScopeRevision).where(ScopeRevision.incident_id == incident_id)
                            .order_by(col(ScopeRevision.seq).desc()).limit(1)).first()
    regions, tiers, total = {}, {}, 0
    if revision is not None:
        total = revision.best
        regions = {r.region: r.count for r in session.exec(
            select(ScopeRegionCount).where(ScopeRegionCount.revision_id == revision.id)).all()}
        catalogue = data_types()
        for item in session.exec(select(ScopeDataTypeCount).where(ScopeDataTypeCount.revision_id == revision.id)):
            tier = catalogue[item.data_type].tier if item.data_type in catalogue else None
            if tier and item.count > 0 and tiers.get(tier) != "confirmed":
                tiers[tier] = item.status
    filings = {}
    for rule_id, filed_at in session.exec(
            select(Obligation.rule_id, func.min(ObligationFiling.filed_at))
            .join(ObligationFiling, ObligationFiling.obligation_id == Obligation.id)
            .where(Obligation.incident_id == incident_id).group_by(Obligation.rule_id)).all():
        filings[rule_id] = as_utc(filed_at)
    return Facts(revision_seq=revision.seq if revision else None, regions=regions, total_individuals=total,
                 tiers=tiers, sectors=frozenset(incident.sector_flags or []),
                 milestones=incident_milestones(incident), filings=filings,
                 today=today or utcnow().date())


APPLICABLE = (Applicability.applies.value, Applicability.may_apply.value)


def recompute_obligations(session: Session, *, incident_id: int, actor_email: str, cause: str) -> ObligationChanges:
    """Apply the rules to the incident's current facts inside the caller's transaction. New and
    vanished obligations go on the timeline in one entry; every change is audited."""
    facts = incident_facts(session, incident_id)
    existing = {o.rule_id: o for o in session.exec(select(Obligation).where(Obligation.incident_id == incident_id))}
    rules = rules_by_id()
    changes = ObligationChanges()
    now = utcnow()
    for decision in decide_all(facts):
        rule = rules[decision.rule_id]
        current = existing.get(rule.id)
        applicable = decision.applicability in APPLICABLE
        values = {"reason": decision.reason[:5000], "clock_started_at": decision.clock_started_at,
                  "due_at": decision.due_at, "clock_note": decision.clock_note[:500], "flags": list(rule.flags)}
        if current is None:
            obligation = Obligation(
                incident_id=incident_id, rule_id=rule.id, jurisdiction=rule.jurisdiction[:40],
                regime=rule.regime[:200], recipient=rule.recipient, applicability=decision.applicability,
                status=ObligationStatus.not_due if applicable else ObligationStatus.not_applicable,
                source=ObligationSource.rules, applies_since=now if applicable else None, updated_by=actor_email,
                **values)
            session.add(obligation)
            changes.created.append(rule.id)
            if applicable:
                changes.new.append(obligation)
            continue
        if current.source != ObligationSource.rules:
            continue  # Legal's own entry for this rule stands
        was = current.applicability in APPLICABLE
        if applicable:
            values["applicability"] = decision.applicability
        else:
            gone = was or current.applicability == Applicability.no_longer_applies
            values["applicability"] = (Applicability.no_longer_applies if gone else Applicability.not_applicable).value
        if applicable and not was:
            values["applies_since"] = now
            if current.status == ObligationStatus.not_applicable:
                values["status"] = ObligationStatus.not_due.value
        if not applicable and current.status not in (ObligationStatus.filed, ObligationStatus.not_applicable):
            values["status"] = ObligationStatus.not_applicable.value
        diff = {k: v for k, v in values.items() if getattr(current, k) != (as_utc(v) if isinstance(v, datetime) else v)}
        if not diff:
            continue
        updated = apply_versioned_update(session, Obligation, row_id=current.id, expected_version=current.version,
                                         changes=diff, actor_email=actor_email)
        changes.changed.append(rule.id)
        if applicable and not was:
            changes.new.append(updated)
        elif was and not applicable:
            changes.gone.append(updated)
    session.flush()
    if changes.new or changes.gone:
        parts = []
        if changes.new:
            parts.append(f"{len(changes.new)} new: " + ", ".join(
                f"{o.rule_id} ({RECIPIENT_NAMES.get(o.recipient, o.recipient).lower()})" for o in changes.new[:8])
                + (" …" if len(changes.new) > 8 else ""))
        if changes.gone:
            parts.append(f"{len(changes.gone)} no longer apply: " + ", ".join(o.rule_id for o in changes.gone[:8]))
        detail = "\n".join([f"{o.rule_id}: {o.reason}" for o in changes.new]
                           + [f"{o.rule_id} no longer applies: {o.reason}" for o in changes.gone])
        log_event(session, incident_id=incident_id, kind=EventKind.legal,
                  title=f"Obligations after {cause}: " + "; ".join(parts), detail=detail[:20_000],
                  recorded_by=actor_email)
    if changes.changed or changes.created:
        record_audit(session, actor=actor_email, action="obligations.recomputed", entity_type="incident",
                     entity_id=incident_id, incident_id=incident_id,
                     after={"cause": cause, "new": [o.rule_id for o in changes.new],
                            "no_longer_apply": [o.rule_id for o in changes.gone], "changed": changes.changed,
                            "rules_first_seen": len(changes.created)})
    return changes


# ---------------------------------------------------------------- tracking

def effective_status(obligation: Obligation, *, filed: bool, now: datetime) -> str:
    """Filed and not applicable are facts; late is derived from the clock; otherwise Legal's status."""
    if obligation.applicability not in APPLICABLE:
        return ObligationStatus.not_applicable.value
    if filed:
        return ObligationStatus.filed.value
    if obligation.status == ObligationStatus.not_applicable:
        return ObligationStatus.not_applicable.value
    if obligation.due_at is not None and as_utc(obligation.due_at) < now:
        return ObligationStatus.late.value
    return obligation.status


TRACKABLE = (ObligationStatus.not_due.value, ObligationStatus.in_preparation.value,
             ObligationStatus.not_applicable.value)


def set_obligation_status(engine: Engine, *, actor: Actor, obligation_id: int, status: str, expected_version: int,
                          reason: str = "") -> Obligation:
    """Legal marks an obligation not due, in preparation, or not applicable (with the reason)."""
    require(actor, Action.manage_obligations)
    if status not in TRACKABLE:
        raise InvalidInput.single("status", f"choose one of {', '.join(TRACKABLE)} (a filing is recorded with "
                                            "'Record filing')")
    reason = (reason or "").strip()
    if status == ObligationStatus.not_applicable and not reason:
        raise InvalidInput.single("reason", "say why the obligation does not apply")
    if len(reason) > 5000:
        raise InvalidInput.single("reason", "at most 5,000 characters")
    with write_session(engine) as session:
        obligation = _get_obligation(session, obligation_id)
        before = {"status": obligation.status, "reason": obligation.reason}
        changes = {"status": status}
        if status == ObligationStatus.not_applicable:
            changes["reason"] = f"Legal: {reason}"
        updated = apply_versioned_update(session, Obligation, row_id=obligation_id, expected_version=expected_version,
                                         changes=changes, actor_email=actor.email)
        if status == ObligationStatus.not_applicable:
            log_event(session, incident_id=obligation.incident_id, kind=EventKind.legal,
                      title=f"Legal: {obligation.rule_id} does not apply", detail=reason, recorded_by=actor.email)
        record_audit(session, actor=actor.email, action="obligation.status_set", entity_type="obligation",
                     entity_id=obligation_id, incident_id=obligation.incident_id, before=before, after=changes)
    return updated


REGISTER_COLUMNS = [
    "obligation_id", "rule_id", "jurisdiction", "regime", "citation", "recipient", "recipient_name", "applicability",
    "reason", "deadline", "trigger", "clock_started_at", "due_at", "clock_note", "status", "filed_at", "filed_by",
    "reference", "filings", "flags", "confidence", "source", "source_urls", "applies_since", "version",
]


def obligations_register(engine: Engine, *, actor: Actor | None, incident_id: int,
                         now: datetime | None = None) -> pd.DataFrame:
    """Every obligation with its rule, reason, clock, effective status and latest filing; sorted by
    deadline (no deadline last, then not applicable)."""
    require_signed_in(actor)
    now = now or utcnow()
    rules = rules_by_id()
    with read_session(engine) as session:
        obligations = session.exec(select(Obligation).where(Obligation.incident_id == incident_id)).all()
        filings: dict[int, list[ObligationFiling]] = {}
        for filing in session.exec(select(ObligationFiling).join(Obligation).where(
                Obligation.incident_id == incident_id).order_by(col(ObligationFiling.id))):
            filings.setdefault(filing.obligation_id, []).append(filing)
    rows = []
    for o in obligations:
        rule = rules.get(o.rule_id)
        latest = filings.get(o.id, [])[-1] if filings.get(o.id) else None
        rows.append({
            "obligation_id": o.id, "rule_id": o.rule_id, "jurisdiction": o.jurisdiction, "regime": o.regime,
            "citation": rule.citation if rule else "", "recipient": o.recipient,
            "recipient_name": rule.recipient_name if rule else o.recipient, "applicability": o.applicability,
            "reason": o.reason, "deadline": rule.describe_deadline() if rule else "",
            "trigger": rule.trigger.replace("_", " ") if rule else "", "clock_started_at": o.clock_started_at,
            "due_at": o.due_at, "clock_note": o.clock_note,
            "status": effective_status(o, filed=latest is not None, now=now),
            "filed_at": latest.filed_at if latest else None, "filed_by": latest.filed_by if latest else "",
            "reference": latest.reference if latest else "", "filings": len(filings.get(o.id, [])),
            "flags": ", ".join(o.flags or []), "confidence": rule.confidence if rule else "entered by hand",
            "source": o.source, "source_urls": " ".join(rule.source_urls) if rule else "",
            "applies_since": o.applies_since, "version": o.version})
    frame = pd.DataFrame(rows, columns=REGISTER_COLUMNS)
    order = {Applicability.applies.value: 0, Applicability.may_apply.value: 1,
             Applicability.no_longer_applies.value: 2, Applicability.not_applicable.value: 3}
    frame["_group"] = frame["applicability"].map(order).fillna(3)
    frame["_no_due"] = frame["due_at"].isna()
    frame = frame.sort_values(["_group", "_no_due", "due_at", "rule_id"]).drop(columns=["_group", "_no_due"])
    return frame.reset_index(drop=True)


def upcoming_obligations(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Applicable obligations not yet filed, soonest deadline first (what is due)."""
    register = obligations_register(engine, actor=actor, incident_id=incident_id)
    open_ = register[register["applicability"].isin(APPLICABLE) & ~register["status"].isin(
        [ObligationStatus.filed.value, ObligationStatus.not_applicable.value])]
    return open_.reset_index(drop=True)
