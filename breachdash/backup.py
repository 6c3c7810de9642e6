"""Whole-database backup and restore (`python -m breachdash backup FILE` / `restore FILE`). No Streamlit.

A backup is one SQLite file at a known schema revision, whatever the source backend:

* from SQLite, SQLite's online backup API copies the pages in one step: a consistent snapshot,
  taken while the app keeps writing (WAL readers never block writers);
* from PostgreSQL, a logical export read inside one REPEATABLE READ, READ ONLY transaction (one
  snapshot), streamed table by table into a freshly migrated SQLite file. No pg_dump binary:
  its major version would have to match the server's.

Either way the file carries a `breachdash_backup` row: format, alembic revision, source backend,
created at, rows per table, a SHA-256 of each table's stored values and the audit chain head. So
one restore path reads every backup, a backup moves between backends, and a truncated or damaged
file is refused before anything is written.

Restore copies the rows into the target in ONE transaction (with `--replace`, the deletion of
what was there too), resets PostgreSQL sequences, and checks row counts and the audit chain
against the backup before it commits: a failed restore leaves the target as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from sqlalchemy import LargeBinary, create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import breachdash.models  # noqa: F401  (fills the metadata)
from breachdash.audit.models import AuditEvent
from breachdash.audit.rules import first_break
from breachdash.config import audit_key_or_none
from breachdash.db import alembic_config, check_database, current_revision, describe_url, is_sqlite, migrate, write_session
from breachdash.errors import BreachdashError, Conflict
from breachdash.importers.common import scratch_directory

FORMAT = 1
INFO_TABLE = "breachdash_backup"
SQLITE_MAGIC = b"SQLite format 3\x00"
BATCH_ROWS = 2_000
# Rows of large binary chunks are fetched a few at a time so memory stays bounded.
BLOB_BATCH_ROWS = 20
# Tables in a breachdash database that are not application data.
_NOT_DATA = {"alembic_version", INFO_TABLE}


class BackupError(BreachdashError):
    """The backup file cannot be made or used; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup file records about itself."""

    path: Path
    format: int
    created_at: str
    source_backend: str
    alembic_revision: str
    row_counts: dict[str, int]
    digests: dict[str, str]
    audit_head_id: int | None
    audit_head_hash: str | None
    size: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def describe(self) -> list[str]:
        head = (f"event #{self.audit_head_id} sha256 {self.audit_head_hash}" if self.audit_head_id is not None
                else "(no audit events)")
        return [
            f"Backup {self.path} ({self.size:,} bytes), taken {self.created_at} from {self.source_backend}, "
            f"schema revision {self.alembic_revision}",
            f"Rows: {_counts_line(self.row_counts)} ({self.total_rows:,} in all)",
            f"Audit chain head: {head}",
        ]


@dataclass(frozen=True)
class RestoreSummary:
    info: BackupInfo
    row_counts: dict[str, int]
    audit_head_id: int | None
    audit_head_hash: str | None
    audit_checked: int
    replaced: dict[str, int] = field(default_factory=dict)
    migrated_from: str | None = None

    def describe(self) -> list[str]:
        lines = [f"Restored {self.info.path} (taken {self.info.created_at} from {self.info.source_backend})."]
        if self.migrated_from:
            lines.append(f"The backup was at schema revision {self.migrated_from}; its copy was migrated forward.")
        if self.replaced:
            lines.append(f"Replaced {sum(self.replaced.values()):,} rows that were there before.")
        lines.append(f"Rows: {_counts_line(self.row_counts)} ({sum(self.row_counts.values()):,} in all)")
        head = (f"event #{self.audit_head_id} sha256 {self.audit_head_hash}" if self.audit_head_id is not None
                else "(no audit events)")
        lines.append(f"Audit chain intact: {self.audit_checked} events checked. Head: {head}")
        return lines


def _counts_line(counts: dict[str, int]) -> str:
    shown = [f"{name} {count:,}" for name, count in sorted(counts.items()) if count]
    return ", ".join(shown) or "none"


def _tables():
    return list(SQLModel.metadata.sorted_tables)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


# ---------------------------------------------------------------------------------------------
# The backup file


def _file_engine(path: Path, *, readonly: bool) -> Engine:
    """An engine on a backup file. Read-only opens never change the file (no WAL switch, no journal)."""
    mode = "ro" if readonly else "rwc"
    uri = f"file:{quote(str(path.resolve()))}?mode={mode}"

    def connect():
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.execute("PRAGMA foreign_keys=OFF")  # a snapshot is consistent; checking each row only costs
        return connection

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)


def _file_facts(connection: sqlite3.Connection) -> tuple[dict[str, int], dict[str, str], int | None, str | None]:
    """Rows and a SHA-256 of the stored values of every data table, and the audit head, read raw
    from a backup file (the same bytes whichever backend the backup came from)."""
    names = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    for name in names:
        if name in _NOT_DATA:
            continue
        digest = hashlib.sha256()
        count = 0
        cursor = connection.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
        while rows := cursor.fetchmany(500):
            for row in rows:
                count += 1
                for value in row:
                    if isinstance(value, bytes):
                        digest.update(b"b%d:" % len(value))
                        digest.update(value)
                    else:
                        encoded = repr(value).encode("utf-8", "surrogatepass")
                        digest.update(b"v%d:" % len(encoded))
                        digest.update(encoded)
                digest.update(b"\n")
        counts[name] = count
        digests[name] = digest.hexdigest()
    head_id = head_hash = None
    if "audit_events" in names:
        head = connection.execute("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
        if head is not None:
            head_id, head_hash = int(head[0]), head[1]
    return counts, digests, head_id, head_hash


def _finish_file(partial: Path, *, source_backend: str, expected_counts: dict[str, int] | None) -> None:
    """Record the backup row, switch the file to a self-contained journal mode, and fsync it."""
    connection = sqlite3.connect(partial)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None:
            raise BackupError("The source database has no schema revision; it is not a breachdash database.")
        counts, digests, head_id, head_hash = _file_facts(connection)
        if expected_counts is not None and counts != expected_counts:
            differ = sorted(name for name in set(counts) | set(expected_counts)
                            if counts.get(name) != expected_counts.get(name))
            raise BackupError(f"The backup file does not hold what the source snapshot held (tables {differ}); "
                              "nothing was written. Try again.")
        connection.execute(f'DROP TABLE IF EXISTS "{INFO_TABLE}"')
        connection.execute(
            f'CREATE TABLE "{INFO_TABLE}" (format INTEGER NOT NULL, created_at TEXT NOT NULL, '
            "source_backend TEXT NOT NULL, alembic_revision TEXT NOT NULL, row_counts TEXT NOT NULL, "
            "digests TEXT NOT NULL, audit_head_id INTEGER, audit_head_hash TEXT)")
        connection.execute(
            f'INSERT INTO "{INFO_TABLE}" VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            (FORMAT, datetime.now(timezone.utc).isoformat(timespec="seconds"), source_backend, revision[0],
             json.dumps(counts, sort_keys=True), json.dumps(digests, sort_keys=True), head_id, head_hash))
        connection.commit()
    finally:
        connection.close()
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())


def read_backup_info(path: Path) -> BackupInfo:
    """Open FILE as a breachdash backup and check it whole: it is an SQLite file, undamaged, with a
    backup row, at a schema revision this code knows, and every table holds what the row says."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    with open(path, "rb") as handle:
        magic = handle.read(len(SQLITE_MAGIC))
    if magic != SQLITE_MAGIC:
        raise BackupError(f"{path} is not a breachdash backup (it is not an SQLite file).")
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened as a backup: {exc}.") from None
    try:
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise BackupError(f"{path} is damaged or truncated (SQLite reports: {problems[0]}); "
                                  "use another backup.")
            has_info = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (INFO_TABLE,)).fetchone()
            if not has_info:
                raise BackupError(f"{path} is an SQLite file but not a breachdash backup (it has no "
                                  f"{INFO_TABLE} table). Make backups with `python -m breachdash backup FILE`.")
            row = connection.execute(
                f'SELECT format, created_at, source_backend, alembic_revision, row_counts, digests, '
                f'audit_head_id, audit_head_hash FROM "{INFO_TABLE}"').fetchall()
            if len(row) != 1:
                raise BackupError(f"{path} has a damaged {INFO_TABLE} table ({len(row)} rows, expected 1).")
            (fmt, created_at, backend, revision, counts_json, digests_json, head_id, head_hash) = row[0]
            if fmt != FORMAT:
                raise BackupError(f"{path} is a backup in format {fmt}; this version of breachdash reads format "
                                  f"{FORMAT}. Restore it with the breachdash version that made it.")
            file_revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if file_revision is None or file_revision[0] != revision:
                raise BackupError(f"{path} is damaged: its schema revision does not match its backup row.")
            if not _known_revision(revision):
                raise BackupError(
                    f"{path} was made at schema revision {revision}, which this version of breachdash does not "
                    f"know (it knows up to {head_revision()}): the backup is from a newer version. Restore it "
                    "with that version or a later one.")
            info = BackupInfo(path=path, format=fmt, created_at=created_at, source_backend=backend,
                              alembic_revision=revision, row_counts=json.loads(counts_json),
                              digests=json.loads(digests_json), audit_head_id=head_id, audit_head_hash=head_hash,
                              size=path.stat().st_size)
            counts, digests, file_head_id, file_head_hash = _file_facts(connection)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is damaged or truncated ({exc}); use another backup.") from None
    finally:
        connection.close()
    if counts != info.row_counts or digests != info.digests or (file_head_id, file_head_hash) != (
            info.audit_head_id, info.audit_head_hash):
        differ = sorted(name for name in set(counts) | set(info.row_counts)
                        if counts.get(name) != info.row_counts.get(name) or digests.get(name) != info.digests.get(name))
        raise BackupError(f"{path} is damaged: its contents do not match what it recorded when it was made "
                          f"(tables {', '.join(differ) or 'audit_events'}); use another backup.")
    return info


