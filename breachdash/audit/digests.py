"""Row digests: which data rows the audit trail vouches for, and how their content is read.

Each audited write unit of work records, in its audit events, a SHA-256 of the current content of
every covered row it inserted, updated or deleted (deleted: null). `verify-audit` re-reads every
covered row and compares it with the digest in the latest keyed event that recorded it, so a
direct edit of a data table (an UPDATE, INSERT or DELETE that bypassed the services) is named.

Which rows a transaction touched is observed, not declared by each service (record_audit's
signature stays as it was): ORM inserts, updates and deletes (after_flush), and statements run
through Session.execute — `update(...)`/`delete(...)` (the rows their WHERE matches, read just
before they run) and `insert(...)` (rows with ids above the table's maximum before the first insert;
writers hold the database's write lock, so those are this transaction's). Rows only read are not
re-digested, so a later write cannot launder an earlier direct edit of a row it merely read.

A child table is digested with its parent row rather than row by row (scope breakdowns with their
revision; the hourly outreach figures with the incident's outreach state), because its writers
replace those rows in bulk.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from sqlalchemy import Table, event, func, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import SQLModel

import breachdash.models  # noqa: F401  (every table in the metadata, whoever imported this)
from breachdash.audit.rules import row_hash

# Tables whose rows the audit trail vouches for (each with the columns that identify a row).
COVERED_TABLES: tuple[str, ...] = (
    "incidents", "users", "role_grants",
    "scope_populations", "scope_revisions",
    "timeline_events", "remediation_actions", "review_markers",
    "comms_phases", "checklist_items", "message_versions", "sign_offs", "send_records", "approver_changes",
    "obligations", "obligation_filings",
    "outreach_counts", "outreach_states", "delivery_reports", "inquiry_days",
)
# child table -> (parent table, the child's column holding the parent's key)
CHILD_TABLES: dict[str, tuple[str, str]] = {
    "scope_data_type_counts": ("scope_revisions", "revision_id"),
    "scope_region_counts": ("scope_revisions", "revision_id"),
    "scope_system_counts": ("scope_revisions", "revision_id"),
    "scope_cells": ("scope_revisions", "revision_id"),
    "outreach_hourly": ("outreach_states", "incident_id"),
}
# Tables deliberately not covered, and why (verify-audit prints this list).
NOT_COVERED: dict[str, str] = {
    "audit_events": "the chain itself (checked link by link)",
    "customer_chunks": "the per-customer lists as stored Parquet chunks (large; their revision or report records "
                       "the imported file's SHA-256, but the stored chunks are not re-read)",
    "sign_in_failures": "sign-in throttle counters (not audited)",
    "user_sessions": "sign-in sessions (not audited)",
}
# An audit event's entity_type names a row: the table, and the column entity_id matches.
ENTITY_TABLES: dict[str, tuple[str, str]] = {
    "user": ("users", "email"),
    "outreach_state": ("outreach_states", "incident_id"),
}


def table(name: str) -> Table | None:
    return SQLModel.metadata.tables.get(name)


def key_column(name: str) -> str:
    """The one-column primary key of a covered table."""
    return next(iter(table(name).primary_key.columns)).name


def row_key(name: str, value: Any) -> str:
    return f"{name}:{value}"


def entity_table(entity_type: str) -> tuple[str, str] | None:
    """(table, column) an event's entity_type/entity_id point at, when that table is covered."""
    name, column = ENTITY_TABLES.get(entity_type, (f"{entity_type}s", None))
    if name not in COVERED_TABLES:
        return None
    return name, column or key_column(name)


def _children_of(parent: str) -> list[tuple[str, str]]:
    return sorted((child, column) for child, (owner, column) in CHILD_TABLES.items()
                  if owner == parent and table(child) is not None)


def digests_for(connection, name: str, ids: Iterable[Any]) -> dict[str, str | None]:
    """"table:id" -> digest of that row's current content (None when the row does not exist)."""
    ids = sorted(set(ids), key=lambda v: (str(type(v)), v))
    out: dict[str, str | None] = {}
    for start in range(0, len(ids), 500):
        batch = ids[start:start + 500]
        for key, digest in _digest_rows(connection, name, table(name).c[key_column(name)].in_(batch)):
            out[key] = digest
        for value in batch:
            out.setdefault(row_key(name, value), None)
    return out


