"""Vendor delivery-status report -> each customer's latest outreach state, in one transaction.

Format: docs/file-formats.md. Every row is checked before anything is written; a bad row names
its row number and column and nothing is imported. The same file (by SHA-256 of its content) is
refused; overlapping files never double-count, because counts come from each customer's latest
state per phase and channel, whatever order the files arrive in.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require
from breachdash.comms.models import CommsPhase, PhaseStatus
from breachdash.common import as_utc, utcnow
from breachdash.db import read_session, write_session
from breachdash.errors import Conflict, InvalidInput, NotFound
from breachdash.importers.common import (
    IDENTIFIER_MESSAGE,
    NUL_MESSAGE,
    OVERRIDE_HINT,
    Progress,
    check_line_lengths,
    collect_problems,
    describe_duckdb_error,
    duckdb_workspace,
    file_kind,
    file_sha256,
    file_source,
    identifier_kind_sql,
    no_progress,
    nul_sql,
    run_with_progress,
    scratch_directory,
)
from breachdash.incidents.models import Incident
from breachdash.outreach.models import ChunkKind, DeliveryReport
from breachdash.outreach.rules import FUTURE_TOLERANCE_MINUTES, REPORT_CHANNELS, DeliveryStatus
from breachdash.outreach.service import effective_delivered, log_delivery_milestones
from breachdash.outreach.state import (
    current_generation,
    derive,
    events_as_state_rows,
    latest_per_key_sql,
    load_affected,
    load_state,
    persist,
)
from breachdash.outreach.store import export_parts, export_partitioned, store_chunks

REQUIRED = ["customer_id", "phase", "channel", "status", "event_time"]
OPTIONAL = ["vendor_ref"]
MAX_CUSTOMER_ID_LENGTH = 128
MAX_VENDOR_REF_LENGTH = 200
MAX_REPORTED_ROWS = 10
SENT_STATUSES = (PhaseStatus.sent.value, PhaseStatus.done.value)


def channel_spellings() -> dict[str, str]:
    """Accepted spellings (lower case) -> the channel's name in breachdash."""
    spellings = {}
    for channel in REPORT_CHANNELS:
        for spelling in (channel.value, channel.name, channel.value.replace(" ", "_"), channel.name.replace("_", " ")):
            spellings[spelling] = channel.value
    spellings["letter"] = "postal letter"
    return spellings


@dataclass
class DeliveryImportSummary:
    file_name: str
    sha256: str
    rows: int
    customers: int
    first_event_at: datetime
    last_event_at: datetime
    states_changed: int = 0

    def describe(self) -> str:
        return (f"{self.rows:,} events for {self.customers:,} customers "
                f"({self.first_event_at:%Y-%m-%d %H:%M} to {self.last_event_at:%Y-%m-%d %H:%M} UTC); "
                f"{self.states_changed:,} customer states changed")


@dataclass
class _Context:
    incident_id: int
    phases: dict[str, str]  # key -> status
    earliest: datetime | None
    latest: datetime
    generation: int
    ids_are_pseudonymous: bool = False


def _source(path: Path) -> str:
    """Checks the file's head first, so a huge wrong file fails fast."""
    return file_source(path, required=REQUIRED, optional=OPTIONAL)


def _case(column: str, mapping: dict[str, str]) -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"(CASE lower(trim({column})) {cases} END)"


def _typed_sql(source: str, *, numbered: bool = False) -> str:
    """The file's rows normalised and typed; unknown channels, statuses and times become NULL.
    `numbered` adds row_no (data rows from 1) and the raw values, for naming problems."""
    statuses = {s.value: s.value for s in DeliveryStatus}
    extra = ("row_no, " + ", ".join(f"{c} AS raw_{c}" for c in REQUIRED + OPTIONAL) + ", ") if numbered else ""
    rows = f"(SELECT row_number() OVER () AS row_no, * FROM {source})" if numbered else source
    return f"""
        SELECT {extra}trim(customer_id) AS customer_id, trim(phase) AS phase,
               {_case('channel', channel_spellings())} AS channel, {_case('status', statuses)} AS status,
               TRY_CAST(trim(event_time) AS TIMESTAMPTZ) AS event_time, nullif(trim(vendor_ref), '') AS vendor_ref
        FROM {rows}"""


IDENTIFIER_KINDS = ("an email address", "a phone number", "a US social security number", "a payment card number")