# ---------------------------------------------------------------------------------------------
# Backup


def backup_database(engine: Engine, path: Path) -> BackupInfo:
    """Write a consistent backup of the whole database to `path` while the app keeps running.

    The file appears only when it is complete (it is written beside it and renamed)."""
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file name (e.g. one with the date and time).")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    check_database(engine)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if is_sqlite(engine):
            _backup_sqlite(engine, partial, path)
            _finish_file(partial, source_backend="sqlite", expected_counts=None)
        else:
            counts = _backup_logical(engine, partial)
            _finish_file(partial, source_backend=engine.dialect.name, expected_counts=counts)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return read_backup_info(path)


def _backup_sqlite(engine: Engine, partial: Path, path: Path) -> None:
    source_file = engine.url.database
    if source_file and source_file != ":memory:" and Path(source_file).resolve() == path.resolve():
        raise BackupError("The backup file cannot be the database file itself.")
    if current_revision(engine) is None:
        raise BackupError(f"The database at {describe_url(str(engine.url))} has no breachdash schema; "
                          "there is nothing to back up.")
    target = sqlite3.connect(partial)
    try:
        with engine.connect() as connection:
            # One step (pages=-1) copies every page under one read transaction: a snapshot. In WAL
            # mode writers carry on meanwhile; their commits land after the snapshot.
            connection.connection.driver_connection.backup(target, pages=-1)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite could not copy the database: {exc}.") from None
    finally:
        target.close()


