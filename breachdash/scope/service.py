"""Scope revisions: the only writer of estimates, and the reads the pages need."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require, require_signed_in
from breachdash.common import as_utc
from breachdash.db import read_session, write_session
from breachdash.errors import validate_input, Conflict, InvalidInput, NotFound, StaleUpdate
from breachdash.flows import after_population_change, after_scope_revision
from breachdash.incidents.models import Incident
from breachdash.reference import data_types, tier_rank, tiers
from breachdash.scope.models import (
    DEFAULT_POPULATION,
    CountUnit,
    ScopeCell,
    ScopeDataTypeCount,
    ScopePopulation,
    ScopePopulationCreate,
    ScopePopulationUpdate,
    ScopeRegionCount,
    ScopeRevision,
    ScopeRevisionCreate,
    ScopeSystemCount,
)
from breachdash.scope.rules import Figure, describe_change, figure_of, meaningful_total, is_valid_scope_region, revision_problems
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update


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


# ---------------------------------------------------------------- populations

def _population_problems(jurisdictions: list[str] | None) -> list[tuple[str, str]]:
    return [(f"jurisdictions[{i}]", f"unknown region code {code!r} (use ISO 3166, EU, EEA or ZZ for not known)")
            for i, code in enumerate(jurisdictions or []) if not is_valid_scope_region(code.strip().upper())]


def _new_population(session: Session, *, actor: Actor, incident_id: int,
                    population_in: ScopePopulationCreate) -> ScopePopulation:
    if session.exec(select(ScopePopulation.id).where(ScopePopulation.incident_id == incident_id,
                                                     ScopePopulation.key == population_in.key)).first():
        raise Conflict(f"This incident already has a population with the key {population_in.key!r}.")
    position = session.exec(select(func.count()).select_from(ScopePopulation)
                            .where(ScopePopulation.incident_id == incident_id)).one()
    population = ScopePopulation(
        incident_id=incident_id, key=population_in.key, label=population_in.label,
        jurisdictions=sorted({code.strip().upper() for code in population_in.jurisdictions}),
        unit=population_in.unit.value, disjoint=population_in.disjoint, position=position,
        created_by=actor.email, updated_by=actor.email)
    session.add(population)
    session.flush()
    record_audit(session, actor=actor.email, action="scope.population_added", entity_type="scope_population",
                 entity_id=population.id, incident_id=incident_id, after=population_in.model_dump(mode="json"))
    return population


def add_population(engine: Engine, *, actor: Actor, incident_id: int,
                   population_in: ScopePopulationCreate | dict) -> ScopePopulation:
    require(actor, Action.revise_scope)
    population_in = validate_input(ScopePopulationCreate, population_in)
    problems = _population_problems(population_in.jurisdictions)
    if problems:
        raise InvalidInput(problems)
    with write_session(engine) as session:
        lock_incident(session, incident_id)
        population = _new_population(session, actor=actor, incident_id=incident_id, population_in=population_in)
        log_event(session, incident_id=incident_id, kind=EventKind.scope_revision,
                  title=f"Population added: {population.label} ({population.unit})", recorded_by=actor.email)
    return population


def update_population(engine: Engine, *, actor: Actor, population_id: int, changes: ScopePopulationUpdate | dict,
                      expected_version: int) -> ScopePopulation:
    require(actor, Action.revise_scope)
    changes = validate_input(ScopePopulationUpdate, changes)
    problems = _population_problems(changes.jurisdictions)
    if problems:
        raise InvalidInput(problems)
    values = changes.model_dump(exclude_unset=True, mode="json")
    if "jurisdictions" in values:
        values["jurisdictions"] = sorted({code.strip().upper() for code in values["jurisdictions"]})
    with write_session(engine) as session:
        current = session.get(ScopePopulation, population_id)
        if current is None:
            raise NotFound(f"No population with id {population_id}.")
        before = current.model_dump(mode="json", include=set(values))
        updated = apply_versioned_update(session, ScopePopulation, row_id=population_id,
                                         expected_version=expected_version, changes=values, actor_email=actor.email)
        record_audit(session, actor=actor.email, action="scope.population_changed", entity_type="scope_population",
                     entity_id=population_id, incident_id=updated.incident_id, before=before, after=values)
        after_population_change(session, incident_id=updated.incident_id, actor_email=actor.email,
                                label=updated.label)
    return updated


def _population_for(session: Session, *, actor: Actor, incident_id: int, key: str, unit: str) -> ScopePopulation:
    population = session.exec(select(ScopePopulation).where(ScopePopulation.incident_id == incident_id,
                                                            ScopePopulation.key == key)).first()
    if population is not None:
        return population
    if key != DEFAULT_POPULATION:
        raise InvalidInput.single("population", f"this incident has no population {key!r}; add it first")
    return _new_population(session, actor=actor, incident_id=incident_id, population_in=ScopePopulationCreate(
        key=DEFAULT_POPULATION, label="All affected", unit=unit))


def _population_revisions(session: Session, population_id: int, as_known_at: datetime | None = None):
    query = select(ScopeRevision).where(ScopeRevision.population_id == population_id)
    if as_known_at is not None:
        query = query.where(ScopeRevision.recorded_at <= as_utc(as_known_at))
    return session.exec(query.order_by(col(ScopeRevision.seq))).all()


# ---------------------------------------------------------------- revisions

def add_revision(
    session: Session, *, actor: Actor, incident_id: int, revision_in: ScopeRevisionCreate,
    source: str = "manual", source_file_sha256: str | None = None,
) -> ScopeRevision:
    """Write a validated revision of one population inside the caller's transaction (file imports
    reuse this). Other populations are untouched."""
    lock_incident(session, incident_id)
    unit_given = revision_in.unit.value if revision_in.unit else None
    population = _population_for(session, actor=actor, incident_id=incident_id, key=revision_in.population,
                                 unit=unit_given or CountUnit.individuals.value)
    history = _population_revisions(session, population.id)
    latest_of_population = history[-1] if history else None
    if revision_in.based_on_seq is not None and (latest_of_population.seq if latest_of_population else 0) \
            != revision_in.based_on_seq:
        when = as_utc(latest_of_population.recorded_at).strftime("%Y-%m-%d %H:%M UTC")
        raise StaleUpdate(f"{population.label} was revised by {latest_of_population.recorded_by} at {when} "
                          f"(revision {latest_of_population.seq}) after you opened the form — reload to see it; "
                          "your entries are kept.")
    last_seq = session.exec(select(func.max(ScopeRevision.seq)).where(ScopeRevision.incident_id == incident_id)).one()
    if revision_in.corrects_seq is not None and not any(r.seq == revision_in.corrects_seq for r in history):
        raise InvalidInput.single("corrects_seq", f"{population.label} has no revision {revision_in.corrects_seq} "
                                                  "to correct")
    unit = unit_given or (history[-1].unit if history else population.unit)
    revision = ScopeRevision(
        incident_id=incident_id, population_id=population.id, seq=(last_seq or 0) + 1,
        figure_kind=revision_in.figure_kind.value, low=revision_in.low, best=revision_in.best, high=revision_in.high,
        wording=revision_in.wording, unit=unit, sources=[src.model_dump(mode="json") for src in revision_in.sources],
        confidence=revision_in.confidence.value, method=revision_in.method, reason=revision_in.reason,
        corrects_seq=revision_in.corrects_seq, source=source, source_file_sha256=source_file_sha256,
        recorded_by=actor.email,
    )
    session.add(revision)
    session.flush()
    for item in revision_in.data_types:
        session.add(ScopeDataTypeCount(revision_id=revision.id, data_type=item.data_type, count=item.count,
                                       count_kind=item.count_kind.value, status=item.status.value,
                                       protection=item.protection.value))
    for item in revision_in.regions:
        session.add(ScopeRegionCount(revision_id=revision.id, region=item.region.strip().upper(), count=item.count,
                                     count_kind=item.count_kind.value))
    for item in revision_in.systems:
        session.add(ScopeSystemCount(revision_id=revision.id, system=item.system, count=item.count))
    session.add_all([ScopeCell(revision_id=revision.id, data_type=cell.data_type, region=cell.region.strip().upper(),
                               count=cell.count) for cell in revision_in.cells])
    session.flush()
    previous = next((r for r in reversed(history) if r.unit == unit), None)
    change = describe_change(figure_of(previous) if previous else None, figure_of(revision), unit)
    if previous is None and history:
        change += f" (earlier revisions counted {history[-1].unit})"
    title = f"Scope revision {revision.seq} — {population.label}: {change}"
    if revision.corrects_seq:
        title += f" (corrects revision {revision.corrects_seq})"
    log_event(session, incident_id=incident_id, kind=EventKind.scope_revision, title=title[:300],
              detail=f"{population.label}: {figure_of(revision).describe(unit)}. Method: {revision.method or '—'}. "
                     f"Reason: {revision.reason or '—'}",
              systems=[item.system for item in revision_in.systems], recorded_by=actor.email,
              origin=("scope_revision", revision.seq))
    record_audit(session, actor=actor.email, action="scope.revised", entity_type="scope_revision",
                 entity_id=revision.id, incident_id=incident_id,
                 after={**revision_in.model_dump(mode="json"), "unit": unit, "seq": revision.seq, "source": source})
    after_scope_revision(session, incident_id=incident_id, actor_email=actor.email, seq=revision.seq)
    return revision


def record_revision(
    engine: Engine, *, actor: Actor, incident_id: int, revision_in: ScopeRevisionCreate | dict
) -> ScopeRevision:
    require(actor, Action.revise_scope)
    revision_in = validate_revision(revision_in)
    with write_session(engine) as session:
        return add_revision(session, actor=actor, incident_id=incident_id, revision_in=revision_in)


# ---------------------------------------------------------------- reads

@dataclass(frozen=True)
class PopulationScope:
    """One population's latest revision (as known at a moment), with its breakdowns."""

    id: int
    key: str
    label: str
    unit: str
    jurisdictions: tuple[str, ...]
    disjoint: bool
    version: int
    seq: int
    figure: Figure
    confidence: str
    recorded_at: datetime
    recorded_by: str
    previous: Figure | None  # the population's previous revision in the same unit
    previous_seq: int | None
    data_types: pd.DataFrame  # data_type, name, tier, tier_name, tier_rank, count, count_kind, figure, status, protection
    regions: pd.DataFrame  # region, count, count_kind, figure

    @property
    def changed(self) -> bool:
        return self.previous is not None and self.previous != self.figure