def _problem_checks(context: _Context) -> list[tuple[str, str, str]]:
    """(column, message, condition over the typed row) — the same list finds counts and rows."""
    phase_keys = ", ".join(f"'{k}'" for k in context.phases) or "NULL"
    sent_keys = ", ".join(f"'{k}'" for k, status in context.phases.items() if status in SENT_STATUSES) or "NULL"
    checks = [
        # NUL in the columns kept as text; in channel, status or event_time it makes the value unknown
        # (NULL here), and _row_problems names it from the raw value.
        ("customer_id", NUL_MESSAGE, nul_sql("customer_id")),
        ("phase", NUL_MESSAGE, nul_sql("phase")),
        ("vendor_ref", NUL_MESSAGE, nul_sql("vendor_ref")),
        ("customer_id", "is empty", "customer_id IS NULL OR customer_id = ''"),
        ("customer_id", f"is longer than {MAX_CUSTOMER_ID_LENGTH} characters",
         f"length(customer_id) > {MAX_CUSTOMER_ID_LENGTH}"),
        ("phase", "is not a communication phase of this incident",
         f"(phase IS NULL OR phase NOT IN ({phase_keys})) AND NOT coalesce({nul_sql('phase')}, false)"),
        ("phase", "has not been sent (mark the phase sent on the Communications page first)",
         f"phase IN ({phase_keys}) AND phase NOT IN ({sent_keys})"),
        ("channel", f"is not a per-customer channel ({', '.join(c.value for c in REPORT_CHANNELS)})",
         "channel IS NULL"),
        ("status", f"is not a delivery status ({', '.join(s.value for s in DeliveryStatus)})", "status IS NULL"),
        ("event_time", "is not a date and time (ISO 8601, e.g. 2026-11-21T07:00:00Z)", "event_time IS NULL"),
        ("event_time", f"is in the future (after {context.latest:%Y-%m-%d %H:%M} UTC)",
         f"event_time > TIMESTAMPTZ '{context.latest.isoformat()}'"),
        ("vendor_ref", f"is longer than {MAX_VENDOR_REF_LENGTH} characters",
         f"length(vendor_ref) > {MAX_VENDOR_REF_LENGTH}"),
    ]
    if context.earliest is not None:
        checks.append(("event_time", f"is before the incident began ({context.earliest:%Y-%m-%d %H:%M} UTC)",
                       f"event_time < TIMESTAMPTZ '{context.earliest.isoformat()}'"))
    if not context.ids_are_pseudonymous:
        kind = identifier_kind_sql("customer_id")
        checks += [("customer_id", IDENTIFIER_MESSAGE.format(kind=name), f"{kind} = '{name}'")
                   for name in IDENTIFIER_KINDS]
    return checks


def _row_problems(connection: duckdb.DuckDBPyConnection, source: str, path: Path,
                  checks: list[tuple[str, str, str]]) -> InvalidInput:
    """The first offending rows of each kind, with the value as written (rows count from 1), and
    how many there are. NUL is named in any column; an id that looks like a direct identifier is
    named without its value."""
    connection.execute(f"CREATE TABLE numbered AS {_typed_sql(source, numbered=True)}", [str(path)]).fetchall()
    nul_columns = {column for column, message, _c in checks if message == NUL_MESSAGE}
    rows = []
    for column in ("channel", "status", "event_time"):
        if column not in nul_columns:
            rows.append((column, NUL_MESSAGE, f"SELECT row_no, NULL AS value FROM numbered WHERE "
                                              f"{nul_sql('raw_' + column)}", False, ""))
    for column, message, condition in checks:
        identifier = message.startswith("looks like")
        if column in ("channel", "status", "event_time"):
            condition = f"({condition}) AND NOT coalesce({nul_sql('raw_' + column)}, false)"
        rows.append((column, message, f"SELECT row_no, {'NULL' if identifier or message == NUL_MESSAGE else 'raw_' + column} "
                                      f"AS value FROM numbered WHERE {condition}", not identifier,
                     OVERRIDE_HINT if identifier else ""))
    refused = collect_problems(connection, rows, per_check=MAX_REPORTED_ROWS * 2, limit=MAX_REPORTED_ROWS * 2)
    return refused or InvalidInput.single("file", "the file has problems that could not be located")


def _context(engine: Engine, incident_id: int) -> _Context:
    with read_session(engine) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"No incident with id {incident_id}.")
        phases = dict(session.exec(select(CommsPhase.key, CommsPhase.status)
                                   .where(CommsPhase.incident_id == incident_id)).all())
        starts = [as_utc(t) for t in (incident.intrusion_started_at, incident.detected_at) if t is not None]
        return _Context(incident_id=incident_id, phases=phases, earliest=min(starts) if starts else None,
                        latest=utcnow() + timedelta(minutes=FUTURE_TOLERANCE_MINUTES),
                        generation=current_generation(session, incident_id))


def _already_imported(engine: Engine, incident_id: int, sha256: str) -> DeliveryReport | None:
    with read_session(engine) as session:
        return session.exec(select(DeliveryReport).where(DeliveryReport.incident_id == incident_id,
                                                         DeliveryReport.sha256 == sha256)).first()


def _refuse_repeat(previous: DeliveryReport) -> Conflict:
    return Conflict(f"This file was already imported on {previous.imported_at:%Y-%m-%d %H:%M} UTC by "
                    f"{previous.imported_by} (as {previous.file_name}); nothing was changed.")


