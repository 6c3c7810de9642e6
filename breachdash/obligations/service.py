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
from breachdash.obligations.rules import (
    RECIPIENT_NAMES,
    short_recipient,
    ExposedData,
    Facts,
    PopulationFact,
    RegionFact,
    Trigger,
    decide_all,
    filing_timeliness,
    rules_by_id,
)
from breachdash.reference import data_types
from breachdash.scope.rules import Figure, add_figures, figure_of
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update, changed_at
from breachdash.scope.models import ScopeDataTypeCount, ScopePopulation, ScopeRegionCount, ScopeRevision


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
            later = session.exec(select(ObligationFiling).where(ObligationFiling.corrects_id == corrects_id)).first()
            if later is not None:
                raise Conflict(f"Filing #{corrects_id} was already corrected by {later.filed_by} at "
                               f"{changed_at(later.recorded_at)} (filing #{later.id}) — reload and correct that one.")
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


def recompute_for(engine: Engine, *, actor: Actor, incident_id: int,
                  cause: str = "a manual recompute") -> ObligationChanges:
    """Re-decide every rule now (after a rules-file update, an import or a restore). Any change is
    audited and put on the timeline; a recompute that changes nothing writes nothing."""
    require(actor, Action.manage_obligations)
    with write_session(engine) as session:
        if session.get(Incident, incident_id) is None:
            raise NotFound(f"No incident with id {incident_id}.")
        return recompute_obligations(session, incident_id=incident_id, actor_email=actor.email, cause=cause,
                                     timeline_on_change=True)


def recompute_every_incident(engine: Engine, *, actor_email: str, cause: str) -> dict[int, ObligationChanges]:
    """After a restore: re-decide every incident's rules, one transaction each (nothing written
    where nothing changes)."""
    with read_session(engine) as session:
        ids = list(session.exec(select(Incident.id).order_by(col(Incident.id))).all())
    results = {}
    for incident_id in ids:
        with write_session(engine) as session:
            results[incident_id] = recompute_obligations(session, incident_id=incident_id, actor_email=actor_email,
                                                         cause=cause, timeline_on_change=True)
    return results


# ---------------------------------------------------------------- the rules engine, applied

@dataclass
class ObligationChanges:
    new: list[Obligation] = field(default_factory=list)
    gone: list[Obligation] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # rules seen for the first time (applicable or not)
    decided: int = 0                                   # rules re-decided

    @property
    def nothing(self) -> bool:
        return not (self.new or self.gone or self.changed or self.created)

    def summary(self) -> str:
        """One line for the person who asked: what changed, or that nothing did."""
        if self.nothing:
            return f"Nothing changed: {self.decided} rules re-decided, every decision as before; nothing was written."
        parts = [f"{len(self.new)} now apply or may apply", f"{len(self.gone)} no longer apply",
                 f"{len(self.changed)} updated (reason, clock or status)"]
        if self.created:
            parts.append(f"{len(self.created)} rules decided for the first time")
        return f"Recomputed {self.decided} rules: " + ", ".join(parts) + "."


