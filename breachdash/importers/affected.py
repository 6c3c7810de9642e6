"""Affected-customers file -> a scope revision whose counts are derived exactly from the file.

The revision holds counts: distinct customers overall, per data type, per region, per system and
per data type x region. The pseudonymous customer ids are kept with their region and segment
(as customer chunks, never in the revision) so outreach can be reconciled against this list.
Format: docs/file-formats.md.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from breachdash.auth.rules import Action, Actor, require
from breachdash.db import read_session, write_session
from breachdash.errors import BreachdashError, Conflict, InvalidInput
from breachdash.importers.common import (
    Progress,
    describe_duckdb_error,
    duckdb_workspace,
    file_sha256,
    file_source,
    no_progress,
    run_with_progress,
    scratch_directory,
)
from breachdash.outreach.models import ChunkKind
from breachdash.outreach.service import recompute_outreach
from breachdash.outreach.store import export_partitioned, store_chunks
from breachdash.reference import data_types, is_valid_region
from breachdash.scope.models import (
    DEFAULT_POPULATION,
    Confidence,
    CountUnit,
    FigureKind,
    RevisionSource,
    ScopeRevision,
    ScopeRevisionCreate,
)
from breachdash.scope.rules import revision_problems
from breachdash.scope.service import add_revision

REQUIRED = ["customer_id", "region", "data_types"]
OPTIONAL = ["segment", "system"]
MAX_CUSTOMER_ID_LENGTH = 128
# The columns the values end up in: outreach_counts.segment and scope_system_counts.system.
MAX_SEGMENT_LENGTH = 60
MAX_SYSTEM_LENGTH = 200
MAX_REPORTED_ROWS = 10
# What DuckDB's trim() removes (Unicode space separators, not tabs or line breaks): Python-side
# checks strip exactly these, so a row is valid or not whichever path counts the file.
SPACES = "".join(chr(c) for c in (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000))


@dataclass
class AffectedSummary:
    file_name: str
    sha256: str
    rows: int
    customers: int
    duplicate_rows: int
    duplicated_customers: int
    customers_in_several_regions: int
    data_types: dict[str, int] = field(default_factory=dict)
    regions: dict[str, int] = field(default_factory=dict)
    systems: dict[str, int] = field(default_factory=dict)
    cells: dict[tuple[str, str], int] = field(default_factory=dict)

    def describe(self) -> str:
        text = f"{self.rows:,} rows, {self.customers:,} distinct customers"
        if self.duplicate_rows:
            text += (f"; {self.duplicate_rows:,} duplicate rows for {self.duplicated_customers:,} customer ids "
                     "were counted once")
        if self.customers_in_several_regions:
            text += (f"; {self.customers_in_several_regions:,} customers appear with several regions "
                     "(their first row's region is used)")
        return text


def _source(path: Path) -> str:
    """Checks the file's head first, so a huge wrong file fails fast."""
    return file_source(path, required=REQUIRED, optional=OPTIONAL)


def _materialise(connection: duckdb.DuckDBPyConnection, source: str, path: Path, progress: Progress) -> None:
    """The slow path, for files with problems or repeated ids: keep the rows, in file order, so
    problems can be named by row and customers counted once (by id without surrounding spaces)."""
    try:
        run_with_progress(connection, "CREATE TABLE rows AS SELECT trim(customer_id) AS customer_id, "
                                      f"* EXCLUDE (customer_id) FROM {source}", [str(path)],
                          progress=progress, start=0.6, end=0.75, message="reading the file again, row by row")
    except duckdb.Error as exc:
        raise InvalidInput.single("file", describe_duckdb_error(exc)) from None


def _reference_tables(connection: duckdb.DuckDBPyConnection) -> None:
    import pycountry

    import pyarrow as pa

    regions = pa.table({"code": [c.alpha_2 for c in pycountry.countries] + [s.code for s in pycountry.subdivisions]})
    types = pa.table({"code": list(data_types())})
    connection.register("region_codes", regions)
    connection.register("type_codes", types)
    connection.execute("CREATE TABLE valid_regions AS SELECT DISTINCT code FROM region_codes")
    connection.execute("CREATE TABLE valid_types AS SELECT DISTINCT code FROM type_codes")


