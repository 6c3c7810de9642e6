"""Review markers: "Start review" records where things stand; "since the last review" lists what
changed after it, in an executive's words."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.comms.service import phase_detail, phase_progress
from breachdash.common import as_utc, utcnow
from breachdash.db import read_session, write_session
from breachdash.display import local_time
from breachdash.errors import NotFound
from breachdash.obligations.service import APPLICABLE, obligations_register
from breachdash.outreach.service import outreach_totals
from breachdash.reference import data_types as catalogue
from breachdash.reviews.models import ReviewMarker
from breachdash.reviews.rules import Change, describe_changes
from breachdash.scope.models import ScopeRevision
from breachdash.scope.models import ScopePopulation
from breachdash.scope.rules import figure_of
from breachdash.scope.service import scope_state
from breachdash.timeline.models import TimelineEvent


def _data_type_summary(frame: pd.DataFrame, types: dict) -> dict:
    """Data type -> name, tier and strongest status across populations."""
    out: dict[str, dict] = {}
    for r in frame.itertuples():
        item = out.setdefault(r.data_type, {"name": r.name, "tier": types[r.data_type].tier if r.data_type in types
                                            else "unknown", "status": r.status})
        if r.status == "confirmed":
            item["status"] = "confirmed"
    return out


def status_snapshot(engine: Engine, *, actor: Actor | None, incident_id: int) -> dict:
    """Where the incident stands, as plain JSON: the baseline a review compares against."""
    require_signed_in(actor)
    scope = scope_state(engine, actor=actor, incident_id=incident_id)
    types = catalogue()
    phases = phase_progress(engine, actor=actor, incident_id=incident_id)
    sign_offs = {}
    for phase in phases.itertuples():
        detail = phase_detail(engine, actor=actor, phase_id=int(phase.phase_id))
        if detail["latest"] is None:
            continue
        for view in detail["sign_offs"].itertuples():
            key = f"{phase.phase}|v{detail['latest'].number}|{view.role}"
            sign_offs[key] = view.standing if view.decision == "approve" else view.decision
    outreach = outreach_totals(engine, actor=actor, incident_id=incident_id)
    register = obligations_register(engine, actor=actor, incident_id=incident_id)
    applicable = register[register["applicability"].isin(APPLICABLE)]
    with read_session(engine) as session:
        last_event = session.exec(select(TimelineEvent.id).where(TimelineEvent.incident_id == incident_id)
                                  .order_by(col(TimelineEvent.id).desc()).limit(1)).first()
    return {
        "revision_seq": scope.latest_seq if scope else None,
        "populations": {} if scope is None else {
            p.key: {"label": p.label, "figure": p.figure.describe(p.unit), "seq": p.seq} for p in scope.populations},
        "total": None if scope is None or scope.total is None else scope.total.describe(scope.total_unit),
        "data_types": {} if scope is None else _data_type_summary(scope.data_types, types),
        "phases": {r.key: {"name": r.phase, "status": r.status} for r in phases.itertuples()},
        "sign_offs": sign_offs,
        "outreach": {r.key: {"name": r.phase, "delivered": int(r.delivered), "targeted": int(r.targeted)}
                     for r in outreach.itertuples()},
        "obligations": {r.rule_id: {"regime": r.regime, "recipient": r.recipient_short,
                                    "status": r.status,
                                    "due": None if pd.isna(r.due_at) else r.due_at.strftime("%Y-%m-%d %H:%M UTC")}
                        for r in applicable.itertuples()},
        "last_event_id": last_event or 0,
    }


def start_review(engine: Engine, *, actor: Actor, incident_id: int) -> ReviewMarker:
    """Record a review point: who, when, and the status it starts from."""
    require(actor, Action.start_review)
    snapshot = status_snapshot(engine, actor=actor, incident_id=incident_id)
    with write_session(engine) as session:
        marker = ReviewMarker(incident_id=incident_id, started_by=actor.email, snapshot=snapshot)
        session.add(marker)
        session.flush()
        record_audit(session, actor=actor.email, action="review.started", entity_type="review_marker",
                     entity_id=marker.id, incident_id=incident_id,
                     after={"revision_seq": snapshot["revision_seq"], "total": snapshot["total"]})
    return marker


@dataclass
class SinceReview:
    marker: ReviewMarker | None
    changes: list[Change]
    read_at: datetime


def latest_review(engine: Engine, *, actor: Actor | None, incident_id: int) -> ReviewMarker | None:
    require_signed_in(actor)
    with read_session(engine) as session:
        return session.exec(select(ReviewMarker).where(ReviewMarker.incident_id == incident_id)
                            .order_by(col(ReviewMarker.id).desc()).limit(1)).first()


def since_last_review(engine: Engine, *, actor: Actor | None, incident_id: int) -> SinceReview:
    """Everything that changed after the latest review marker (nothing to compare without one)."""
    return since_review(engine, actor=actor, incident_id=incident_id)


def since_review(engine: Engine, *, actor: Actor | None, incident_id: int, review_id: int | None = None) -> SinceReview:
    """Everything that changed after a review marker of this incident: `review_id`, or the latest
    (nothing to compare without one). A marker of another incident is not found."""
    if review_id is None:
        marker = latest_review(engine, actor=actor, incident_id=incident_id)
    else:
        require_signed_in(actor)
        with read_session(engine) as session:
            marker = session.exec(select(ReviewMarker).where(ReviewMarker.id == review_id,
                                                             ReviewMarker.incident_id == incident_id)).first()
        if marker is None:
            raise NotFound(f"This incident has no review {review_id}.")
    now = utcnow()
    if marker is None:
        return SinceReview(None, [], now)
    current = status_snapshot(engine, actor=actor, incident_id=incident_id)
    with read_session(engine) as session:
        revisions = session.exec(select(ScopeRevision, ScopePopulation)
                                 .join(ScopePopulation, ScopePopulation.id == ScopeRevision.population_id)
                                 .where(ScopeRevision.incident_id == incident_id,
                                        ScopeRevision.recorded_at > as_utc(marker.started_at))
                                 .order_by(col(ScopeRevision.seq))).all()
        events = session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                                          TimelineEvent.id > marker.snapshot.get("last_event_id", 0))
                              .order_by(col(TimelineEvent.id))).all()
    changes = describe_changes(
        marker.snapshot, current,
        revisions=[{"seq": r.seq, "population": p.key, "label": p.label, "figure": figure_of(r).describe(r.unit),
                    "reason": r.reason, "recorded_by": r.recorded_by} for r, p in revisions],
        events=[{"title": e.title, "kind": e.kind} for e in events])
    return SinceReview(marker, changes, now)


def reviews_frame(engine: Engine, *, actor: Actor | None, incident_id: int, zone: str = "UTC") -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        markers = session.exec(select(ReviewMarker).where(ReviewMarker.incident_id == incident_id)
                               .order_by(col(ReviewMarker.id).desc())).all()
    return pd.DataFrame([{"review_id": m.id, "started": local_time(m.started_at, zone), "by": m.started_by,
                          "estimate": m.snapshot.get("total") or m.snapshot.get("best")} for m in markers],
                        columns=["review_id", "started", "by", "estimate"])