# Which incident milestone starts each kind of clock. Awareness is Legal's awareness when recorded,
# else detection; a breach determination not yet recorded falls back to awareness.
def trigger_fields(incident: Incident) -> dict[str, str]:
    """Which incident milestone each trigger reads (for its time and its precision)."""
    awareness = "legal_aware_at" if incident.legal_aware_at else "detected_at"
    return {
        Trigger.awareness.value: awareness, Trigger.discovery.value: "detected_at",
        Trigger.breach_determination.value: "breach_determined_at" if incident.breach_determined_at else awareness,
        Trigger.materiality_determination.value: "materiality_determined_at",
        Trigger.assessment_completed.value: "assessment_completed_at",
        Trigger.classification_as_major.value: "classified_major_at",
    }


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
    """The facts the engine decides from: each population's latest revision, exposed data with
    its protection, sector flags, milestones with their precision, first filings."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"No incident with id {incident_id}.")
    newest = (select(func.max(ScopeRevision.seq)).where(ScopeRevision.incident_id == incident_id)
              .group_by(ScopeRevision.population_id))
    latest = session.exec(select(ScopeRevision, ScopePopulation)
                          .join(ScopePopulation, ScopePopulation.id == ScopeRevision.population_id)
                          .where(ScopeRevision.incident_id == incident_id, col(ScopeRevision.seq).in_(newest))
                          .order_by(col(ScopeRevision.seq))).all()
    catalogue = data_types()
    populations, exposed = [], {}
    for revision, population in latest:
        regions = tuple(RegionFact(r.region, Figure.from_count(r.count, r.count_kind)) for r in session.exec(
            select(ScopeRegionCount).where(ScopeRegionCount.revision_id == revision.id)).all())
        populations.append(PopulationFact(
            key=population.key, label=population.label, unit=revision.unit, revision_seq=revision.seq,
            figure=figure_of(revision), jurisdictions=tuple(population.jurisdictions or ()), regions=regions,
            disjoint=population.disjoint))
        for item in session.exec(select(ScopeDataTypeCount).where(ScopeDataTypeCount.revision_id == revision.id)):
            figure = Figure.from_count(item.count, item.count_kind)
            if figure.upper == 0:
                continue  # counted and none exposed
            known = catalogue.get(item.data_type)
            candidate = ExposedData(item.data_type, known.tier if known else "unknown", item.status,
                                    item.protection, figure)
            held = exposed.get(item.data_type)
            # Across populations the strongest claim wins: confirmed over suspected, the least protected state.
            exposed[item.data_type] = candidate if held is None else ExposedData(
                item.data_type, candidate.tier,
                "confirmed" if "confirmed" in (held.status, candidate.status) else "suspected",
                max(held.protection, candidate.protection, key=lambda p: _PROTECTION_RISK.get(p, 0)),
                add_figures([held.figure, candidate.figure]))
    filings = {}
    for rule_id, filed_at in session.exec(
            select(Obligation.rule_id, func.min(ObligationFiling.filed_at))
            .join(ObligationFiling, ObligationFiling.obligation_id == Obligation.id)
            .where(Obligation.incident_id == incident_id).group_by(Obligation.rule_id)).all():
        filings[rule_id] = as_utc(filed_at)
    precisions = incident.milestone_precisions or {}
    milestones = incident_milestones(incident)
    return Facts(populations=tuple(populations), exposed=tuple(exposed.values()),
                 sectors=frozenset(incident.sector_flags or []), milestones=milestones,
                 milestone_precisions={trigger: precisions[field] for trigger, field in trigger_fields(incident).items()
                                       if field in precisions},
                 filings=filings, today=today or utcnow().date())


# How much a protection state still exposes (higher: more); plain data exposes most.
_PROTECTION_RISK = {"expired": 1, "encrypted, key not taken": 2, "hashed": 3, "partial or truncated": 4,
                    "encrypted, key possibly taken": 5, "plain": 6}


APPLICABLE = (Applicability.applies.value, Applicability.may_apply.value)


def recompute_obligations(session: Session, *, incident_id: int, actor_email: str, cause: str,
                          timeline_on_change: bool = False) -> ObligationChanges:
    """Apply the rules to the incident's current facts inside the caller's transaction. New and
    vanished obligations go on the timeline in one entry (with `timeline_on_change`, any change
    does: an explicit recompute, an import, a restore); every change is audited."""
    facts = incident_facts(session, incident_id)
    existing = {o.rule_id: o for o in session.exec(select(Obligation).where(Obligation.incident_id == incident_id))}
    rules = rules_by_id()
    changes = ObligationChanges()
    now = utcnow()
    decisions = decide_all(facts)
    changes.decided = len(decisions)
    for decision in decisions:
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
    if changes.new or changes.gone or (timeline_on_change and not changes.nothing):
        parts = [] if changes.new or changes.gone else [changes.summary()]
        if changes.new:
            parts.append(f"{len(changes.new)} new: " + ", ".join(
                f"{o.rule_id} ({RECIPIENT_NAMES.get(o.recipient, o.recipient).lower()})" for o in changes.new[:8])
                + (" …" if len(changes.new) > 8 else ""))
        if changes.gone:
            parts.append(f"{len(changes.gone)} no longer apply: " + ", ".join(o.rule_id for o in changes.gone[:8]))
        detail = "\n".join([f"{o.rule_id}: {o.reason}" for o in changes.new]
                           + [f"{o.rule_id} no longer applies: {o.reason}" for o in changes.gone])
        log_event(session, incident_id=incident_id, kind=EventKind.legal,
                  title=f"Obligations after {cause}: " + "; ".join(parts),
                  detail=(detail or "\n".join(f"{rule_id}: updated" for rule_id in changes.changed))[:20_000],
                  recorded_by=actor_email)
    if changes.changed or changes.created:
        record_audit(session, actor=actor_email, action="obligations.recomputed", entity_type="incident",
                     entity_id=incident_id, incident_id=incident_id,
                     after={"cause": cause, "new": [o.rule_id for o in changes.new],
                            "no_longer_apply": [o.rule_id for o in changes.gone], "changed": changes.changed,
                            "rules_first_seen": len(changes.created)})
    return changes


# ---------------------------------------------------------------- tracking

# Derived, never stored: the first filing came after the due time. Counts as late everywhere.
FILED_LATE = "filed late"
LATE_STATUSES = (ObligationStatus.late.value, FILED_LATE)


def timeliness(obligation: Obligation, first_filed_at: datetime | None) -> tuple[bool | None, str]:
    """(late?, words) of the first filing against the obligation's due time; a chained rule's
    filing is compared with its anchor's ("no later than", "before", "at the same time as")."""
    rule = rules_by_id().get(obligation.rule_id)
    relation = rule.chain_relation if rule else ""
    anchor = rule.anchor_rule_id if rule else ""
    due = as_utc(obligation.due_at) if obligation.due_at is not None else None
    return filing_timeliness(due, as_utc(first_filed_at) if first_filed_at else None, relation=relation,
                             anchor_id=anchor)


