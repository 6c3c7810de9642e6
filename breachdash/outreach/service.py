"""Outreach: hand-entered counts, delivery-report figures, reconciliation, customer lookup, inquiries.

Report-derived counts (source "report") supersede hand-entered ones for the same phase and
channel; every reader goes through `effective_cells` so the rule lives in one place.
"""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, may, require, require_signed_in
from breachdash.comms.models import Channel, CommsPhase
from breachdash.common import spreadsheet_safe
from breachdash.db import read_session, write_session
from breachdash.errors import InvalidInput, NotFound, StaleUpdate, validate_input
from breachdash.importers.common import duckdb_workspace, scratch_directory
from breachdash.outreach.models import (
    OUTREACH_MEASURES,
    ChunkKind,
    CountSource,
    DeliveryReport,
    InquiryDay,
    OutreachCount,
    OutreachHourly,
    OutreachState,
)
from breachdash.outreach.rules import UNREACHED, funnel_problems, latest_status
from breachdash.outreach.state import (
    RECONCILIATION_SETS,
    create_targeted_table,
    current_generation,
    derive,
    latest_affected_revision,
    load_affected,
    load_state,
    persist,
)
from breachdash.outreach.store import read_bucket
from breachdash.reference import is_valid_region
from breachdash.scope.models import ScopeRevision
from breachdash.scope.service import scope_snapshot
from breachdash.timeline.models import EventKind
from breachdash.timeline.service import log_event
from breachdash.versioning import apply_versioned_update, stale_message


class OutreachCountsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    region: str = Field(default="", max_length=10)
    segment: str = Field(default="", max_length=60)
    targeted: int = Field(default=0, ge=0)
    sent: int = Field(default=0, ge=0)
    delivered: int = Field(default=0, ge=0)
    bounced: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    opened: int = Field(default=0, ge=0)
    replied: int = Field(default=0, ge=0)
    opted_out: int = Field(default=0, ge=0)
    substitute_issued: int = Field(default=0, ge=0)


def outreach_problems(counts: OutreachCountsIn) -> list[tuple[str, str]]:
    problems = funnel_problems(counts.model_dump())
    if counts.region and not is_valid_region(counts.region):
        problems.append(("region", f"unknown ISO 3166 region code {counts.region!r}"))
    return problems


OUTREACH_MILESTONES = (0.25, 0.5, 0.75, 1.0)


def crossed_milestones(before: float, after: float) -> list[float]:
    """Delivery shares passed by this change, e.g. 0.48 -> 0.52 crosses 0.5."""
    return [m for m in OUTREACH_MILESTONES if before < m <= after]


def effective_cells(session: Session, incident_id: int) -> list[OutreachCount]:
    """The counts that stand: report cells, and entered cells of phase x channel no report covers.
    Substitute notices are only ever entered by hand, so an entered cell a report covers still
    contributes its substitute_issued (and nothing else)."""
    cells = session.exec(select(OutreachCount).where(OutreachCount.incident_id == incident_id)
                         .order_by(col(OutreachCount.id))).all()
    reported = {(c.phase_id, c.channel) for c in cells if c.source == CountSource.report}
    standing = []
    for cell in cells:
        if cell.source == CountSource.report or (cell.phase_id, cell.channel) not in reported:
            standing.append(cell)
        elif cell.substitute_issued:
            standing.append(OutreachCount(
                incident_id=cell.incident_id, phase_id=cell.phase_id, channel=cell.channel, region=cell.region,
                segment=cell.segment, source=cell.source, substitute_issued=cell.substitute_issued,
                updated_by=cell.updated_by))
    return standing


def effective_delivered(session: Session, incident_id: int) -> dict[int, int]:
    totals: dict[int, int] = {}
    for cell in effective_cells(session, incident_id):
        totals[cell.phase_id] = totals.get(cell.phase_id, 0) + cell.delivered
    return totals


def _people_to_reach(session: Session, incident_id: int, phase_id: int) -> tuple[int, str]:
    """The basis for delivery milestones: the affected individuals of the latest estimate, else
    the total targeted so far."""
    total = _individuals_estimate(session, incident_id)
    if total:
        return total, "affected customers"
    targeted = sum(c.targeted for c in effective_cells(session, incident_id) if c.phase_id == phase_id)
    return targeted, "targeted"