def _row_problems(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The first offending rows of each kind; row numbers count data rows from 1."""
    checks = [
        ("customer_id", "is empty",
         "SELECT rowid + 1, customer_id FROM rows WHERE customer_id IS NULL OR trim(customer_id) = ''"),
        ("customer_id", f"is longer than {MAX_CUSTOMER_ID_LENGTH} characters",
         f"SELECT rowid + 1, left(customer_id, 40) FROM rows WHERE length(customer_id) > {MAX_CUSTOMER_ID_LENGTH}"),
        ("region", "is not an ISO 3166 region code",
         "SELECT rowid + 1, left(region, 40) FROM rows WHERE region IS NULL "
         "OR upper(trim(region)) NOT IN (SELECT code FROM valid_regions)"),
        ("data_types", "is empty", "SELECT rowid + 1, left(data_types, 40) FROM rows WHERE data_types IS NULL "
                                   "OR trim(replace(data_types, ';', '')) = ''"),
        ("data_types", "names an unknown data type",
         "SELECT row_no, left(data_type, 40) FROM (SELECT rowid + 1 AS row_no, "
         "trim(unnest(string_split(data_types, ';'))) AS data_type FROM rows) "
         "WHERE data_type <> '' AND data_type NOT IN (SELECT code FROM valid_types)"),
        ("segment", f"is longer than {MAX_SEGMENT_LENGTH} characters",
         f"SELECT rowid + 1, left(segment, 40) FROM rows WHERE length(trim(segment)) > {MAX_SEGMENT_LENGTH}"),
        ("system", f"is longer than {MAX_SYSTEM_LENGTH} characters",
         f"SELECT rowid + 1, left(system, 40) FROM rows WHERE length(trim(system)) > {MAX_SYSTEM_LENGTH}"),
        ("segment", "contains a NUL character", "SELECT rowid + 1, NULL FROM rows WHERE contains(segment, chr(0))"),
        ("system", "contains a NUL character", "SELECT rowid + 1, NULL FROM rows WHERE contains(system, chr(0))"),
    ]
    problems = []
    for column, message, sql in checks:
        for row_no, value in connection.execute(f"{sql} ORDER BY 1 LIMIT {MAX_REPORTED_ROWS}").fetchall():
            problems.append((f"row {row_no}, column {column}", f"{message}: {value!r}" if value else message))
    return sorted(problems, key=lambda p: int(p[0].split()[1].rstrip(",")))[:MAX_REPORTED_ROWS * 2]


def analyse_affected_file(path: Path | str, *, sha256: str, progress: Progress = no_progress,
                          customers_dir: Path | None = None) -> AffectedSummary:
    """Read and check the whole file, then count. Raises InvalidInput naming row and column.

    The usual file (valid, one row per customer) is counted in two streaming passes with no copy
    of the rows: one proves the ids distinct (equal 64-bit hashes can only undercount, so as many
    distinct hashes as rows means no id repeats), one groups the rows by (region, data types,
    system). Anything else takes the slow path over a materialised copy.

    With `customers_dir`, also writes the customer list (id, region, segment, times listed) there
    as bucketed Parquet, for outreach reconciliation (outreach/store.py)."""
    path = Path(path)
    source = _source(path)
    with duckdb_workspace() as connection:
        try:
            rows, distinct_hashes, empty_ids, long_values = run_with_progress(connection, f"""
                SELECT count(*), count(DISTINCT hash(trim(customer_id))),
                       count(*) FILTER (WHERE customer_id IS NULL OR trim(customer_id) = ''),
                       count(*) FILTER (WHERE length(trim(customer_id)) > {MAX_CUSTOMER_ID_LENGTH}
                                        OR length(trim(segment)) > {MAX_SEGMENT_LENGTH}
                                        OR length(trim(system)) > {MAX_SYSTEM_LENGTH}
                                        OR contains(segment, chr(0)) OR contains(system, chr(0)))
                FROM {source}""", [str(path)], progress=progress, start=0.1, end=0.4,
                message="reading the file")[0]
            if rows == 0:
                raise InvalidInput.single("file", "the file has a header but no rows")
            groups = run_with_progress(
                connection, f"SELECT region, data_types, system, count(*) FROM {source} GROUP BY ALL "
                            f"LIMIT {MAX_GROUPS + 1}", [str(path)], progress=progress, start=0.4, end=0.6,
                message="checking every row")
        except duckdb.Error as exc:
            raise InvalidInput.single("file", describe_duckdb_error(exc)) from None
        if not (empty_ids or long_values) and _groups_valid(groups) and distinct_hashes == rows:
            progress(0.9, "counting")
            customers = rows
            counts = _count_groups(groups)
        else:
            _materialise(connection, source, path, progress)
            _reference_tables(connection)
            problems = _row_problems(connection)
            if problems:
                raise InvalidInput(problems)
            customers = connection.execute("SELECT count(DISTINCT customer_id) FROM rows").fetchall()[0][0]
            if rows == customers and len(groups) <= MAX_GROUPS:
                counts = _count_groups(groups)
            else:
                counts = _count_with_duplicates(connection, progress)
        types, regions, systems, cells, duplicated, several = counts
        if customers_dir is not None:
            progress(0.95, "keeping the customer list for outreach reconciliation")
            _export_customers(connection, source if "rows" not in _tables(connection) else None, path, customers_dir)
    return AffectedSummary(file_name=path.name, sha256=sha256, rows=rows, customers=customers,
                           duplicate_rows=rows - customers, duplicated_customers=duplicated,
                           customers_in_several_regions=several, data_types=types, regions=regions,
                           systems=systems, cells=cells)


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in connection.execute("SHOW TABLES").fetchall()}


def _export_customers(connection: duckdb.DuckDBPyConnection, source: str | None, path: Path,
                      directory: Path) -> None:
    """One row per (trimmed) customer id: its first row's region and segment, and how often listed."""
    if source is None:  # the slow path kept the rows in file order
        sql = ("SELECT trim(customer_id) AS customer_id, arg_min(upper(trim(region)), rowid) AS region, "
               "arg_min(coalesce(trim(segment), ''), rowid) AS segment, count(*) AS listed FROM rows GROUP BY 1")
        params = []
    else:  # the ids are distinct: min() only settles ids that differ by surrounding spaces
        sql = (f"SELECT trim(customer_id) AS customer_id, min(upper(trim(region))) AS region, "
               f"min(coalesce(trim(segment), '')) AS segment, count(*) AS listed FROM {source} GROUP BY 1")
        params = [str(path)]
    export_partitioned(connection, sql, directory, params)


MAX_GROUPS = 100_000
# Data types of one row, trimmed and each listed once.
_ROW_TYPES = "list_distinct(list_filter(list_transform(string_split(data_types, ';'), lambda x: trim(x)), lambda x: x <> ''))"


def _row_types(value: str | None) -> set[str]:
    return {part.strip(SPACES) for part in (value or "").split(";") if part.strip(SPACES)}


def _region_valid(region: str | None) -> bool:
    # is_valid_region strips all whitespace; DuckDB's trim keeps a tab, so the slow path would not
    return region is not None and region.strip(SPACES) == region.strip() and is_valid_region(region)


def _groups_valid(groups: list[tuple]) -> bool:
    if len(groups) > MAX_GROUPS:  # too varied to check here: let SQL find any bad row
        return False
    catalogue = data_types()
    for region, types, _system, _count in groups:
        found = _row_types(types)
        if not _region_valid(region) or not found or not found <= set(catalogue):
            return False
    return True


def _count_groups(groups: list[tuple]):
    """One row per customer (the usual file): every count is a sum over the groups."""
    types: dict[str, int] = {}
    regions: dict[str, int] = {}
    systems: dict[str, int] = {}
    cells: dict[tuple[str, str], int] = {}
    for region, row_types, system, count in groups:
        region = region.strip(SPACES).upper()
        regions[region] = regions.get(region, 0) + count
        if system is not None and system.strip(SPACES):
            systems[system.strip(SPACES)] = systems.get(system.strip(SPACES), 0) + count
        for data_type in _row_types(row_types):
            types[data_type] = types.get(data_type, 0) + count
            cells[(data_type, region)] = cells.get((data_type, region), 0) + count
    return types, regions, systems, cells, 0, 0


def _count_with_duplicates(connection: duckdb.DuckDBPyConnection, progress: Progress):
    """Some customer ids repeat (or the file is unusually varied): count each customer once, with
    the union of its rows' data types and its first row's region."""
    run_with_progress(connection, """
        CREATE TABLE customers AS
        SELECT customer_id, count(*) AS n,
               arg_min(upper(trim(region)), rowid) AS region,
               count(DISTINCT upper(trim(region))) AS region_count
        FROM rows GROUP BY customer_id""", [], progress=progress, start=0.7, end=0.8,
        message="counting distinct customers")
    run_with_progress(connection, f"""
        CREATE TABLE customer_types AS
        SELECT DISTINCT customer_id, unnest({_ROW_TYPES}) AS data_type FROM rows""",
        [], progress=progress, start=0.8, end=0.88, message="counting data types")
    duplicated, several = connection.execute(
        "SELECT count(*) FILTER (WHERE n > 1), count(*) FILTER (WHERE region_count > 1) FROM customers").fetchall()[0]
    types = dict(connection.execute("SELECT data_type, count(*) FROM customer_types GROUP BY ALL").fetchall())
    regions = dict(connection.execute("SELECT region, count(*) FROM customers GROUP BY ALL").fetchall())
    systems = dict(connection.execute(
        "SELECT trim(system), count(DISTINCT customer_id) FROM rows "
        "WHERE system IS NOT NULL AND trim(system) <> '' GROUP BY ALL").fetchall())
    cells = {(t, r): n for t, r, n in run_with_progress(connection, """
        SELECT t.data_type, c.region, count(*) FROM customer_types t JOIN customers c USING (customer_id)
        GROUP BY ALL""", [], progress=progress, start=0.88, end=0.95, message="counting data types per region")}
    return types, regions, systems, cells, duplicated, several


def revision_from_summary(summary: AffectedSummary, *, reason: str, population: str) -> ScopeRevisionCreate:
    return ScopeRevisionCreate(
        population=population, figure_kind=FigureKind.exact, best=summary.customers,
        unit=CountUnit.individuals, confidence=Confidence.high,
        method=f"Affected-customers file {summary.file_name} (sha256 {summary.sha256[:12]}…): {summary.describe()}",
        reason=reason or "Counts derived from the affected-customers file",
        data_types=[{"data_type": t, "count": n, "status": "confirmed"} for t, n in sorted(summary.data_types.items())],
        regions=[{"region": r, "count": n} for r, n in sorted(summary.regions.items())],
        systems=[{"system": s, "count": n} for s, n in sorted(summary.systems.items())],
        cells=[{"data_type": t, "region": r, "count": n} for (t, r), n in sorted(summary.cells.items())],
    )


def _already_imported(engine: Engine, incident_id: int, sha256: str) -> ScopeRevision | None:
    with read_session(engine) as session:
        return session.exec(select(ScopeRevision).where(ScopeRevision.incident_id == incident_id,
                                                        ScopeRevision.source_file_sha256 == sha256)).first()


def _refuse_repeat(previous: ScopeRevision) -> Conflict:
    return Conflict(f"This file was already imported as revision {previous.seq} on "
                    f"{previous.recorded_at:%Y-%m-%d %H:%M} UTC by {previous.recorded_by}; nothing was changed.")


def import_affected_file(
    engine: Engine, *, actor: Actor, incident_id: int, path: Path | str, reason: str = "",
    population: str = DEFAULT_POPULATION, progress: Progress = no_progress,
) -> tuple[ScopeRevision, AffectedSummary]:
    """Validate the whole file, then record one revision in one transaction (all or nothing)."""
    require(actor, Action.revise_scope)
    path = Path(path)
    if not path.is_file():
        raise InvalidInput.single("file", f"no file at {path}")
    _source(path)
    # The fingerprint is computed while DuckDB reads the file (hashlib releases the GIL), and
    # checked before anything is written; the unique constraint backs the check up.
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool, scratch_directory("affected") as workdir:
        customers_dir = Path(workdir) / "customers"
        fingerprint = pool.submit(file_sha256, path, stop)
        try:
            summary = analyse_affected_file(path, sha256="", progress=progress, customers_dir=customers_dir)
        except BaseException:
            stop.set()  # a refused file needs no fingerprint: do not wait for the rest of it
            raise
        sha256 = fingerprint.result()
        summary.sha256 = sha256
        previous = _already_imported(engine, incident_id, sha256)
        if previous is not None:
            raise _refuse_repeat(previous)
        revision_in = revision_from_summary(summary, reason=reason, population=population)
        problems = revision_problems(revision_in)
        if problems:  # cannot happen for counts derived from one file; guard the invariant anyway
            raise InvalidInput(problems)
        progress(0.96, "recording the revision")
        try:
            with write_session(engine) as session:
                revision = add_revision(session, actor=actor, incident_id=incident_id, revision_in=revision_in,
                                        source=RevisionSource.file_import.value, source_file_sha256=sha256)
                store_chunks(session, incident_id=incident_id, kind=ChunkKind.affected, source_id=revision.id,
                             directory=customers_dir)
        except IntegrityError:  # the same file imported concurrently: the first one won
            previous = _already_imported(engine, incident_id, sha256)
            if previous is None:
                raise
            raise _refuse_repeat(previous) from None
    progress(0.98, "recounting outreach against the new list")
    try:
        recompute_outreach(engine, actor=actor, incident_id=incident_id)
    except BreachdashError:
        # The revision stands; the Outreach page shows its figures predate this list and offers a recount.
        pass
    progress(1.0, "done")
    return revision, summary