@dataclass(frozen=True)
class ScopeState:
    """Every population's current figure. `total` is set only where adding up means something:
    one population, or several of one unit all marked as counted in no other."""

    populations: list[PopulationScope]
    total: Figure | None
    total_unit: str | None

    @property
    def latest_seq(self) -> int:
        return max(p.seq for p in self.populations)

    @property
    def recorded_at(self) -> datetime:
        return max(p.recorded_at for p in self.populations)

    @property
    def data_types(self) -> pd.DataFrame:
        """Data types of every population (a column names the population), financial first."""
        frames = [p.data_types.assign(population=p.label, population_key=p.key, unit=p.unit)
                  for p in self.populations if len(p.data_types)]
        if not frames:
            return pd.DataFrame(columns=[*DATA_TYPE_COLUMNS, "population", "population_key", "unit"])
        return pd.concat(frames, ignore_index=True).sort_values(["tier_rank", "population_key"], ignore_index=True)


DATA_TYPE_COLUMNS = ["data_type", "name", "tier", "tier_name", "tier_rank", "count", "count_kind", "figure", "status",
                     "protection"]


def _data_type_frame(rows) -> pd.DataFrame:
    catalogue, tier_info = data_types(), tiers()
    records = []
    for row in rows:
        known = catalogue.get(row.data_type)
        figure = Figure.from_count(row.count, row.count_kind)
        records.append({
            "data_type": row.data_type, "name": known.display_name if known else row.data_type,
            "tier": known.tier if known else "unknown",
            "tier_name": tier_info[known.tier].display_name if known else "Unknown",
            "tier_rank": tier_rank(row.data_type), "count": figure.point, "count_kind": row.count_kind,
            "figure": figure, "status": row.status, "protection": row.protection,
        })
    frame = pd.DataFrame(records, columns=DATA_TYPE_COLUMNS)
    frame["count"] = frame["count"].astype("Int64")
    return frame.sort_values(["tier_rank", "count"], ascending=[True, False], ignore_index=True, na_position="last")