def effective_status(obligation: Obligation, *, filed: bool, now: datetime,
                     first_filed_at: datetime | None = None) -> str:
    """Filed and not applicable are facts; late is derived from the clock (a first filing after the
    due time is "filed late"); otherwise Legal's status."""
    if obligation.applicability not in APPLICABLE:
        return ObligationStatus.not_applicable.value
    if filed:
        late, _ = timeliness(obligation, first_filed_at) if first_filed_at is not None else (None, "")
        return FILED_LATE if late else ObligationStatus.filed.value
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
    "obligation_id", "rule_id", "jurisdiction", "regime", "citation", "recipient", "recipient_name", "recipient_short",
    "applicability", "reason", "deadline", "trigger", "clock_started_at", "due_at", "clock_note", "status", "filed_at", "filed_by",
    "reference", "filings", "timeliness", "corrections", "flags", "confidence", "source", "source_urls",
    "in_force", "applies_since", "version",
]


def obligations_register(engine: Engine, *, actor: Actor | None, incident_id: int,
                         now: datetime | None = None) -> pd.DataFrame:
    """Every obligation with its rule, reason, clock, effective status, its first filing (what the
    deadline is judged by) and any corrections; sorted by deadline (no deadline last, then not
    applicable)."""
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
        own = filings.get(o.id, [])
        first = min(own, key=lambda f: (as_utc(f.filed_at), f.id)) if own else None
        corrections = [f for f in own if f.corrects_id is not None]
        _, on_time = timeliness(o, first.filed_at) if first else (None, "")
        correction_text = "; ".join(f"#{f.id} corrects #{f.corrects_id}: {as_utc(f.filed_at):%Y-%m-%d %H:%M} UTC"
                                    + (f" ({f.reference})" if f.reference else "") for f in corrections)
        rows.append({
            "obligation_id": o.id, "rule_id": o.rule_id, "jurisdiction": o.jurisdiction, "regime": o.regime,
            "citation": rule.citation if rule else "", "recipient": o.recipient,
            "recipient_name": rule.recipient_name if rule else o.recipient,
            "recipient_short": short_recipient(rule.recipient_name if rule else RECIPIENT_NAMES.get(o.recipient,
                                                                                                  o.recipient)),
            "applicability": o.applicability,
            "reason": o.reason, "deadline": rule.describe_deadline() if rule else "",
            "trigger": rule.trigger.replace("_", " ") if rule else "", "clock_started_at": o.clock_started_at,
            "due_at": o.due_at, "clock_note": o.clock_note,
            "status": effective_status(o, filed=first is not None, now=now,
                                       first_filed_at=first.filed_at if first else None),
            "filed_at": first.filed_at if first else None, "filed_by": first.filed_by if first else "",
            "reference": first.reference if first else "", "filings": len(own), "timeliness": on_time,
            "corrections": correction_text,
            "flags": ", ".join(o.flags or []), "confidence": rule.confidence if rule else "entered by hand",
            "source": o.source, "source_urls": " ".join(rule.source_urls) if rule else "",
            "in_force": _in_force_words(rule),
            "applies_since": o.applies_since, "version": o.version})
    frame = pd.DataFrame(rows, columns=REGISTER_COLUMNS)
    order = {Applicability.applies.value: 0, Applicability.may_apply.value: 1,
             Applicability.no_longer_applies.value: 2, Applicability.not_applicable.value: 3}
    frame["_group"] = frame["applicability"].map(order).fillna(3)
    frame["_no_due"] = frame["due_at"].isna()
    frame = frame.sort_values(["_group", "_no_due", "due_at", "rule_id"]).drop(columns=["_group", "_no_due"])
    return frame.reset_index(drop=True)