def import_delivery_report(
    engine: Engine, *, actor: Actor, incident_id: int, path: Path | str, progress: Progress = no_progress,
    ids_are_pseudonymous: bool = False,
) -> DeliveryImportSummary:
    """Check every row, merge with the stored state, then write it all in one transaction.

    Customer ids that look like an email address, a phone number, an SSN or a card number are
    refused unless `ids_are_pseudonymous` (the explicit override, recorded in the audit event)."""
    require(actor, Action.record_outreach)
    path = Path(path)
    if not path.is_file():
        raise InvalidInput.single("file", f"no file at {path}")
    _source(path)
    context = _context(engine, incident_id)
    context.ids_are_pseudonymous = ids_are_pseudonymous
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool, duckdb_workspace() as connection, \
            scratch_directory("outreach") as workdir:
        fingerprint = pool.submit(file_sha256, path, stop)
        try:
            summary, derived, affected_revision_id = _process(connection, Path(workdir), engine, context, path, progress)
        except BaseException:
            stop.set()
            raise
        summary.sha256 = fingerprint.result()
        previous = _already_imported(engine, incident_id, summary.sha256)
        if previous is not None:
            raise _refuse_repeat(previous)
        progress(0.9, "saving")
        try:
            with write_session(engine) as session:
                report = DeliveryReport(
                    incident_id=incident_id, sha256=summary.sha256, file_name=path.name[:300], rows=summary.rows,
                    customers=summary.customers, first_event_at=summary.first_event_at,
                    last_event_at=summary.last_event_at, states_changed=summary.states_changed,
                    imported_by=actor.email)
                session.add(report)
                session.flush()
                delivered_before = effective_delivered(session, incident_id)
                store_chunks(session, incident_id=incident_id, kind=ChunkKind.events, source_id=report.id,
                             directory=Path(workdir) / "events")
                persist(session, actor_email=actor.email, incident_id=incident_id,
                        expected_generation=context.generation, state_dir=Path(workdir) / "state",
                        derived=derived, affected_revision_id=affected_revision_id)
                log_delivery_milestones(session, incident_id=incident_id, delivered_before=delivered_before,
                                        actor_email=actor.email)
                record_audit(session, actor=actor.email, action="outreach.report_imported",
                             entity_type="delivery_report", entity_id=report.id, incident_id=incident_id,
                             after={"file_name": report.file_name, "sha256": report.sha256, "rows": report.rows,
                                    "customers": report.customers, "states_changed": report.states_changed,
                                    "ids_are_pseudonymous": ids_are_pseudonymous})
        except IntegrityError:  # the same file imported concurrently: the first one won
            previous = _already_imported(engine, incident_id, summary.sha256)
            if previous is None:
                raise
            raise _refuse_repeat(previous) from None
    progress(1.0, "done")
    return summary


def _process(connection: duckdb.DuckDBPyConnection, workdir: Path, engine: Engine, context: _Context, path: Path,
             progress: Progress):
    source = _source(path)
    if file_kind(path) == "csv":
        check_line_lengths(path)
    checks = _problem_checks(context)
    try:
        run_with_progress(connection, f"CREATE TABLE events AS {_typed_sql(source)}", [str(path)],
                          progress=progress, start=0.0, end=0.35, message="reading the file")
    except duckdb.Error as exc:
        raise InvalidInput.single("file", describe_duckdb_error(exc, path)) from None
    counts = ", ".join(f"count(*) FILTER (WHERE {condition})" for _c, _m, condition in checks)
    rows, customers, first, last, *problem_counts = connection.execute(
        f"SELECT count(*), count(DISTINCT customer_id), min(event_time), max(event_time), {counts} FROM events"
    ).fetchall()[0]
    if rows == 0:
        raise InvalidInput.single("file", "the file has a header but no rows")
    if any(problem_counts):
        raise _row_problems(connection, source, path, checks)
    progress(0.45, "finding each customer's latest state")
    connection.execute(f"CREATE TABLE file_state AS {latest_per_key_sql(events_as_state_rows('events'))}").fetchall()
    with read_session(engine) as session:
        stored = load_state(session, connection, incident_id=context.incident_id, workdir=workdir)
        affected_revision_id = load_affected(session, connection, incident_id=context.incident_id, workdir=workdir)
    progress(0.55, "merging with earlier reports")
    if stored:
        connection.execute("CREATE TABLE state AS " + latest_per_key_sql(
            "SELECT * FROM old_state UNION ALL SELECT * FROM file_state")).fetchall()
        changed = connection.execute("""SELECT count(*) FROM state s LEFT JOIN old_state o
            USING (customer_id, phase, channel)
            WHERE o.status IS DISTINCT FROM s.status OR o.event_time IS DISTINCT FROM s.event_time""").fetchall()[0][0]
    else:
        connection.execute("ALTER TABLE file_state RENAME TO state")
        changed = connection.execute("SELECT count(*) FROM state").fetchall()[0][0]
    progress(0.65, "storing events and states")
    export_partitioned(connection, "SELECT * FROM events", workdir / "events")
    export_parts(connection, "SELECT * FROM state", workdir / "state")
    progress(0.8, "counting")
    derived = derive(connection, has_affected_list=affected_revision_id is not None)
    summary = DeliveryImportSummary(file_name=path.name, sha256="", rows=rows, customers=customers,
                                    first_event_at=first, last_event_at=last, states_changed=changed)
    return summary, derived, affected_revision_id
