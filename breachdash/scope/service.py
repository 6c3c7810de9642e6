"""Scope revisions: the only writer of estimates, and the reads the pages need."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.common import as_utc
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, InvalidInput, NotFound
from breachdash.incidents.models import Incident
from breachdash.reference import data_types, tier_rank, tiers
from breachdash.scope.models import (
    ScopeCell,
    ScopeDataTypeCount,
    ScopeRegionCount,
    ScopeRevision,
    ScopeRevisionCreate,
    ScopeSystemCount,
)
from breachdash.scope.rules import describe_change, revision_problems
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event


def validate_revision(revision_in: ScopeRevisionCreate | dict) -> ScopeRevisionCreate:
    revision_in = validate_input(ScopeRevisionCreate, revision_in)
    problems = revision_problems(revision_in)
    if problems:
        raise InvalidInput(problems)
    return revision_in


def lock_incident(session: Session, incident_id: int) -> Incident:
    """Serialise per-incident sequences (SQLite holds the write lock already)."""
    incident = session.exec(select(Incident).where(Incident.id == incident_id).with_for_update()).first()
    if incident is None:
        raise NotFound(f"No incident with id {incident_id}.")
    return incident


def add_revision(
    session: Session, *, actor: Actor, incident_id: int, revision_in: ScopeRevisionCreate,
    source: str = "manual", source_file_sha256: str | None = None,
) -> ScopeRevision:
    """Write a validated revision inside the caller's transaction (file imports reuse this)."""
    lock_incident(session, incident_id)
    previous = session.exec(
        select(ScopeRevision).where(ScopeRevision.incident_id == incident_id)
        .order_by(col(ScopeRevision.seq).desc()).limit(1)
    ).first()
    if revision_in.corrects_seq is not None and (previous is None or revision_in.corrects_seq > previous.seq):
        raise InvalidInput.single("corrects_seq", f"there is no revision {revision_in.corrects_seq} to correct")
    revision = ScopeRevision(
        incident_id=incident_id,
        seq=(previous.seq + 1) if previous else 1,
        low=revision_in.low, best=revision_in.best, high=revision_in.high,
        unit=revision_in.unit.value, scope_label=revision_in.scope_label,
        confidence=revision_in.confidence.value, method=revision_in.method, reason=revision_in.reason,
        corrects_seq=revision_in.corrects_seq, source=source, source_file_sha256=source_file_sha256,
        recorded_by=actor.email,
    )
    session.add(revision)
    session.flush()
    for item in revision_in.data_types:
        session.add(ScopeDataTypeCount(revision_id=revision.id, data_type=item.data_type,
                                       count=item.count, status=item.status.value))
    for item in revision_in.regions:
        session.add(ScopeRegionCount(revision_id=revision.id, region=item.region.strip().upper(), count=item.count))
    for item in revision_in.systems:
        session.add(ScopeSystemCount(revision_id=revision.id, system=item.system, count=item.count))
    session.add_all([ScopeCell(revision_id=revision.id, data_type=cell.data_type, region=cell.region.strip().upper(),
                               count=cell.count) for cell in revision_in.cells])
    session.flush()
    same_unit = previous is not None and previous.unit == revision.unit
    change = describe_change(previous.best if same_unit else None, revision.best, revision.unit)
    if previous is not None and not same_unit:
        change += f" (earlier revisions counted {previous.unit})"
    title = f"Scope revision {revision.seq}: {change}"
    if revision.corrects_seq:
        title += f" (corrects revision {revision.corrects_seq})"
    log_event(session, incident_id=incident_id, kind=EventKind.scope_revision, title=title,
              detail=f"Range {revision.low:,}–{revision.high:,} {revision.unit}. Method: {revision.method or '—'}. "
                     f"Reason: {revision.reason or '—'}",
              systems=[item.system for item in revision_in.systems], recorded_by=actor.email,
              origin=("scope_revision", revision.seq))
    record_audit(session, actor=actor.email, action="scope.revised", entity_type="scope_revision",
                 entity_id=revision.id, incident_id=incident_id,
                 after={**revision_in.model_dump(mode="json"), "seq": revision.seq, "source": source})
    # The scope decides which notification clocks run: recompute them in the same transaction.
    from breachdash.obligations.service import recompute_obligations

    recompute_obligations(session, incident_id=incident_id, actor_email=actor.email,
                          cause=f"scope revision {revision.seq}")
    return revision


def record_revision(
    engine: Engine, *, actor: Actor, incident_id: int, revision_in: ScopeRevisionCreate | dict
) -> ScopeRevision:
    require(actor, Action.revise_scope)
    revision_in = validate_revision(revision_in)
    with write_session(engine) as session:
        return add_revision(session, actor=actor, incident_id=incident_id, revision_in=revision_in)


@dataclass(frozen=True)
class CurrentScope:
    seq: int
    low: int
    best: int
    high: int
    unit: str
    confidence: str
    recorded_at: object
    recorded_by: str
    previous_best: int | None
    data_types: pd.DataFrame  # data_type, name, tier, tier_name, tier_rank, count, status
    regions: pd.DataFrame  # region, count


def latest_revision(session: Session, incident_id: int, as_known_at: datetime | None = None) -> ScopeRevision | None:
    query = select(ScopeRevision).where(ScopeRevision.incident_id == incident_id)
    if as_known_at is not None:
        query = query.where(ScopeRevision.recorded_at <= as_utc(as_known_at))
    return session.exec(query.order_by(col(ScopeRevision.seq).desc()).limit(1)).first()