def _backup_logical(engine: Engine, partial: Path) -> dict[str, int]:
    """Copy every table out of one PostgreSQL snapshot into a freshly migrated SQLite file; return
    the row counts of that snapshot."""
    head = head_revision()
    revision = current_revision(engine)
    if revision != head:
        raise BackupError(
            f"The database is at schema revision {revision or '(none)'}, this version of breachdash at {head}: "
            "run `python -m breachdash migrate` first, or back up with the breachdash version that matches.")
    file_engine = _file_engine(partial, readonly=False)
    try:
        with file_engine.begin() as connection:
            from alembic import command

            command.upgrade(alembic_config(connection), "head")
        counts: dict[str, int] = {}
        with engine.connect() as source, file_engine.connect() as target:
            source = source.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with source.begin(), target.begin():
                for table in _tables():
                    counts[table.name] = source.execute(select(func.count()).select_from(table)).scalar_one()
                for table in _tables():
                    _copy_table(source, target, table)
        return counts
    finally:
        file_engine.dispose()


def _copy_table(source: Connection, target: Connection, table) -> int:
    """Stream one table's rows in primary-key order (self-references point at earlier rows)."""
    has_blob = any(isinstance(column.type, LargeBinary) for column in table.columns)
    batch = BLOB_BATCH_ROWS if has_blob else BATCH_ROWS
    query = select(table).order_by(*table.primary_key.columns)
    result = source.execution_options(stream_results=True, yield_per=batch).execute(query)
    copied = 0
    for rows in result.partitions():
        target.execute(table.insert(), [dict(row._mapping) for row in rows])
        copied += len(rows)
    return copied


# ---------------------------------------------------------------------------------------------
# Restore


def _data_counts(connection: Connection, names: set[str]) -> dict[str, int]:
    return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in _tables() if table.name in names}


@contextmanager
def _readable_copy(info: BackupInfo) -> Iterator[tuple[Path, str | None]]:
    """The backup itself when it is at this code's schema; otherwise a migrated temporary copy
    (the backup file is never changed)."""
    if info.alembic_revision == head_revision():
        yield info.path, None
        return
    with scratch_directory("restore") as folder:
        copy = Path(folder) / "backup.db"
        shutil.copyfile(info.path, copy)
        engine = _file_engine(copy, readonly=False)
        try:
            with engine.begin() as connection:
                from alembic import command

                command.upgrade(alembic_config(connection), "head")
        finally:
            engine.dispose()
        yield copy, info.alembic_revision


