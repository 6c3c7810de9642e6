"""Each customer's outreach state, and everything the pages read that derives from it.

The state (latest event per customer, phase and channel) lives in customer chunks. Whenever it
or the affected-customers list changes, `derive` recomputes in DuckDB the small tables the pages
read (counts per cell, hourly progress, reconciliation) and `persist` swaps them in, together with
the new state, in one transaction guarded by the state's generation number.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.common import utcnow
from breachdash.comms.models import CommsPhase
from breachdash.errors import Conflict
from breachdash.outreach.models import ChunkKind, CountSource, CustomerChunk, OutreachCount, OutreachHourly, OutreachState
from breachdash.outreach.rules import REPORT_MEASURES, STATUS_MEASURES, STATUS_PRECEDENCE, UNREACHED
from breachdash.outreach.store import delete_chunks, dump_chunks, store_parts
from breachdash.scope.models import RevisionSource, ScopeRevision
from breachdash.scope.service import lock_incident

STATE_COLUMNS = ("customer_id", "phase", "channel", "status", "event_time", "vendor_ref",
                 "first_sent_at", "first_delivered_at", "first_replied_at")
_DELIVERED = ("delivered", "opened", "replied", "opted_out")


def precedence_sql(column: str = "status") -> str:
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_PRECEDENCE.items())
    return f"(CASE {column} {cases} END)"


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def latest_per_key_sql(source: str) -> str:
    """Collapse rows of STATE_COLUMNS to one per customer, phase and channel (rules.latest_status).

    The winner's key packs event time and status precedence into one integer (much faster than
    a composite key); rows tying on it share time and status, so the state is the same whatever
    the order of the files. Among such identical events the vendor reference kept is any one."""
    key = f"(epoch_us(event_time) * 8 + {precedence_sql()})"
    return f"""
        SELECT customer_id, phase, channel,
               arg_max(status, {key}) AS status,
               max(event_time) AS event_time,
               arg_max(vendor_ref, {key}) AS vendor_ref,
               min(first_sent_at) AS first_sent_at,
               min(first_delivered_at) AS first_delivered_at,
               min(first_replied_at) AS first_replied_at
        FROM ({source}) GROUP BY customer_id, phase, channel"""


def events_as_state_rows(events_table: str) -> str:
    """Events in the shape of state rows, so files and stored state merge with one rule."""
    return f"""
        SELECT customer_id, phase, channel, status, event_time, vendor_ref,
               CASE WHEN status NOT IN ('targeted', 'failed') THEN event_time END AS first_sent_at,
               CASE WHEN status IN ({_quoted(_DELIVERED)}) THEN event_time END AS first_delivered_at,
               CASE WHEN status = 'replied' THEN event_time END AS first_replied_at
        FROM {events_table}"""


def empty_state_table(connection: duckdb.DuckDBPyConnection, name: str) -> None:
    connection.execute(f"""CREATE TABLE {name} (customer_id VARCHAR, phase VARCHAR, channel VARCHAR, status VARCHAR,
        event_time TIMESTAMPTZ, vendor_ref VARCHAR, first_sent_at TIMESTAMPTZ, first_delivered_at TIMESTAMPTZ,
        first_replied_at TIMESTAMPTZ)""")


def current_generation(session: Session, incident_id: int) -> int:
    state = session.get(OutreachState, incident_id)
    return state.generation if state else 0


def load_state(session: Session, connection: duckdb.DuckDBPyConnection, *, incident_id: int, workdir: Path,
               name: str = "old_state") -> int:
    """The stored state as DuckDB table `name`; returns its row count."""
    directory = workdir / name
    if dump_chunks(session, incident_id=incident_id, kind=ChunkKind.state, directory=directory):
        connection.execute(f"CREATE TABLE {name} AS SELECT {', '.join(STATE_COLUMNS)} "
                           f"FROM read_parquet('{directory}/*.parquet')").fetchall()
    else:
        empty_state_table(connection, name)
    return connection.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]


def latest_affected_revision(session: Session, incident_id: int) -> ScopeRevision | None:
    """The newest file-imported revision: its customer list is the one outreach reconciles with."""
    return session.exec(
        select(ScopeRevision).where(ScopeRevision.incident_id == incident_id,
                                    ScopeRevision.source == RevisionSource.file_import.value,
                                    col(ScopeRevision.id).in_(select(CustomerChunk.source_id).where(
                                        CustomerChunk.incident_id == incident_id,
                                        CustomerChunk.kind == ChunkKind.affected)))
        .order_by(col(ScopeRevision.seq).desc()).limit(1)).first()


def load_affected(session: Session, connection: duckdb.DuckDBPyConnection, *, incident_id: int,
                  workdir: Path) -> int | None:
    """The latest affected-customers list as DuckDB table `affected`; returns its revision id."""
    revision = latest_affected_revision(session, incident_id)
    directory = workdir / "affected"
    if revision is not None and dump_chunks(session, incident_id=incident_id, kind=ChunkKind.affected,
                                            directory=directory, source_ids=[revision.id]):
        connection.execute("CREATE TABLE affected AS SELECT customer_id, region, segment, listed "
                           f"FROM read_parquet('{directory}/*.parquet')").fetchall()
        return revision.id
    connection.execute("CREATE TABLE affected (customer_id VARCHAR, region VARCHAR, segment VARCHAR, listed BIGINT)")
    return None


@dataclass
class Derived:
    counts: list[dict]
    hourly: list[dict]
    reconciliation: dict
    customers_tracked: int


def _measure_sql(measure: str) -> str:
    statuses = [s for s, measures in STATUS_MEASURES.items() if measure in measures]
    return f"count(*) FILTER (WHERE s.status IN ({_quoted(statuses)})) AS {measure}"


# Customer-level sets the reconciliation counts and lets Legal and PR download.
RECONCILIATION_SETS = {
    "never_targeted": ("Affected but never targeted",
                       "SELECT customer_id FROM affected ANTI JOIN targeted USING (customer_id)"),
    "not_in_affected_list": ("Targeted but not in the affected list",
                             "SELECT customer_id FROM targeted ANTI JOIN affected USING (customer_id)"),
    "duplicate_ids": ("Listed more than once in the affected file",
                      "SELECT customer_id FROM affected WHERE listed > 1"),
    "contactable": ("Contactable (some channel reached them or is still in flight)",
                    "SELECT customer_id FROM targeted WHERE reachable"),
    "uncontactable": ("Uncontactable (every channel bounced or failed): substitute notice needed",
                      "SELECT customer_id FROM targeted WHERE NOT reachable"),
}


def create_targeted_table(connection: duckdb.DuckDBPyConnection, state: str = "state") -> None:
    connection.execute(f"""CREATE OR REPLACE TABLE targeted AS
        SELECT customer_id, bool_or(status NOT IN ({_quoted(UNREACHED)})) AS reachable
        FROM {state} GROUP BY customer_id""")


def derive(connection: duckdb.DuckDBPyConnection, *, state: str = "state", has_affected_list: bool) -> Derived:
    """Counts per phase x channel x region x segment, hourly progress and reconciliation."""
    measures = ", ".join(_measure_sql(m) for m in REPORT_MEASURES)
    counts = connection.execute(f"""
        SELECT s.phase, s.channel, coalesce(a.region, '') AS region, coalesce(a.segment, '') AS segment, {measures}
        FROM {state} s LEFT JOIN affected a USING (customer_id) GROUP BY ALL ORDER BY ALL""").fetchall()
    names = ("phase", "channel", "region", "segment", *REPORT_MEASURES)
    hourly = connection.execute(f"""
        SELECT phase, channel, hour, sum(sent), sum(delivered), sum(bounced), sum(replied) FROM (
            SELECT phase, channel, date_trunc('hour', first_sent_at) AS hour, 1 AS sent, 0 AS delivered,
                   0 AS bounced, 0 AS replied FROM {state} WHERE first_sent_at IS NOT NULL
            UNION ALL SELECT phase, channel, date_trunc('hour', first_delivered_at), 0, 1, 0, 0
                   FROM {state} WHERE first_delivered_at IS NOT NULL
            UNION ALL SELECT phase, channel, date_trunc('hour', event_time), 0, 0, 1, 0
                   FROM {state} WHERE status IN ({_quoted(UNREACHED)})
            UNION ALL SELECT phase, channel, date_trunc('hour', first_replied_at), 0, 0, 0, 1
                   FROM {state} WHERE first_replied_at IS NOT NULL
        ) GROUP BY ALL ORDER BY ALL""").fetchall()
    create_targeted_table(connection, state)
    reconciliation = {"affected_list": has_affected_list}
    totals = connection.execute(
        "SELECT (SELECT count(*) FROM targeted), (SELECT count(*) FROM affected), "
        "(SELECT coalesce(sum(listed), 0) FROM affected)").fetchall()[0]
    reconciliation.update(targeted=totals[0], affected_customers=totals[1], affected_rows=int(totals[2]))
    for key, (_label, sql) in RECONCILIATION_SETS.items():
        reconciliation[key] = connection.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
    return Derived(
        counts=[dict(zip(names, row)) for row in counts],
        hourly=[{"phase": p, "channel": c, "hour": h.astimezone(timezone.utc) if isinstance(h, datetime) else h,
                 "sent": int(s), "delivered": int(d), "bounced": int(b), "replied": int(r)}
                for p, c, h, s, d, b, r in hourly],
        reconciliation=reconciliation, customers_tracked=totals[0])


def persist(session: Session, *, actor_email: str, incident_id: int, expected_generation: int,
            state_dir: Path | None, derived: Derived, affected_revision_id: int | None) -> OutreachState:
    """Swap in a new state and everything derived from it (inside the caller's transaction).

    state_dir None keeps the stored state (only the affected list changed)."""
    lock_incident(session, incident_id)
    state = session.get(OutreachState, incident_id)
    generation = state.generation if state else 0
    if generation != expected_generation:
        raise Conflict(f"The outreach figures were changed by {state.computed_by} at "
                       f"{state.computed_at:%Y-%m-%d %H:%M} UTC while this was being processed; nothing was "
                       "changed — run it again.")
    phases = {key: phase_id for key, phase_id in session.exec(
        select(CommsPhase.key, CommsPhase.id).where(CommsPhase.incident_id == incident_id)).all()}
    if state_dir is not None:
        delete_chunks(session, incident_id=incident_id, kind=ChunkKind.state)
        store_parts(session, incident_id=incident_id, kind=ChunkKind.state, source_id=None, directory=state_dir)
    session.execute(delete(OutreachCount).where(OutreachCount.incident_id == incident_id,
                                                OutreachCount.source == CountSource.report))
    session.execute(delete(OutreachHourly).where(OutreachHourly.incident_id == incident_id))
    now = utcnow()
    if derived.counts:
        session.execute(insert(OutreachCount), [
            {"incident_id": incident_id, "phase_id": phases[row["phase"]], "channel": row["channel"],
             "region": row["region"], "segment": row["segment"], "source": CountSource.report,
             **{m: int(row[m]) for m in REPORT_MEASURES}, "substitute_issued": 0,
             "updated_at": now, "updated_by": actor_email, "version": 1}
            for row in derived.counts])
    if derived.hourly:
        session.execute(insert(OutreachHourly), [
            {"incident_id": incident_id, "phase_id": phases[row.pop("phase")], **row} for row in derived.hourly])
    if state is None:
        state = OutreachState(incident_id=incident_id, computed_by=actor_email)
        session.add(state)
    state.generation = generation + 1
    state.affected_revision_id = affected_revision_id
    state.customers_tracked = derived.customers_tracked
    state.reconciliation = derived.reconciliation
    state.computed_at = now
    state.computed_by = actor_email
    session.flush()
    record_audit(session, actor=actor_email, action="outreach.state_computed", entity_type="outreach_state",
                 entity_id=incident_id, incident_id=incident_id, before={"generation": generation},
                 after={"generation": state.generation, "affected_revision_id": affected_revision_id,
                        "customers_tracked": derived.customers_tracked, **derived.reconciliation})
    return state