def current_scope(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> CurrentScope | None:
    """The latest revision (as recorded by `as_known_at`, if given) with its breakdowns."""
    require_signed_in(actor)
    with read_session(engine) as session:
        latest = latest_revision(session, incident_id, as_known_at)
        if latest is None:
            return None
        previous = session.exec(
            select(ScopeRevision.best).where(ScopeRevision.incident_id == incident_id,
                                             ScopeRevision.seq == latest.seq - 1,
                                             ScopeRevision.unit == latest.unit)
        ).first()
        type_rows = session.exec(select(ScopeDataTypeCount).where(ScopeDataTypeCount.revision_id == latest.id)).all()
        region_rows = session.exec(select(ScopeRegionCount).where(ScopeRegionCount.revision_id == latest.id)).all()
    catalogue, tier_info = data_types(), tiers()
    types = pd.DataFrame(
        [
            {
                "data_type": row.data_type,
                "name": catalogue[row.data_type].display_name if row.data_type in catalogue else row.data_type,
                "tier": catalogue[row.data_type].tier if row.data_type in catalogue else "unknown",
                "tier_name": tier_info[catalogue[row.data_type].tier].display_name if row.data_type in catalogue else "Unknown",
                "tier_rank": tier_rank(row.data_type),
                "count": row.count,
                "status": row.status,
            }
            for row in type_rows
        ],
        columns=["data_type", "name", "tier", "tier_name", "tier_rank", "count", "status"],
    ).sort_values(["tier_rank", "count"], ascending=[True, False], ignore_index=True)
    regions = pd.DataFrame([{"region": r.region, "count": r.count} for r in region_rows],
                           columns=["region", "count"]).sort_values("count", ascending=False, ignore_index=True)
    return CurrentScope(
        seq=latest.seq, low=latest.low, best=latest.best, high=latest.high, unit=latest.unit,
        confidence=latest.confidence, recorded_at=latest.recorded_at, recorded_by=latest.recorded_by,
        previous_best=previous, data_types=types, regions=regions,
    )


def revision_history(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        query = select(ScopeRevision).where(ScopeRevision.incident_id == incident_id)
        if as_known_at is not None:
            query = query.where(ScopeRevision.recorded_at <= as_utc(as_known_at))
        rows = session.exec(query.order_by(col(ScopeRevision.seq))).all()
    frame = pd.DataFrame(
        [{"seq": r.seq, "recorded_at": r.recorded_at, "recorded_by": r.recorded_by, "low": r.low, "best": r.best,
          "high": r.high, "unit": r.unit, "confidence": r.confidence, "method": r.method, "reason": r.reason,
          "corrects_seq": r.corrects_seq, "source": r.source} for r in rows],
        columns=["seq", "recorded_at", "recorded_by", "low", "best", "high", "unit", "confidence", "method",
                 "reason", "corrects_seq", "source"],
    )
    # Change of the best estimate since the previous revision in the same unit (None across units).
    previous = frame["best"].shift(1)
    same_unit = frame["unit"] == frame["unit"].shift(1)
    frame["change"] = (frame["best"] - previous).where(same_unit).astype("Int64")
    return frame


def exposure_cells(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """The latest revision's data type x region counts, with display names and tiers."""
    require_signed_in(actor)
    with read_session(engine) as session:
        latest = latest_revision(session, incident_id)
        rows = [] if latest is None else session.exec(
            select(ScopeCell).where(ScopeCell.revision_id == latest.id)).all()
    catalogue = data_types()
    return pd.DataFrame(
        [{"data_type": r.data_type, "name": catalogue[r.data_type].display_name if r.data_type in catalogue
          else r.data_type, "tier_rank": tier_rank(r.data_type), "region": r.region, "count": r.count}
         for r in rows],
        columns=["data_type", "name", "tier_rank", "region", "count"],
    )


def latest_systems(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        latest = latest_revision(session, incident_id)
        rows = [] if latest is None else session.exec(
            select(ScopeSystemCount).where(ScopeSystemCount.revision_id == latest.id)).all()
    return pd.DataFrame([{"system": r.system, "count": r.count} for r in rows], columns=["system", "count"])


def revision_input_from_tables(
    fields: dict, *, data_types_table: pd.DataFrame, regions_table: pd.DataFrame, systems_table: pd.DataFrame
) -> dict:
    """Shape a form's fields and edited tables into revision input; blank rows are skipped and a
    row missing its count is reported with its table and row number."""
    problems: list[tuple[str, str]] = []

    def rows(table: pd.DataFrame, key: str, name: str, *, count_required: bool = True) -> list[dict]:
        out = []
        for index, row in enumerate(table.to_dict("records")):
            label = row.get(key)
            if label is None or (isinstance(label, float) and pd.isna(label)) or not str(label).strip():
                continue
            item = {key: str(label).strip()}
            count = row.get("count")
            if count is None or pd.isna(count):
                if count_required:
                    problems.append((f"{name}[{index}].count", "missing"))
                    continue
                item["count"] = None
            else:
                item["count"] = count
            if "status" in row and row["status"]:
                item["status"] = row["status"]
            out.append(item)
        return out

    revision = {
        **fields,
        "data_types": rows(data_types_table, "data_type", "data_types"),
        "regions": rows(regions_table, "region", "regions"),
        "systems": rows(systems_table, "system", "systems", count_required=False),
    }
    if problems:
        raise InvalidInput(problems)
    return revision