def all_digests(connection, name: str) -> Iterator[tuple[str, str]]:
    """Every row of a covered table with its digest, in key order (streamed in batches)."""
    tbl = table(name)
    pk = tbl.c[key_column(name)]
    last = None
    while True:
        condition = pk > last if last is not None else None
        batch = list(_digest_rows(connection, name, condition, limit=1000))
        for key, digest, _value in batch:
            yield key, digest
        if len(batch) < 1000:
            return
        last = batch[-1][2]


def _digest_rows(connection, name: str, condition, limit: int | None = None):
    tbl = table(name)
    pk = tbl.c[key_column(name)]
    query = select(tbl).order_by(pk)
    if condition is not None:
        query = query.where(condition)
    if limit is not None:
        query = query.limit(limit)
    rows = [dict(row._mapping) for row in connection.execute(query)]
    if not rows:
        return
    keys = [row[pk.name] for row in rows]
    children: dict[Any, dict[str, list]] = {value: {} for value in keys}
    for child, column in _children_of(name):
        ctbl = table(child)
        cpk = next(iter(ctbl.primary_key.columns))
        for crow in connection.execute(select(ctbl).where(ctbl.c[column].in_(keys)).order_by(cpk)):
            mapping = dict(crow._mapping)
            children[mapping[column]].setdefault(child, []).append(mapping)
    for row in rows:
        value = row[pk.name]
        key = row_key(name, value)
        if limit is None:
            yield key, row_hash(key=key, row=row, children=children[value])
        else:
            yield key, row_hash(key=key, row=row, children=children[value]), value


# ---------------------------------------------------------------------------------------------
# Observing what a write unit of work touched (kept in session.info until its commit)

TOUCHED = "breachdash_audit_touched"  # {table: set of key values}
INSERT_FLOOR = "breachdash_audit_insert_floor"  # {table: max id before this transaction's first insert}


def _touch(session, name: str, value: Any) -> None:
    if name in CHILD_TABLES:
        name, _column = CHILD_TABLES[name]
    if name in COVERED_TABLES and value is not None:
        session.info.setdefault(TOUCHED, {}).setdefault(name, set()).add(value)


def _instance_key(instance) -> tuple[str, Any] | None:
    tbl = getattr(instance, "__table__", None)
    if tbl is None:
        return None
    if tbl.name in CHILD_TABLES:
        parent, column = CHILD_TABLES[tbl.name]
        return tbl.name, getattr(instance, column, None)
    if tbl.name not in COVERED_TABLES:
        return None
    return tbl.name, getattr(instance, key_column(tbl.name), None)


@event.listens_for(OrmSession, "after_flush")
def _after_flush(session, _flush_context) -> None:
    for instance in (*session.new, *session.dirty, *session.deleted):
        key = _instance_key(instance)
        if key is not None:
            _touch(session, *key)


@event.listens_for(OrmSession, "do_orm_execute")
def _before_statement(state) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    tbl = getattr(state.statement, "table", None)
    name = getattr(tbl, "name", None)
    if name not in COVERED_TABLES and name not in CHILD_TABLES:
        return
    session = state.session
    if state.is_insert:
        if name in CHILD_TABLES:
            _, column = CHILD_TABLES[name]
            params = state.parameters
            for values in params if isinstance(params, list) else [params or {}]:
                _touch(session, name, values.get(column))
            return
        floors = session.info.setdefault(INSERT_FLOOR, {})
        if name not in floors and key_column(name) == "id":
            floors[name] = session.execute(select(func.max(tbl.c.id))).scalar() or 0
        return
    column = CHILD_TABLES[name][1] if name in CHILD_TABLES else key_column(name)
    query = select(tbl.c[column]).distinct()
    if state.statement.whereclause is not None:
        query = query.where(state.statement.whereclause)
    for value in session.execute(query).scalars():
        _touch(session, name, value)


def touched_digests(session) -> dict[str, str | None]:
    """Digests of every covered row this transaction inserted, updated or deleted, as they are now."""
    connection = session.connection()
    touched = {name: set(values) for name, values in session.info.get(TOUCHED, {}).items()}
    for name, floor in session.info.get(INSERT_FLOOR, {}).items():
        tbl = table(name)
        touched.setdefault(name, set()).update(connection.execute(select(tbl.c.id).where(tbl.c.id > floor)).scalars())
    out: dict[str, str | None] = {}
    for name in sorted(touched):
        out.update(digests_for(connection, name, touched[name]))
    return out


def forget_touched(session) -> None:
    session.info.pop(TOUCHED, None)
    session.info.pop(INSERT_FLOOR, None)