def log_delivery_milestones(session: Session, *, incident_id: int, delivered_before: dict[int, int],
                            actor_email: str) -> None:
    """Put 25/50/75/100 % delivery crossings on the timeline (inside the caller's transaction)."""
    after = effective_delivered(session, incident_id)
    for phase_id, delivered in after.items():
        basis, basis_name = _people_to_reach(session, incident_id, phase_id)
        if not basis:
            continue
        phase = session.get(CommsPhase, phase_id)
        for milestone in crossed_milestones(delivered_before.get(phase_id, 0) / basis, delivered / basis):
            log_event(session, incident_id=incident_id, kind=EventKind.communication,
                      title=f"Outreach milestone: {phase.name} delivered to {milestone:.0%} of "
                            f"{basis_name} ({delivered:,} of {basis:,})",
                      recorded_by=actor_email, origin=("outreach", f"{phase.key}:{milestone:.2f}"))


def record_outreach(
    engine: Engine, *, actor: Actor, phase_id: int, counts_in: OutreachCountsIn | dict,
    expected_version: int | None = None,
) -> OutreachCount:
    """Create or replace the hand-entered counts of one cell; replacing needs the version read."""
    require(actor, Action.record_outreach)
    counts_in = validate_input(OutreachCountsIn, counts_in)
    problems = outreach_problems(counts_in)
    if problems:
        raise InvalidInput(problems)
    values = counts_in.model_dump(include=set(OUTREACH_MEASURES))
    with write_session(engine) as session:
        phase = session.get(CommsPhase, phase_id)
        if phase is None:
            raise NotFound(f"No communication phase with id {phase_id}.")
        region = counts_in.region.upper()
        delivered_before = effective_delivered(session, phase.incident_id)
        cell = session.exec(select(OutreachCount).where(
            OutreachCount.phase_id == phase_id, OutreachCount.channel == counts_in.channel.value,
            OutreachCount.region == region, OutreachCount.segment == counts_in.segment,
            OutreachCount.source == CountSource.entered)).first()
        if cell is None:
            before = None
            cell = OutreachCount(incident_id=phase.incident_id, phase_id=phase_id, channel=counts_in.channel.value,
                                 region=region, segment=counts_in.segment, source=CountSource.entered,
                                 updated_by=actor.email, **values)
            session.add(cell)
            session.flush()
        else:
            before = {m: getattr(cell, m) for m in OUTREACH_MEASURES}
            cell = apply_versioned_update(
                session, OutreachCount, row_id=cell.id,
                expected_version=cell.version if expected_version is None else expected_version,
                changes=values, actor_email=actor.email)
        log_delivery_milestones(session, incident_id=phase.incident_id, delivered_before=delivered_before,
                                actor_email=actor.email)
        record_audit(session, actor=actor.email, action="outreach.recorded", entity_type="outreach_count",
                     entity_id=cell.id, incident_id=phase.incident_id, before=before,
                     after={"phase": phase.key, "channel": cell.channel, "region": cell.region,
                            "segment": cell.segment, **values})
    return cell


# ---------------------------------------------------------------- read side

def _phases(session: Session, incident_id: int) -> dict[int, CommsPhase]:
    return {p.id: p for p in session.exec(select(CommsPhase).where(CommsPhase.incident_id == incident_id)
                                          .order_by(col(CommsPhase.position))).all()}