def restore_database(engine: Engine, path: Path, *, replace: bool = False) -> RestoreSummary:
    """Load a backup into `engine`'s database: all of it or nothing.

    The target must hold no breachdash rows unless `replace` is given; then they are deleted in
    the same transaction that copies the backup in. Servers should be stopped meanwhile."""
    info = read_backup_info(path)
    target_file = engine.url.database if is_sqlite(engine) else None
    if target_file and target_file != ":memory:" and Path(target_file).resolve() == info.path.resolve():
        raise BackupError("The target database is the backup file itself; restore into another database.")
    check_database(engine)
    table_names = {table.name for table in _tables()}
    present = set(inspect(engine).get_table_names()) & table_names
    with engine.connect() as connection:
        existing = _data_counts(connection, present)
    if any(existing.values()) and not replace:
        raise Conflict(
            f"The target database at {describe_url(str(engine.url))} is not empty ({existing.get('incidents', 0)} "
            f"incident(s), {sum(existing.values()):,} rows in all). "
            "Restore into a new, empty database, or pass --replace to delete everything in it first "
            "(in the same transaction as the restore).")
    if current_revision(engine) != head_revision():
        if any(existing.values()):
            raise BackupError(f"The target database is at schema revision {current_revision(engine)}, not "
                              f"{head_revision()}: run `python -m breachdash migrate` on it first.")
        migrate(engine)

    with _readable_copy(info) as (source_path, migrated_from):
        source_engine = _file_engine(source_path, readonly=migrated_from is None)
        try:
            with source_engine.connect() as source:
                expected = _data_counts(source, table_names)
                with write_session(engine) as session:
                    target = session.connection()
                    for table in reversed(_tables()):
                        target.execute(table.delete())
                    for table in _tables():
                        _copy_table(source, target, table)
                    counts = _data_counts(target, table_names)
                    if counts != expected:
                        differ = sorted(name for name in counts if counts[name] != expected.get(name))
                        raise BackupError(f"The restored rows do not match the backup (tables {differ}); "
                                          "nothing was changed.")
                    checked, head_id, head_hash = _verify_chain_in(target)
                    if (head_id, head_hash) != (info.audit_head_id, info.audit_head_hash):
                        raise BackupError(
                            f"The restored audit chain ends at event #{head_id}, the backup recorded "
                            f"#{info.audit_head_id}; nothing was changed.")
                    if not is_sqlite(engine):
                        _reset_sequences(target)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise BackupError(f"The restore failed and was rolled back; the target is as it was ({reason}).") from None
        finally:
            source_engine.dispose()
    # The rules may have changed since the backup was made: re-decide them (writes only what changed).
    from breachdash.auth.rules import SYSTEM_EMAIL
    from breachdash.obligations.service import recompute_every_incident

    recompute_every_incident(engine, actor_email=SYSTEM_EMAIL, cause="a restore")
    return RestoreSummary(info=info, row_counts=counts, audit_head_id=head_id, audit_head_hash=head_hash,
                          audit_checked=checked, replaced={k: v for k, v in existing.items() if v},
                          migrated_from=migrated_from)


def _verify_chain_in(connection: Connection) -> tuple[int, int | None, str | None]:
    """verify_chain, inside the restore's own transaction (its rows are not committed yet)."""
    table = AuditEvent.__table__
    seen = {"n": 0, "id": None, "hash": None}

    def rows():
        result = connection.execution_options(yield_per=BATCH_ROWS).execute(select(table).order_by(table.c.id))
        for row in result:
            seen["n"] += 1
            seen["id"], seen["hash"] = row.id, row.hash
            yield row

    broken = first_break(rows(), key=audit_key_or_none())  # keyed events need this deployment's key
    if broken is not None:
        raise BackupError(f"The backup's audit chain is broken at {broken}; nothing was changed.")
    return seen["n"], seen["id"], seen["hash"]


def _reset_sequences(connection: Connection) -> None:
    """Point every id sequence past the restored rows, so new writes get fresh ids. Never lowers a
    sequence (setval is not rolled back), so a later failure cannot make ids collide."""
    for table in _tables():
        for column in table.primary_key.columns:
            sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                          {"t": table.name, "c": column.name}).scalar()
            if sequence is None:
                continue
            connection.execute(text(
                f'SELECT setval(:s, GREATEST((SELECT max("{column.name}") FROM "{table.name}"), '
                f"(SELECT last_value FROM {sequence})))"), {"s": sequence})

