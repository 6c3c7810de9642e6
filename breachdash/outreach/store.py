"""Per-customer rows kept as compressed Parquet chunks in the database (table customer_chunks).

DuckDB writes them in bulk, partitioned by a hash bucket of the pseudonymous customer id; the
same bucket rule in Python finds the one chunk per source that can hold a customer. Rows
that are only ever read in bulk (the outreach state) are split into parts of bounded size
instead. Both backends store chunks as ordinary blobs: the same code works on SQLite and
PostgreSQL.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import delete, insert
from sqlmodel import Session, select

from breachdash.outreach.models import CustomerChunk

BUCKETS = 256
# The same rule in SQL (DuckDB) and Python: the first byte of the id's MD5.
BUCKET_SQL = "('0x' || left(md5(customer_id), 2))::INTEGER"
_INSERT_BATCH_BYTES = 64 * 1024 * 1024
PART_BYTES = "32MiB"


def bucket_of(customer_id: str) -> int:
    return int(hashlib.md5(customer_id.encode("utf-8")).hexdigest()[:2], 16)


def export_partitioned(connection: duckdb.DuckDBPyConnection, select_sql: str, directory: Path,
                       params: list | None = None) -> None:
    """Write the rows of `select_sql` (which has no bucket column) as Parquet files per bucket."""
    connection.execute(
        f"COPY (SELECT *, {BUCKET_SQL} AS bucket FROM ({select_sql})) TO '{directory}' "
        "(FORMAT parquet, PARTITION_BY (bucket), COMPRESSION zstd, OVERWRITE_OR_IGNORE true)", params or []).fetchall()


def export_parts(connection: duckdb.DuckDBPyConnection, select_sql: str, directory: Path) -> None:
    """Write the rows of `select_sql` as Parquet files of bounded size (rows read only in bulk)."""
    connection.execute(
        f"COPY ({select_sql}) TO '{directory}' (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '{PART_BYTES}', "
        "OVERWRITE_OR_IGNORE true)").fetchall()


def part_files(directory: Path) -> list[tuple[int, Path]]:
    """Files written by export_parts, numbered in the order written."""
    return list(enumerate(sorted(directory.glob("*.parquet")))) if directory.exists() else []


def partition_files(directory: Path) -> list[tuple[int, Path]]:
    if not directory.exists():
        return []
    files = []
    for part in sorted(directory.glob("bucket=*")):
        bucket = int(part.name.split("=", 1)[1])
        files.extend((bucket, path) for path in sorted(part.glob("*.parquet")))
    return files


def store_chunks(session: Session, *, incident_id: int, kind: str, source_id: int | None, directory: Path) -> int:
    """Insert the bucket files as chunks (inside the caller's transaction); returns rows stored."""
    return _store(session, incident_id=incident_id, kind=kind, source_id=source_id, files=partition_files(directory))


def store_parts(session: Session, *, incident_id: int, kind: str, source_id: int | None, directory: Path) -> int:
    """Insert the files of export_parts as chunks numbered from 0 (they are never looked up by id)."""
    return _store(session, incident_id=incident_id, kind=kind, source_id=source_id, files=part_files(directory))


def _store(session: Session, *, incident_id: int, kind: str, source_id: int | None,
           files: list[tuple[int, Path]]) -> int:
    total, batch, batch_bytes = 0, [], 0
    for bucket, path in files:
        data = path.read_bytes()
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        total += rows
        batch.append({"incident_id": incident_id, "kind": kind, "source_id": source_id, "bucket": bucket,
                      "rows": rows, "data": data})
        batch_bytes += len(data)
        if batch_bytes >= _INSERT_BATCH_BYTES:
            session.execute(insert(CustomerChunk), batch)
            batch, batch_bytes = [], 0
    if batch:
        session.execute(insert(CustomerChunk), batch)
    return total


def delete_chunks(session: Session, *, incident_id: int, kind: str, source_id: int | None = None) -> None:
    statement = delete(CustomerChunk).where(CustomerChunk.incident_id == incident_id, CustomerChunk.kind == kind)
    if source_id is not None:
        statement = statement.where(CustomerChunk.source_id == source_id)
    session.execute(statement)


def dump_chunks(session: Session, *, incident_id: int, kind: str, directory: Path,
                source_ids: list[int] | None = None) -> int:
    """Write the stored chunks back out as Parquet files (for DuckDB); returns how many."""
    directory.mkdir(parents=True, exist_ok=True)
    statement = (select(CustomerChunk.id, CustomerChunk.data)
                 .where(CustomerChunk.incident_id == incident_id, CustomerChunk.kind == kind)
                 .execution_options(yield_per=16))
    if source_ids is not None:
        statement = statement.where(CustomerChunk.source_id.in_(source_ids))
    count = 0
    for chunk_id, data in session.exec(statement):
        (directory / f"{chunk_id}.parquet").write_bytes(data)
        count += 1
    return count


def read_bucket(session: Session, *, incident_id: int, kinds: list[str], customer_id: str) -> dict[str, pa.Table]:
    """The rows of one customer from every chunk that can hold it, per kind."""
    rows = session.exec(
        select(CustomerChunk.kind, CustomerChunk.source_id, CustomerChunk.data)
        .where(CustomerChunk.incident_id == incident_id, CustomerChunk.kind.in_(kinds),
               CustomerChunk.bucket == bucket_of(customer_id))).all()
    found: dict[str, list[pa.Table]] = {kind: [] for kind in kinds}
    for kind, source_id, data in rows:
        table = pq.read_table(io.BytesIO(data), filters=[("customer_id", "=", customer_id)])
        if table.num_rows:
            if "source_id" not in table.column_names:
                table = table.append_column("source_id", pa.array([source_id] * table.num_rows, pa.int64()))
            found[kind].append(table.drop_columns([c for c in ("bucket",) if c in table.column_names]))
    return {kind: pa.concat_tables(tables, promote_options="default") if tables else None
            for kind, tables in found.items()}