def outreach_cells(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Every standing cell with its phase; one row per phase x channel x region x segment."""
    require_signed_in(actor)
    columns = ["phase_id", "key", "phase", "position", "channel", "region", "segment", "source", *OUTREACH_MEASURES]
    with read_session(engine) as session:
        phases = _phases(session, incident_id)
        rows = [(c.phase_id, phases[c.phase_id].key, phases[c.phase_id].name, phases[c.phase_id].position,
                 c.channel, c.region, c.segment, c.source, *(getattr(c, m) for m in OUTREACH_MEASURES))
                for c in effective_cells(session, incident_id)]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({m: "int64" for m in OUTREACH_MEASURES})


def outreach_totals(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    """Totals per phase, in phase order."""
    cells = outreach_cells(engine, actor=actor, incident_id=incident_id)
    if cells.empty:
        return pd.DataFrame(columns=["key", "phase", *OUTREACH_MEASURES])
    totals = (cells.groupby(["position", "key", "phase"], as_index=False)[list(OUTREACH_MEASURES)].sum()
              .sort_values("position"))
    return totals.drop(columns="position").reset_index(drop=True)


def affected_basis(engine: Engine, *, actor: Actor | None, incident_id: int) -> tuple[int, str]:
    """How many people outreach must reach: the affected list if imported, else the best estimate."""
    require_signed_in(actor)
    with read_session(engine) as session:
        state = session.get(OutreachState, incident_id)
        total = _individuals_estimate(session, incident_id)
    if state is not None and state.reconciliation.get("affected_list"):
        return int(state.reconciliation["affected_customers"]), "affected list"
    if total is not None:
        return total, "best estimate"
    return 0, "no estimate in individuals"


def _individuals_estimate(session: Session, incident_id: int) -> int | None:
    """The affected individuals to reach: the scope's total (or single figure) in individuals, when
    it has a number; None when it is unknown, in records, or populations may overlap."""
    snapshot = scope_snapshot(session, incident_id)
    total, unit = snapshot.total if snapshot is not None else (None, None)
    return total.point if total is not None and unit == "individuals" else None


FUNNEL_STAGES = ("targeted", "sent", "delivered", "replied")
FUNNEL_BRANCHES = ("bounced", "failed")


def funnel_frame(engine: Engine, *, actor: Actor | None, incident_id: int, phase_key: str) -> pd.DataFrame:
    """Stages (affected -> targeted -> sent -> delivered -> replied) and branches for one phase."""
    cells = outreach_cells(engine, actor=actor, incident_id=incident_id)
    cells = cells[cells["key"] == phase_key]
    affected, basis = affected_basis(engine, actor=actor, incident_id=incident_id)
    rows = [("affected", affected, "stage", basis)]
    rows += [(stage, int(cells[stage].sum()), "stage", "") for stage in FUNNEL_STAGES]
    rows += [(branch, int(cells[branch].sum()), "branch", "") for branch in FUNNEL_BRANCHES]
    return pd.DataFrame(rows, columns=["step", "customers", "kind", "basis"])


def completion_frame(engine: Engine, *, actor: Actor | None, incident_id: int, phase_key: str,
                     by: str) -> pd.DataFrame:
    """Per region or segment: targeted, sent, delivered, unreached, and the delivered share."""
    if by not in ("region", "segment"):
        raise InvalidInput.single("by", "choose region or segment")
    cells = outreach_cells(engine, actor=actor, incident_id=incident_id)
    cells = cells[cells["key"] == phase_key]
    measures = ["targeted", "sent", "delivered", "bounced", "failed", "replied"]
    if cells.empty:
        return pd.DataFrame(columns=[by, *measures, "delivered_share"])
    grouped = cells.assign(**{by: cells[by].replace("", "(not in affected list)")}) \
        .groupby(by, as_index=False)[measures].sum()
    grouped = grouped[grouped[measures].sum(axis=1) > 0]  # e.g. cells holding only substitute notices
    grouped["delivered_share"] = (grouped["delivered"] / grouped["targeted"].where(grouped["targeted"] > 0)).fillna(0.0)
    return grouped.sort_values("delivered_share").reset_index(drop=True)


def outreach_over_time(engine: Engine, *, actor: Actor | None, incident_id: int, phase_key: str) -> pd.DataFrame:
    """Cumulative customers first sent, first delivered, unreached and replied, per hour."""
    require_signed_in(actor)
    with read_session(engine) as session:
        phase = session.exec(select(CommsPhase).where(CommsPhase.incident_id == incident_id,
                                                      CommsPhase.key == phase_key)).first()
        rows = [] if phase is None else session.exec(
            select(OutreachHourly.hour, OutreachHourly.sent, OutreachHourly.delivered, OutreachHourly.bounced,
                   OutreachHourly.replied).where(OutreachHourly.phase_id == phase.id)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["hour", "sent", "delivered", "unreached", "replied"])
    if frame.empty:
        return frame
    frame = frame.groupby("hour", as_index=False).sum().sort_values("hour")
    for column in ("sent", "delivered", "unreached", "replied"):
        frame[column] = frame[column].cumsum()
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    return frame.reset_index(drop=True)


def delivery_reports_frame(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        reports = session.exec(select(DeliveryReport).where(DeliveryReport.incident_id == incident_id)
                               .order_by(col(DeliveryReport.id))).all()
    return pd.DataFrame([{"imported_at": r.imported_at, "file": r.file_name, "events": r.rows,
                          "customers": r.customers, "states_changed": r.states_changed,
                          "first_event": r.first_event_at, "last_event": r.last_event_at,
                          "imported_by": r.imported_by, "sha256": r.sha256[:12]} for r in reports],
                        columns=["imported_at", "file", "events", "customers", "states_changed", "first_event",
                                 "last_event", "imported_by", "sha256"])


@dataclass
class Reconciliation:
    computed_at: datetime | None
    computed_by: str
    counts: dict
    affected_revision_seq: int | None
    latest_affected_seq: int | None

    @property
    def stale(self) -> bool:
        """A newer affected list exists than the one these figures were computed against."""
        return self.latest_affected_seq is not None and self.latest_affected_seq != self.affected_revision_seq


def reconciliation(engine: Engine, *, actor: Actor | None, incident_id: int) -> Reconciliation:
    require_signed_in(actor)
    with read_session(engine) as session:
        state = session.get(OutreachState, incident_id)
        latest = latest_affected_revision(session, incident_id)
        used = session.get(ScopeRevision, state.affected_revision_id) if state and state.affected_revision_id else None
        return Reconciliation(
            computed_at=state.computed_at if state else None, computed_by=state.computed_by if state else "",
            counts=dict(state.reconciliation) if state else {},
            affected_revision_seq=used.seq if used else None, latest_affected_seq=latest.seq if latest else None)


@contextmanager
def customer_tables(engine: Engine, incident_id: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB workspace holding this incident's `state` and `affected` tables."""
    with duckdb_workspace() as connection, scratch_directory("read") as workdir:
        with read_session(engine) as session:
            load_state(session, connection, incident_id=incident_id, workdir=Path(workdir), name="state")
            load_affected(session, connection, incident_id=incident_id, workdir=Path(workdir))
        create_targeted_table(connection)
        yield connection


def _csv_bytes(connection: duckdb.DuckDBPyConnection, sql: str) -> bytes:
    cursor = connection.execute(sql)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([d[0] for d in cursor.description])
    while batch := cursor.fetchmany(50_000):
        writer.writerows([spreadsheet_safe(value) for value in row] for row in batch)
    return out.getvalue().encode("utf-8")


def reconciliation_ids_csv(engine: Engine, *, actor: Actor | None, incident_id: int, key: str) -> bytes:
    """The pseudonymous ids behind one reconciliation count, as CSV."""
    require(actor, Action.record_outreach)
    if key not in RECONCILIATION_SETS:
        raise InvalidInput.single("list", f"unknown list {key!r}; one of {', '.join(RECONCILIATION_SETS)}")
    with customer_tables(engine, incident_id) as connection:
        return _csv_bytes(connection, f"SELECT customer_id FROM ({RECONCILIATION_SETS[key][1]}) ORDER BY customer_id")


def bounce_list_csv(engine: Engine, *, actor: Actor | None, incident_id: int, phase_key: str | None = None) -> bytes:
    """Customers whose notice bounced or failed, with whether another channel reached them."""
    require(actor, Action.record_outreach)
    phase_filter = "" if phase_key is None else f"AND s.phase = '{phase_key.replace(chr(39), '')}'"
    unreached = ", ".join(f"'{s}'" for s in UNREACHED)
    with customer_tables(engine, incident_id) as connection:
        return _csv_bytes(connection, f"""
            SELECT s.customer_id, s.phase, s.channel, s.status, strftime(s.event_time, '%Y-%m-%dT%H:%M:%SZ') AS event_time,
                   s.vendor_ref, coalesce(a.region, '') AS region, coalesce(a.segment, '') AS segment,
                   EXISTS (SELECT 1 FROM state o WHERE o.customer_id = s.customer_id AND o.phase = s.phase
                           AND o.status NOT IN ({unreached})) AS reached_on_another_channel
            FROM state s LEFT JOIN affected a USING (customer_id)
            WHERE s.status IN ({unreached}) {phase_filter}
            ORDER BY s.phase, s.channel, s.customer_id""")


@dataclass
class CustomerHistory:
    customer_id: str
    affected: dict | None
    states: pd.DataFrame
    events: pd.DataFrame


def customer_history(engine: Engine, *, actor: Actor | None, incident_id: int, customer_id: str) -> CustomerHistory:
    """One customer's notification history by pseudonymous id, for support agents."""
    require(actor, Action.lookup_customer)
    customer_id = (customer_id or "").strip()
    if not customer_id or len(customer_id) > 128:
        raise InvalidInput.single("customer_id", "enter a pseudonymous customer id (up to 128 characters)")
    with read_session(engine) as session:
        found = read_bucket(session, incident_id=incident_id, kinds=[ChunkKind.affected, ChunkKind.events],
                            customer_id=customer_id)
        phase_names = {p.key: p.name for p in _phases(session, incident_id).values()}
        reports = {r.id: r.file_name for r in session.exec(
            select(DeliveryReport).where(DeliveryReport.incident_id == incident_id)).all()}
        latest = latest_affected_revision(session, incident_id)
    affected = None
    if found[ChunkKind.affected] is not None and latest is not None:
        rows = [r for r in found[ChunkKind.affected].to_pylist() if r["source_id"] == latest.id]
        affected = ({"region": rows[0]["region"], "segment": rows[0]["segment"], "listed": rows[0]["listed"]}
                    if rows else None)
    event_columns = ["event_time", "phase", "channel", "status", "vendor_ref", "report"]
    events = pd.DataFrame(columns=event_columns)
    states = pd.DataFrame(columns=["phase", "channel", "status", "event_time", "vendor_ref"])
    if found[ChunkKind.events] is not None:
        raw = found[ChunkKind.events].to_pylist()
        # The same latest-event rule as the import, applied to this customer's events.
        by_key: dict[tuple, list] = {}
        for event in raw:
            by_key.setdefault((event["phase"], event["channel"]), []).append(
                (event["status"], event["event_time"], event["vendor_ref"]))
        states = pd.DataFrame(
            [(phase_names.get(phase, phase), channel, *latest_status(items))
             for (phase, channel), items in sorted(by_key.items())],
            columns=["phase", "channel", "status", "event_time", "vendor_ref"])
        events = pd.DataFrame(
            [(e["event_time"], phase_names.get(e["phase"], e["phase"]), e["channel"], e["status"], e["vendor_ref"],
              reports.get(e["source_id"], "")) for e in raw], columns=event_columns)
        events = (events.drop_duplicates(subset=event_columns[:5])
                  .sort_values(["event_time", "phase", "channel"]).reset_index(drop=True))
    return CustomerHistory(customer_id=customer_id, affected=affected, states=states, events=events)


def recompute_outreach(engine: Engine, *, actor: Actor, incident_id: int) -> OutreachState | None:
    """Recount the report figures against the latest affected list (after a new list is imported)."""
    if not may(actor, Action.revise_scope):  # a new affected list recounts; so may PR
        require(actor, Action.record_outreach)
    with duckdb_workspace() as connection, scratch_directory("recount") as workdir:
        with read_session(engine) as session:
            generation = current_generation(session, incident_id)
            if generation == 0:
                return None
            load_state(session, connection, incident_id=incident_id, workdir=Path(workdir), name="state")
            affected_revision_id = load_affected(session, connection, incident_id=incident_id, workdir=Path(workdir))
        derived = derive(connection, has_affected_list=affected_revision_id is not None)
        with write_session(engine) as session:
            return persist(session, actor_email=actor.email, incident_id=incident_id, expected_generation=generation,
                           state_dir=None, derived=derived, affected_revision_id=affected_revision_id)


# ---------------------------------------------------------------- inquiries

class InquiryDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    day: date
    calls: int = Field(default=0, ge=0, le=100_000_000)
    mailbox: int = Field(default=0, ge=0, le=100_000_000)
    call_capacity: int = Field(default=0, ge=0, le=100_000_000)
    note: str = Field(default="", max_length=500)


MAX_INQUIRY_ROWS = 1000


def save_inquiry_days(engine: Engine, *, actor: Actor, incident_id: int, rows: list[dict],
                      shown_versions: dict[date, int] | None = None) -> int:
    """Create or replace days of inquiry volumes; all rows are checked first (all or nothing).
    Returns how many days changed.

    `shown_versions` is each day's version as the person was shown it in the table they edited
    (`inquiry_versions`); a day they would change that someone else saved meanwhile is refused
    with who and when, nothing written. None for a file import, which replaces the days it
    names by design."""
    require(actor, Action.record_outreach)
    if len(rows) > MAX_INQUIRY_ROWS:
        raise InvalidInput.single("rows", f"{len(rows):,} rows; at most {MAX_INQUIRY_ROWS:,} days at a time")
    parsed, problems, seen = [], [], set()
    for index, row in enumerate(rows, start=1):
        try:
            item = validate_input(InquiryDayIn, row)
        except InvalidInput as exc:
            problems.extend((f"row {index}, {where}", message) for where, message in exc.problems)
            continue
        if item.day in seen:
            problems.append((f"row {index}, day", f"{item.day} appears twice"))
        seen.add(item.day)
        parsed.append(item)
    if problems:
        raise InvalidInput(problems)
    changed = 0
    with write_session(engine) as session:
        existing = {d.day: d for d in session.exec(select(InquiryDay).where(InquiryDay.incident_id == incident_id)).all()}
        changes = [(item, existing.get(item.day)) for item in parsed]
        if shown_versions is not None:
            for item, current in changes:
                if current is not None and shown_versions.get(item.day) != current.version and any(
                        getattr(current, k) != v for k, v in item.model_dump(exclude={"day"}).items()):
                    raise StaleUpdate(f"Inquiry volumes of {item.day:%d %b %Y}: {stale_message(current)}")
        for item, current in changes:
            values = item.model_dump(exclude={"day"})
            if current is None:
                session.add(InquiryDay(incident_id=incident_id, day=item.day, updated_by=actor.email, **values))
            elif any(getattr(current, k) != v for k, v in values.items()):
                apply_versioned_update(session, InquiryDay, row_id=current.id, expected_version=current.version,
                                       changes=values, actor_email=actor.email)
            else:
                continue
            changed += 1
        if changed:
            record_audit(session, actor=actor.email, action="outreach.inquiries_saved", entity_type="incident",
                         entity_id=incident_id, incident_id=incident_id,
                         after={"days": [item.model_dump(mode="json") for item in parsed]})
    return changed


def parse_inquiry_csv(data: bytes) -> list[dict]:
    """Rows of an inquiry-volume CSV (docs/file-formats.md) for save_inquiry_days."""
    if not data.strip():
        raise InvalidInput.single("file", "the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.single("file", f"not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    expected = {"day", "calls", "mailbox", "call_capacity", "note"}
    if "day" not in columns or not set(columns) <= expected:
        raise InvalidInput.single("columns", f"expected day, calls, mailbox, call_capacity (and optionally note); "
                                             f"found {', '.join(columns) or 'none'}")
    rows = []
    for index, row in enumerate(reader, start=1):
        if None in row:
            raise InvalidInput.single(f"row {index}", "has more values than the header has columns")
        if index > MAX_INQUIRY_ROWS:
            raise InvalidInput.single("file", f"more than {MAX_INQUIRY_ROWS:,} rows")
        rows.append({k.strip(): (v or "").strip() for k, v in row.items() if (v or "").strip() != ""})
    return rows


def inquiry_frame(engine: Engine, *, actor: Actor | None, incident_id: int) -> pd.DataFrame:
    require_signed_in(actor)
    with read_session(engine) as session:
        days = session.exec(select(InquiryDay).where(InquiryDay.incident_id == incident_id)
                            .order_by(col(InquiryDay.day))).all()
    return pd.DataFrame([{"day": d.day, "calls": d.calls, "mailbox": d.mailbox, "call_capacity": d.call_capacity,
                          "note": d.note, "version": d.version} for d in days],
                        columns=["day", "calls", "mailbox", "call_capacity", "note", "version"])


def inquiry_versions(days: pd.DataFrame) -> dict[date, int]:
    """Each shown day's version (from `inquiry_frame`), to pass back as `shown_versions`."""
    return {day: int(version) for day, version in zip(days["day"], days["version"])}