def _region_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"region": r.region, "count": Figure.from_count(r.count, r.count_kind).point, "count_kind": r.count_kind,
          "figure": Figure.from_count(r.count, r.count_kind)} for r in rows],
        columns=["region", "count", "count_kind", "figure"])
    frame["count"] = frame["count"].astype("Int64")
    return frame.sort_values("count", ascending=False, ignore_index=True, na_position="last")


def scope_state(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> ScopeState | None:
    """Each population's latest revision (as recorded by `as_known_at`, if given) with breakdowns."""
    require_signed_in(actor)
    with read_session(engine) as session:
        populations = session.exec(select(ScopePopulation).where(ScopePopulation.incident_id == incident_id)
                                   .order_by(col(ScopePopulation.position), col(ScopePopulation.id))).all()
        found = []
        for population in populations:
            history = _population_revisions(session, population.id, as_known_at)
            if not history:
                continue
            latest = history[-1]
            previous = next((r for r in reversed(history[:-1]) if r.unit == latest.unit), None)
            type_rows = session.exec(select(ScopeDataTypeCount).where(ScopeDataTypeCount.revision_id == latest.id)).all()
            region_rows = session.exec(select(ScopeRegionCount).where(ScopeRegionCount.revision_id == latest.id)).all()
            found.append(PopulationScope(
                id=population.id, key=population.key, label=population.label, unit=latest.unit,
                jurisdictions=tuple(population.jurisdictions or ()), disjoint=population.disjoint,
                version=population.version, seq=latest.seq, figure=figure_of(latest), confidence=latest.confidence,
                recorded_at=latest.recorded_at, recorded_by=latest.recorded_by,
                previous=figure_of(previous) if previous else None, previous_seq=previous.seq if previous else None,
                data_types=_data_type_frame(type_rows), regions=_region_frame(region_rows)))
    if not found:
        return None
    total, unit = meaningful_total([(p.figure, p.unit, p.disjoint) for p in found])
    return ScopeState(populations=found, total=total, total_unit=unit)


def populations_frame(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Every population, including those with no revision yet (for forms)."""
    require_signed_in(actor)
    with read_session(engine) as session:
        rows = session.exec(select(ScopePopulation).where(ScopePopulation.incident_id == incident_id)
                            .order_by(col(ScopePopulation.position), col(ScopePopulation.id))).all()
        latest = dict(session.exec(select(ScopeRevision.population_id, func.max(ScopeRevision.seq))
                                   .where(ScopeRevision.incident_id == incident_id)
                                   .group_by(ScopeRevision.population_id)).all())
    return pd.DataFrame(
        [{"id": r.id, "key": r.key, "label": r.label, "unit": r.unit, "jurisdictions": list(r.jurisdictions or []),
          "disjoint": r.disjoint, "version": r.version, "latest_seq": latest.get(r.id, 0)} for r in rows],
        columns=["id", "key", "label", "unit", "jurisdictions", "disjoint", "version", "latest_seq"])


def latest_revision(session: Session, incident_id: int, as_known_at: datetime | None = None) -> ScopeRevision | None:
    """The incident's newest revision of any population."""
    query = select(ScopeRevision).where(ScopeRevision.incident_id == incident_id)
    if as_known_at is not None:
        query = query.where(ScopeRevision.recorded_at <= as_utc(as_known_at))
    return session.exec(query.order_by(col(ScopeRevision.seq).desc()).limit(1)).first()


def latest_revisions(session: Session, incident_id: int) -> list[ScopeRevision]:
    """Each population's newest revision."""
    newest = (select(func.max(ScopeRevision.seq)).where(ScopeRevision.incident_id == incident_id)
              .group_by(ScopeRevision.population_id))
    return list(session.exec(select(ScopeRevision).where(ScopeRevision.incident_id == incident_id,
                                                         col(ScopeRevision.seq).in_(newest))
                             .order_by(col(ScopeRevision.seq))).all())


@dataclass(frozen=True)
class PopulationFigure:
    key: str
    label: str
    unit: str
    figure: Figure
    seq: int
    disjoint: bool


@dataclass(frozen=True)
class ScopeSnapshot:
    """What was known at revision `seq`: each population's latest figure then, and the exposed types."""

    seq: int
    figures: tuple[PopulationFigure, ...]
    data_types: frozenset[str]

    @property
    def total(self) -> tuple[Figure | None, str | None]:
        return meaningful_total([(f.figure, f.unit, f.disjoint) for f in self.figures])


def scope_snapshot(session: Session, incident_id: int, up_to_seq: int | None = None) -> ScopeSnapshot | None:
    """The scope as it stood after revision `up_to_seq` (now, when None), inside a caller's session."""
    query = (select(ScopeRevision, ScopePopulation).join(ScopePopulation, ScopePopulation.id == ScopeRevision.population_id)
             .where(ScopeRevision.incident_id == incident_id))
    if up_to_seq is not None:
        query = query.where(ScopeRevision.seq <= up_to_seq)
    latest: dict[int, tuple[ScopeRevision, ScopePopulation]] = {}
    for revision, population in session.exec(query.order_by(col(ScopeRevision.seq))).all():
        latest[population.id] = (revision, population)
    if not latest:
        return None
    ids = [revision.id for revision, _ in latest.values()]
    types = session.exec(select(ScopeDataTypeCount.data_type).where(col(ScopeDataTypeCount.revision_id).in_(ids))).all()
    figures = tuple(PopulationFigure(p.key, p.label, r.unit, figure_of(r), r.seq, p.disjoint)
                    for r, p in sorted(latest.values(), key=lambda item: (item[1].position, item[1].id)))
    return ScopeSnapshot(seq=max(f.seq for f in figures), figures=figures, data_types=frozenset(types))


HISTORY_COLUMNS = ["seq", "population", "population_key", "recorded_at", "recorded_by", "figure_kind", "low", "best",
                   "high", "wording", "figure", "unit", "confidence", "method", "reason", "corrects_seq", "source",
                   "point", "change", "change_text"]


def revision_history(
    engine: Engine, *, actor: Actor | None, incident_id: int, as_known_at: datetime | None = None
) -> pd.DataFrame:
    """Every revision in order. `change` compares with the previous revision of the same population
    in the same unit (None when there is none, or either figure has no number)."""
    require_signed_in(actor)
    with read_session(engine) as session:
        query = (select(ScopeRevision, ScopePopulation.label, ScopePopulation.key)
                 .join(ScopePopulation, ScopePopulation.id == ScopeRevision.population_id)
                 .where(ScopeRevision.incident_id == incident_id))
        if as_known_at is not None:
            query = query.where(ScopeRevision.recorded_at <= as_utc(as_known_at))
        rows = session.exec(query.order_by(col(ScopeRevision.seq))).all()
    records: list[dict] = []
    last_figure: dict[tuple[str, str], Figure] = {}
    for r, label, key in rows:
        figure = figure_of(r)
        before = last_figure.get((key, r.unit))
        change = None  # a number only between figures of one kind ("up to 9.8M" → 9.5M is no fall of 0.3M)
        if before is not None and before.kind == figure.kind and before.point is not None and figure.point is not None:
            change = figure.point - before.point
        records.append({
            "seq": r.seq, "population": label, "population_key": key, "recorded_at": r.recorded_at,
            "recorded_by": r.recorded_by, "figure_kind": r.figure_kind, "low": r.low, "best": r.best, "high": r.high,
            "wording": r.wording, "figure": figure.describe(), "unit": r.unit, "confidence": r.confidence,
            "method": r.method, "reason": r.reason, "corrects_seq": r.corrects_seq, "source": r.source,
            "point": figure.point,
            "change": change,
            "change_text": "first in this unit" if before is None else describe_change(before, figure, r.unit),
        })
        last_figure[(key, r.unit)] = figure
    frame = pd.DataFrame(records, columns=HISTORY_COLUMNS)
    for column in ("low", "best", "high", "corrects_seq", "point", "change"):
        frame[column] = frame[column].astype("Int64")
    return frame


def exposure_cells(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Each population's latest data type x region counts, with display names and tiers."""
    require_signed_in(actor)
    with read_session(engine) as session:
        latest_ids = [r.id for r in latest_revisions(session, incident_id)]
        rows = session.exec(select(ScopeCell).where(col(ScopeCell.revision_id).in_(latest_ids))).all() \
            if latest_ids else []
    catalogue = data_types()
    frame = pd.DataFrame(
        [{"data_type": r.data_type, "name": catalogue[r.data_type].display_name if r.data_type in catalogue
          else r.data_type, "tier_rank": tier_rank(r.data_type), "region": r.region, "count": r.count}
         for r in rows],
        columns=["data_type", "name", "tier_rank", "region", "count"],
    )
    if frame.empty:
        return frame
    return frame.groupby(["data_type", "name", "tier_rank", "region"], as_index=False)["count"].sum()


def latest_systems(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        latest_ids = [r.id for r in latest_revisions(session, incident_id)]
        rows = session.exec(select(ScopeSystemCount).where(col(ScopeSystemCount.revision_id).in_(latest_ids))).all() \
            if latest_ids else []
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
            for extra in ("count_kind", "status", "protection"):
                value = row.get(extra)
                if value is not None and not (isinstance(value, float) and pd.isna(value)) and str(value):
                    item[extra] = value
            count = row.get("count")
            if count is None or pd.isna(count):
                if count_required and item.get("count_kind") != "unknown":
                    problems.append((f"{name}[{index}].count", "missing (choose 'unknown' when it is not known)"))
                    continue
                item["count"] = None
            else:
                item["count"] = int(count)
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