def upcoming_obligations(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Applicable obligations not yet filed, soonest deadline first (what is due); then those filed
    late, which still count as late (and need the reasons for the delay on record)."""
    register = obligations_register(engine, actor=actor, incident_id=incident_id)
    applicable = register[register["applicability"].isin(APPLICABLE)]
    open_ = applicable[~applicable["status"].isin([ObligationStatus.filed.value, ObligationStatus.not_applicable.value,
                                                   FILED_LATE])]
    filed_late = applicable[applicable["status"] == FILED_LATE]
    return pd.concat([open_, filed_late]).reset_index(drop=True) if len(filed_late) else open_.reset_index(drop=True)


def is_open(frame: pd.DataFrame) -> pd.Series:
    """Rows of `upcoming_obligations` whose deadline is still running (not filed late)."""
    return frame["status"] != FILED_LATE


def _in_force_words(rule) -> str:
    if rule is None:
        return ""
    span = f"{rule.in_force_from.isoformat() if rule.in_force_from else '…'} – " \
           f"{rule.in_force_until.isoformat() if rule.in_force_until else 'today'}"
    return span + (f" (replaces {rule.replaces})" if rule.replaces else "")


# Why a rule does not apply, as a handful of kinds (the register summarises by these; the full
# reasons go in its appendix).
_NOT_APPLICABLE_KINDS = (
    ("Not in force at the time of the incident", ("Not in force until", "No longer in force after")),
    ("Not in force (proposed or not yet started)", ("Not in force (", "Not yet in force")),
    ("The company's sector is not recorded", ("Applies only if the company is",)),
    ("No affected residents of the jurisdiction", ("No affected residents",)),
    ("The triggering data is not exposed", ("None of the triggering data", "No personal data")),
    ("Exempt: the data was encrypted and the key not taken", ("Exempt:",)),
    ("Follows a rule that does not apply", ("Follows ",)),
    ("Legal recorded that it does not apply", ("Legal:",)),
)


def not_applicable_kind(reason: str) -> str:
    for kind, prefixes in _NOT_APPLICABLE_KINDS:
        if reason.startswith(prefixes):
            return kind
    return "Below the threshold" if "threshold" in reason else "Other"


def not_applicable_summary(register: pd.DataFrame) -> pd.DataFrame:
    """Rules that do not apply, counted per kind of reason, with a few rule ids as examples."""
    rest = register[register["applicability"] == Applicability.not_applicable.value]
    kinds = rest["reason"].map(not_applicable_kind)
    rows = [{"why": kind, "rules": len(group), "examples": ", ".join(group["rule_id"].head(6))
             + (" …" if len(group) > 6 else "")} for kind, group in rest.groupby(kinds, sort=False)]
    return pd.DataFrame(rows, columns=["why", "rules", "examples"]).sort_values(
        "rules", ascending=False).reset_index(drop=True)
