"""Affected-customers file -> a scope revision whose counts are derived exactly from the file.

The revision holds counts: distinct customers overall, per data type, per region, per system and
per data type x region. The pseudonymous customer ids are kept with their region and segment
(as customer chunks, never in the revision) so outreach can be reconciled against this list.
Format: docs/file-formats.md.
"""
from __future__ import annotations

import shutil
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import duckdb
import pyarrow as pa
import pycountry
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from breachdash.audit.service import record_audit
from breachdash.auth.rules import Action, Actor, require
from breachdash.db import read_session, write_session
from breachdash.display import signed
from breachdash.errors import BreachdashError, Conflict, InvalidInput, NotFound, StaleUpdate
from breachdash.incidents.models import Incident
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
    make_scratch_directory,
    no_progress,
    nul_sql,
    remove_scratch_directory,
    run_with_progress,
)
from breachdash.outreach.models import ChunkKind
from breachdash.outreach.service import recompute_outreach
from breachdash.outreach.store import dump_chunks, export_partitioned, store_chunks
from breachdash.reference import data_types, is_valid_region
from breachdash.scope.models import (
    DEFAULT_POPULATION,
    Confidence,
    CountUnit,
    FigureKind,
    RevisionSource,
    ScopeDataTypeCount,
    ScopePopulation,
    ScopeRegionCount,
    ScopeRevision,
    ScopeRevisionCreate,
)
from breachdash.scope.rules import Figure, figure_of, revision_problems
from breachdash.scope.service import add_revision, lock_incident
from breachdash.versioning import changed_at

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
        raise InvalidInput.single("file", describe_duckdb_error(exc, path)) from None


def _reference_tables(connection: duckdb.DuckDBPyConnection) -> None:
    regions = pa.table({"code": [c.alpha_2 for c in pycountry.countries] + [s.code for s in pycountry.subdivisions]})
    types = pa.table({"code": list(data_types())})
    connection.register("region_codes", regions)
    connection.register("type_codes", types)
    connection.execute("CREATE TABLE valid_regions AS SELECT DISTINCT code FROM region_codes")
    connection.execute("CREATE TABLE valid_types AS SELECT DISTINCT code FROM type_codes")


def _row_problems(connection: duckdb.DuckDBPyConnection, *, ids_are_pseudonymous: bool = False) -> InvalidInput | None:
    """The first offending rows of each kind, and how many there are; row numbers count data rows
    from 1. An id that looks like a direct identifier is named without its value."""
    def rows(where: str, value: str = "NULL") -> str:
        return f"SELECT rowid + 1 AS row_no, {value} AS value FROM rows WHERE {where}"

    checks = [(column, NUL_MESSAGE, rows(nul_sql(column)), False, "") for column in REQUIRED + OPTIONAL]
    checks += [
        ("customer_id", "is empty", rows("customer_id IS NULL OR trim(customer_id) = ''", "customer_id"), True, ""),
        ("customer_id", f"is longer than {MAX_CUSTOMER_ID_LENGTH} characters",
         rows(f"length(customer_id) > {MAX_CUSTOMER_ID_LENGTH}", "customer_id"), True, ""),
        ("region", "is not an ISO 3166 region code",
         rows("(region IS NULL OR upper(trim(region)) NOT IN (SELECT code FROM valid_regions)) "
              f"AND NOT coalesce({nul_sql('region')}, false)", "region"), True, ""),
        ("data_types", "is empty", rows("data_types IS NULL OR trim(replace(data_types, ';', '')) = ''",
                                        "data_types"), True, ""),
        ("data_types", "names an unknown data type",
         "SELECT row_no, data_type AS value FROM (SELECT rowid + 1 AS row_no, "
         "trim(unnest(string_split(data_types, ';'))) AS data_type FROM rows "
         f"WHERE NOT coalesce({nul_sql('data_types')}, false)) "
         "WHERE data_type <> '' AND data_type NOT IN (SELECT code FROM valid_types)", True, ""),
        ("segment", f"is longer than {MAX_SEGMENT_LENGTH} characters",
         rows(f"length(trim(segment)) > {MAX_SEGMENT_LENGTH}", "segment"), True, ""),
        ("system", f"is longer than {MAX_SYSTEM_LENGTH} characters",
         rows(f"length(trim(system)) > {MAX_SYSTEM_LENGTH}", "system"), True, ""),
    ]
    if not ids_are_pseudonymous:
        kind = identifier_kind_sql("customer_id")
        for name in ("an email address", "a phone number", "a US social security number", "a payment card number"):
            checks.append(("customer_id", IDENTIFIER_MESSAGE.format(kind=name),
                           rows(f"{kind} = '{name}'"), False, OVERRIDE_HINT))
    return collect_problems(connection, checks, per_check=MAX_REPORTED_ROWS * 2, limit=MAX_REPORTED_ROWS * 2)


def analyse_affected_file(path: Path | str, *, sha256: str, progress: Progress = no_progress,
                          customers_dir: Path | None = None, ids_are_pseudonymous: bool = False) -> AffectedSummary:
    """Read and check the whole file, then count. Raises InvalidInput naming row and column.

    The usual file (valid, one row per customer) is counted in two streaming passes with no copy
    of the rows: one proves the ids distinct (equal 64-bit hashes can only undercount, so as many
    distinct hashes as rows means no id repeats), one groups the rows by (region, data types,
    system). Anything else takes the slow path over a materialised copy.

    With `customers_dir`, also writes the customer list (id, region, segment, times listed) there
    as bucketed Parquet, for outreach reconciliation (outreach/store.py).

    Ids that look like an email address, a phone number, a US SSN or a payment card number are
    refused unless `ids_are_pseudonymous` (an explicit, audited override); NUL is refused in every
    column. Both are checked in SQL over the whole file."""
    path = Path(path)
    source = _source(path)
    if file_kind(path) == "csv":
        check_line_lengths(path)
    with duckdb_workspace() as connection:
        try:
            rows, distinct_hashes, empty_ids, long_values = run_with_progress(connection, f"""
                SELECT count(*), count(DISTINCT hash(trim(customer_id))),
                       count(*) FILTER (WHERE customer_id IS NULL OR trim(customer_id) = ''),
                       count(*) FILTER (WHERE length(trim(customer_id)) > {MAX_CUSTOMER_ID_LENGTH}
                                        OR length(trim(segment)) > {MAX_SEGMENT_LENGTH}
                                        OR length(trim(system)) > {MAX_SYSTEM_LENGTH}
                                        OR {' OR '.join(nul_sql(c) for c in REQUIRED + OPTIONAL)}
                                        {'' if ids_are_pseudonymous else
                                         f"OR {identifier_kind_sql('customer_id')} IS NOT NULL"})
                FROM {source}""", [str(path)], progress=progress, start=0.1, end=0.4,
                message="reading the file")[0]
            if rows == 0:
                raise InvalidInput.single("file", "the file has a header but no rows")
            groups = run_with_progress(
                connection, f"SELECT region, data_types, system, count(*) FROM {source} GROUP BY ALL "
                            f"LIMIT {MAX_GROUPS + 1}", [str(path)], progress=progress, start=0.4, end=0.6,
                message="checking every row")
        except duckdb.Error as exc:
            raise InvalidInput.single("file", describe_duckdb_error(exc, path)) from None
        if not (empty_ids or long_values) and _groups_valid(groups) and distinct_hashes == rows:
            progress(0.9, "counting")
            customers = rows
            counts = _count_groups(groups)
        else:
            _materialise(connection, source, path, progress)
            _reference_tables(connection)
            refused = _row_problems(connection, ids_are_pseudonymous=ids_are_pseudonymous)
            if refused is not None:
                raise refused
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
    """One row per (trimmed) customer id: its first row's region and segment, how often listed, and
    its data types and systems (so a later batch can be counted together with this file)."""
    if source is None:  # the slow path kept the rows in file order
        sql = ("SELECT trim(customer_id) AS customer_id, arg_min(upper(trim(region)), rowid) AS region, "
               f"arg_min(coalesce(trim(segment), ''), rowid) AS segment, count(*) AS listed, {_CUSTOMER_LISTS} "
               "FROM rows GROUP BY 1")
        params = []
    else:
        # The first pass proved the trimmed ids distinct (as many distinct hashes as rows): each row
        # is one customer, so no grouping. A file has few distinct data-types texts (the fast path
        # allows at most MAX_GROUPS groups): each is normalised once, then joined, rather than
        # splitting, trimming and sorting every row's list (3× the time of reading the file).
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE type_lists AS SELECT data_types AS raw, "
            f"coalesce(list_sort({_ROW_TYPES}), []::VARCHAR[]) AS data_types "
            f"FROM (SELECT DISTINCT data_types FROM {source})", [str(path)])
        sql = ("SELECT trim(s.customer_id) AS customer_id, upper(trim(s.region)) AS region, "
               "coalesce(trim(s.segment), '') AS segment, 1::BIGINT AS listed, "
               "coalesce(t.data_types, []::VARCHAR[]) AS data_types, "
               "CASE WHEN trim(s.system) <> '' THEN [trim(s.system)] ELSE []::VARCHAR[] END AS systems "
               f"FROM {source} s LEFT JOIN type_lists t ON s.data_types IS NOT DISTINCT FROM t.raw")
        params = [str(path)]
    export_partitioned(connection, sql, directory, params)


MAX_GROUPS = 100_000
# Data types of one row, trimmed and each listed once.
_ROW_TYPES = "list_distinct(list_filter(list_transform(string_split(data_types, ';'), lambda x: trim(x)), lambda x: x <> ''))"
# A customer's data types and systems over its rows, each sorted and listed once.
_CUSTOMER_LISTS = (
    f"coalesce(list_sort(list_distinct(flatten(list({_ROW_TYPES})))), []::VARCHAR[]) AS data_types, "
    "coalesce(list_sort(list_distinct(list(trim(system)) FILTER (WHERE system IS NOT NULL AND trim(system) <> ''))), "
    "[]::VARCHAR[]) AS systems")


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


# ------------------------------------------------------------------ proposal, then confirmation

class ImportMode(StrEnum):
    """What a file says about its population."""

    complete = "complete"  # the whole population: the new figure is this file's count
    batch = "batch"  # one delivery of several: counted together with the batches since the last complete file


# The method text of a file-imported revision starts with its mode (file imports before modes: complete).
METHOD_PREFIX = "Affected-customers file"
_MODE_PREFIXES = {mode: f"{METHOD_PREFIX} ({mode.value}) " for mode in ImportMode}


def import_mode_of(revision: ScopeRevision) -> ImportMode | None:
    """A file-imported revision's mode (None for a revision entered by hand)."""
    if revision.source != RevisionSource.file_import.value:
        return None
    return ImportMode.batch if (revision.method or "").startswith(_MODE_PREFIXES[ImportMode.batch]) \
        else ImportMode.complete


@dataclass(frozen=True)
class BreakdownChange:
    """One data type's or region's count before (the population's latest revision) and after."""

    code: str
    name: str
    before: Figure | None  # None: not in the latest revision
    after: int | None  # None: not in the new revision

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "dropped"
        return "unchanged" if _is_exactly(self.before, self.after) else "changed"

    def describe(self) -> str:
        if self.kind == "added":
            return f"{self.name} ({self.after:,})"
        if self.kind == "dropped":
            return f"{self.name} (was {self.before.describe()})"
        return f"{self.name} {self.before.describe()} → {self.after:,}"


@dataclass
class AffectedProposal:
    """What importing a file would record, computed with nothing written. The analysed customer list
    waits in a scratch directory until the proposal is applied or discarded (or garbage-collected, or
    its process dies: the next import sweeps it)."""

    incident_id: int
    population: str  # the population's key
    population_label: str
    population_exists: bool
    mode: ImportMode
    summary: AffectedSummary  # this file on its own
    based_on_seq: int  # the population's latest revision when the file was analysed (0: none)
    before: Figure | None  # that revision's figure
    before_unit: str | None
    customers: int  # the new figure: distinct customers (over the batches, for a batch)
    new_customers: int  # not in an earlier batch (all of them for a complete file)
    changed_customers: int  # new, or with data types or systems not listed before
    batch_seqs: tuple[int, ...]  # the earlier batches counted with this file (a batch)
    complete_seq: int | None  # the last complete file's revision, before these batches
    data_types: dict[str, int]
    regions: dict[str, int]
    systems: dict[str, int]
    cells: dict[tuple[str, str], int]
    type_changes: list[BreakdownChange]
    region_changes: list[BreakdownChange]
    reason: str = ""
    workdir: Path | None = None
    ids_are_pseudonymous: bool = False  # the audited override: ids that look like direct identifiers are not
    _cleanup: weakref.finalize | None = field(default=None, repr=False)

    unit = CountUnit.individuals.value

    @property
    def customers_dir(self) -> Path:
        return self.workdir / "customers"

    @property
    def discarded(self) -> bool:
        return self._cleanup is None or not self._cleanup.alive

    def discard(self) -> None:
        """Remove the analysed customer list (idempotent)."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> "AffectedProposal":
        return self

    def __exit__(self, *_exc) -> None:
        self.discard()

    @property
    def change(self) -> int | None:
        """New figure minus the current one, where both are numbers of the same unit and kind."""
        before = self.before
        if before is None or self.before_unit != self.unit or before.kind not in (FigureKind.exact, FigureKind.range) \
                or before.best is None:
            return None
        return self.customers - before.best

    @property
    def adds_nothing(self) -> bool:
        """A batch whose customers were all counted before, with nothing new about any of them."""
        return self.mode == ImportMode.batch and self.changed_customers == 0

    def headline(self) -> str:
        """'This file would change US consumers from 2,460,000 to 50,000 individuals (−2,410,000).'"""
        label, after = self.population_label, f"{self.customers:,} {self.unit}"
        if self.adds_nothing:
            return f"This file would add nothing to {label}: it stays at {after}."
        if not self.population_exists:
            return f"This file would create the population {label} with {after}."
        if self.before is None:
            return f"This file would give {label} its first figure: {after}."
        if self.before_unit == self.unit and _is_exactly(self.before, self.customers):
            return f"This file would keep {label} at {after} (unchanged)."
        text = f"This file would change {label} from {self.before.describe(self.before_unit or '')} to {after}"
        return text + (f" ({signed(self.change)})." if self.change is not None else ".")

    def details(self) -> list[str]:
        """The lines under the headline, plain text (the page escapes them; the CLI prints them)."""
        return self.summary_lines() + self.change_lines()

    def summary_lines(self) -> list[str]:
        """The file, what its mode makes of it, and a change of unit."""
        lines = [f"File {self.summary.file_name}: {self.summary.describe()}."]
        if self.mode == ImportMode.complete:
            lines.append(f"Complete file for {self.population_label}: the figure becomes this file's "
                         f"{self.customers:,} distinct customers; earlier lists of this population are not added.")
        elif not self.batch_seqs:
            after_complete = f" since the complete file of revision {self.complete_seq}" if self.complete_seq else ""
            lines.append(f"First batch{after_complete}: the figure is this file's {self.customers:,} customers; later "
                         "batches are counted together with it.")
        else:
            earlier = _seq_list(self.batch_seqs)
            seen = self.summary.customers - self.new_customers
            if self.new_customers == 0:
                lines.append(f"All {self.summary.customers:,} customers in this file were already counted in the "
                             f"batches of {earlier}: it adds no one"
                             + ("." if self.adds_nothing else ", but adds data types or systems for some of them."))
            else:
                lines.append(f"Batch counted with the batches of {earlier}: {self.new_customers:,} of this file's "
                             f"{self.summary.customers:,} customers are new ({seen:,} were counted in an earlier "
                             f"batch); {self.population_label} counts {self.customers:,} customers across the batches.")
        if self.before is not None and self.before_unit and self.before_unit != self.unit:
            lines.append(f"The latest revision counted {self.before_unit}; a customer file counts {self.unit}.")
        if self.ids_are_pseudonymous:
            lines.append("The ids were declared pseudonymous: ids that look like email addresses, phone numbers, "
                         "SSNs or card numbers were not refused (recorded in the audit log).")
        return lines

    def change_lines(self) -> list[str]:
        """Data types and regions added, dropped or changed against the latest revision."""
        lines = []
        for title, changes in (("Data types", self.type_changes), ("Regions", self.region_changes)):
            for kind in ("added", "dropped", "changed"):
                found = [c.describe() for c in changes if c.kind == kind]
                if found:
                    lines.append(f"{title} {kind}: {'; '.join(found)}.")
        return lines

    def revision_in(self, reason: str | None = None) -> ScopeRevisionCreate:
        if self.mode == ImportMode.complete:
            counted = ""
        elif self.batch_seqs:
            counted = (f"; counted with the batches of {_seq_list(self.batch_seqs)}: {self.new_customers:,} new, "
                       f"{self.customers:,} customers across the batches")
        else:
            counted = "; the first batch" + (f" since the complete file of revision {self.complete_seq}"
                                             if self.complete_seq else "")
        return ScopeRevisionCreate(
            population=self.population, based_on_seq=self.based_on_seq, figure_kind=FigureKind.exact,
            best=self.customers, unit=CountUnit.individuals, confidence=Confidence.high,
            method=(f"{_MODE_PREFIXES[self.mode]}{self.summary.file_name} (sha256 {self.summary.sha256[:12]}…): "
                    f"{self.summary.describe()}{counted}"),
            reason=(reason if reason is not None else self.reason) or "Counts derived from the affected-customers file",
            data_types=[{"data_type": t, "count": n, "status": "confirmed"} for t, n in sorted(self.data_types.items())],
            regions=[{"region": r, "count": n} for r, n in sorted(self.regions.items())],
            systems=[{"system": s, "count": n} for s, n in sorted(self.systems.items())],
            cells=[{"data_type": t, "region": r, "count": n} for (t, r), n in sorted(self.cells.items())],
        )


def _is_exactly(figure: Figure, value: int) -> bool:
    return figure.kind == FigureKind.exact and figure.point == value


def _seq_list(seqs) -> str:
    names = [str(s) for s in seqs]
    return ("revision " if len(names) == 1 else "revisions ") + (
        names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def revision_from_summary(summary: AffectedSummary, *, reason: str, population: str) -> ScopeRevisionCreate:
    """A complete file's revision straight from its summary (kept for callers that count a file alone)."""
    return ScopeRevisionCreate(
        population=population, figure_kind=FigureKind.exact, best=summary.customers,
        unit=CountUnit.individuals, confidence=Confidence.high,
        method=f"{_MODE_PREFIXES[ImportMode.complete]}{summary.file_name} (sha256 {summary.sha256[:12]}…): "
               f"{summary.describe()}",
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


def _population(session, incident_id: int, key: str) -> ScopePopulation | None:
    return session.exec(select(ScopePopulation).where(ScopePopulation.incident_id == incident_id,
                                                      ScopePopulation.key == key)).first()


def _check_population(engine: Engine, incident_id: int, key: str) -> None:
    with read_session(engine) as session:
        if session.get(Incident, incident_id) is None:
            raise NotFound(f"No incident with id {incident_id}.")
        if key != DEFAULT_POPULATION and _population(session, incident_id, key) is None:
            raise InvalidInput.single("population", f"this incident has no population {key!r}; add it first")


def _history(session, population_id: int) -> list[ScopeRevision]:
    return list(session.exec(select(ScopeRevision).where(ScopeRevision.population_id == population_id)
                             .order_by(col(ScopeRevision.seq))).all())


def _earlier_batches(history: list[ScopeRevision]) -> tuple[list[ScopeRevision], ScopeRevision | None]:
    """The population's batch revisions since its last complete file (oldest first), and that file's."""
    batches = []
    for revision in reversed(history):
        mode = import_mode_of(revision)
        if mode == ImportMode.complete:
            return batches[::-1], revision
        if mode == ImportMode.batch:
            batches.append(revision)
    return batches[::-1], None


def _changes(before: dict[str, Figure], after: dict[str, int], names: dict[str, str]) -> list[BreakdownChange]:
    codes = sorted(before.keys() | after.keys(), key=lambda c: (-(after.get(c) or 0), c))
    return [BreakdownChange(code, names.get(code, code), before.get(code), after.get(code)) for code in codes]


def _union_with_batch(earlier_dir: Path, file_dir: Path, out_dir: Path, earlier_seq: int,
                      progress: Progress):
    """The customers of the earlier batches (the latest batch revision's list holds them all) and of
    this file, each counted once: region and segment from the batch that listed them first, data
    types and systems over every batch. Writes the union's list to `out_dir`."""
    with duckdb_workspace() as connection:
        try:
            connection.execute(f"""
                CREATE TABLE listed AS
                SELECT customer_id, region, segment, listed, data_types, systems, 0 AS ord
                FROM read_parquet('{earlier_dir}/*.parquet', hive_partitioning = false)
                UNION ALL
                SELECT customer_id, region, segment, listed, data_types, systems, 1 AS ord
                FROM read_parquet('{file_dir}/**/*.parquet', hive_partitioning = false)""")
        except duckdb.Error as exc:
            raise InvalidInput.single("mode", f"the customer list of revision {earlier_seq} cannot be counted with "
                                              f"this batch ({describe_duckdb_error(exc)}); import a complete file "
                                              "instead") from None
        run_with_progress(connection, """
            CREATE TABLE customers AS
            SELECT customer_id, arg_min(region, ord) AS region, arg_min(segment, ord) AS segment,
                   max(listed) AS listed,
                   list_sort(list_distinct(flatten(list(data_types)))) AS data_types,
                   list_sort(list_distinct(flatten(list(systems)))) AS systems,
                   min(ord) = 1 AS new,
                   coalesce(list_sort(list_distinct(flatten(list(data_types) FILTER (WHERE ord = 0)))), []) AS types_before,
                   coalesce(list_sort(list_distinct(flatten(list(systems) FILTER (WHERE ord = 0)))), []) AS systems_before
            FROM listed GROUP BY customer_id""", [], progress=progress, start=0.95, end=0.96,
            message="counting this batch with the earlier ones")
        customers, new, changed = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE new), count(*) FILTER (WHERE new OR data_types <> types_before "
            "OR systems <> systems_before) FROM customers").fetchall()[0]
        regions = dict(connection.execute("SELECT region, count(*) FROM customers GROUP BY ALL").fetchall())
        types = dict(connection.execute(
            "SELECT t, count(*) FROM (SELECT unnest(data_types) AS t FROM customers) GROUP BY ALL").fetchall())
        systems = dict(connection.execute(
            "SELECT s, count(*) FROM (SELECT unnest(systems) AS s FROM customers) GROUP BY ALL").fetchall())
        cells = {(t, r): n for t, r, n in connection.execute(
            "SELECT t, region, count(*) FROM (SELECT unnest(data_types) AS t, region FROM customers) "
            "GROUP BY ALL").fetchall()}
        export_partitioned(connection, "SELECT customer_id, region, segment, listed, data_types, systems "
                                       "FROM customers", out_dir)
    return customers, new, changed, types, regions, systems, cells


def propose_affected_import(
    engine: Engine, *, actor: Actor, incident_id: int, path: Path | str, population: str = DEFAULT_POPULATION,
    mode: ImportMode | str = ImportMode.complete, reason: str = "", progress: Progress = no_progress,
    ids_are_pseudonymous: bool = False,
) -> AffectedProposal:
    """Check and count the whole file, and say what recording it would change; writes nothing.
    Raises InvalidInput naming row and column, or Conflict for a file already imported. Discard the
    proposal (or apply it) when done: it holds the analysed customer list in a scratch directory.

    `ids_are_pseudonymous` is the explicit override for ids that look like an email address, a
    phone number, an SSN or a card number but are not; applying the proposal records it in the
    audit event."""
    require(actor, Action.revise_scope)
    mode = ImportMode(mode)
    path = Path(path)
    if not path.is_file():
        raise InvalidInput.single("file", f"no file at {path}")
    _source(path)
    _check_population(engine, incident_id, population)
    workdir = make_scratch_directory("affected")
    try:
        file_dir = workdir / "file"
        # The fingerprint is computed while DuckDB reads the file (hashlib releases the GIL).
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:
            fingerprint = pool.submit(file_sha256, path, stop)
            try:
                summary = analyse_affected_file(path, sha256="", progress=progress, customers_dir=file_dir,
                                                ids_are_pseudonymous=ids_are_pseudonymous)
            except BaseException:
                stop.set()  # a refused file needs no fingerprint: do not wait for the rest of it
                raise
            summary.sha256 = fingerprint.result()
        previous = _already_imported(engine, incident_id, summary.sha256)
        if previous is not None:
            raise _refuse_repeat(previous)
        with read_session(engine) as session:
            found = _population(session, incident_id, population)
            history = _history(session, found.id) if found is not None else []
            latest = history[-1] if history else None
            before_types = before_regions = {}
            if latest is not None:
                before_types = {r.data_type: Figure.from_count(r.count, r.count_kind) for r in session.exec(
                    select(ScopeDataTypeCount).where(ScopeDataTypeCount.revision_id == latest.id)).all()}
                before_regions = {r.region: Figure.from_count(r.count, r.count_kind) for r in session.exec(
                    select(ScopeRegionCount).where(ScopeRegionCount.revision_id == latest.id)).all()}
            batches, complete = _earlier_batches(history) if mode == ImportMode.batch else ([], None)
            if batches and not dump_chunks(session, incident_id=incident_id, kind=ChunkKind.affected,
                                           directory=workdir / "earlier", source_ids=[batches[-1].id]):
                raise InvalidInput.single("mode", f"the customer list of revision {batches[-1].seq} is not stored "
                                                  "(an incident document carries counts only); import a complete file")
        if batches:
            customers, new, changed, types, regions, systems, cells = _union_with_batch(
                workdir / "earlier", file_dir, workdir / "customers", batches[-1].seq, progress)
            shutil.rmtree(workdir / "earlier", ignore_errors=True)
        else:
            if file_dir.exists():
                file_dir.rename(workdir / "customers")
            else:
                (workdir / "customers").mkdir()
            customers = new = changed = summary.customers
            types, regions, systems, cells = summary.data_types, summary.regions, summary.systems, summary.cells
        names = {code: item.display_name for code, item in data_types().items()}
        proposal = AffectedProposal(
            incident_id=incident_id, population=population,
            population_label=found.label if found is not None else "All affected",
            population_exists=found is not None, mode=mode, summary=summary,
            based_on_seq=latest.seq if latest else 0, before=figure_of(latest) if latest else None,
            before_unit=latest.unit if latest else None, customers=customers, new_customers=new,
            changed_customers=changed, batch_seqs=tuple(b.seq for b in batches),
            complete_seq=complete.seq if complete else None, data_types=types, regions=regions, systems=systems,
            cells=cells, type_changes=_changes(before_types, types, names),
            region_changes=_changes(before_regions, regions, {}), reason=reason, workdir=workdir,
            ids_are_pseudonymous=ids_are_pseudonymous)
    except BaseException:
        remove_scratch_directory(workdir)
        raise
    # Removed on discard(), on apply, or when the proposal is dropped (a session that went away).
    proposal._cleanup = weakref.finalize(proposal, remove_scratch_directory, str(workdir))
    return proposal


def apply_affected_import(
    engine: Engine, *, actor: Actor, proposal: AffectedProposal, based_on_seq: int | None = None,
    reason: str | None = None, progress: Progress = no_progress,
) -> ScopeRevision:
    """Record the proposal's revision and customer list in one transaction (all or nothing).

    `based_on_seq` is the population's latest revision the person was shown with the proposal
    (proposal.based_on_seq). Refused, with nothing written, when the population has a newer
    revision than that, or the file was imported meanwhile. None: nobody was shown the proposal (a
    script): a complete file is then recorded whatever was revised meanwhile, as its figure does not
    depend on it, while a batch, counted with the batches as they were, is still refused. A
    proposal is used once: its scratch directory is removed whatever the outcome."""
    require(actor, Action.revise_scope)
    if proposal.discarded:
        raise Conflict("This import was already recorded or discarded; import the file again.")
    try:
        check = based_on_seq is not None or proposal.mode == ImportMode.batch
        seen = proposal.based_on_seq if based_on_seq is None else based_on_seq
        if proposal.adds_nothing:
            raise Conflict(f"{proposal.details()[1]} Nothing was recorded.")
        revision_in = proposal.revision_in(reason)
        if not check:
            revision_in = revision_in.model_copy(update={"based_on_seq": None})
        problems = revision_problems(revision_in)
        if problems:  # cannot happen for counts derived from files; guard the invariant anyway
            raise InvalidInput(problems)
        sha256 = proposal.summary.sha256
        previous = _already_imported(engine, proposal.incident_id, sha256)
        if previous is not None:
            raise _refuse_repeat(previous)
        progress(0.96, "recording the revision")
        try:
            with write_session(engine) as session:
                lock_incident(session, proposal.incident_id)
                found = _population(session, proposal.incident_id, proposal.population)
                latest = _history(session, found.id)[-1:] if found is not None else []
                latest_seq = latest[0].seq if latest else 0
                if check and (latest_seq != proposal.based_on_seq or seen != proposal.based_on_seq):
                    raise _stale(proposal, latest[0] if latest else None, seen)
                revision = add_revision(session, actor=actor, incident_id=proposal.incident_id,
                                        revision_in=revision_in, source=RevisionSource.file_import.value,
                                        source_file_sha256=sha256)
                record_audit(session, actor=actor.email, action="scope.file_imported", entity_type="scope_revision",
                             entity_id=revision.id, incident_id=proposal.incident_id, after={
                                 "mode": proposal.mode.value, "population": proposal.population,
                                 "file_name": proposal.summary.file_name, "sha256": sha256,
                                 "rows": proposal.summary.rows, "file_customers": proposal.summary.customers,
                                 "new_customers": proposal.new_customers, "customers": proposal.customers,
                                 "counted_with_batches": list(proposal.batch_seqs),
                                 "based_on_seq": based_on_seq, "seq": revision.seq,
                                 "ids_are_pseudonymous": proposal.ids_are_pseudonymous})
                store_chunks(session, incident_id=proposal.incident_id, kind=ChunkKind.affected,
                             source_id=revision.id, directory=proposal.customers_dir)
        except IntegrityError:  # the same file imported concurrently: the first one won
            previous = _already_imported(engine, proposal.incident_id, sha256)
            if previous is None:
                raise
            raise _refuse_repeat(previous) from None
    finally:
        proposal.discard()
    progress(0.98, "recounting outreach against the new list")
    try:
        recompute_outreach(engine, actor=actor, incident_id=proposal.incident_id)
    except BreachdashError:
        # The revision stands; the Outreach page shows its figures predate this list and offers a recount.
        pass
    progress(1.0, "done")
    return revision


def _stale(proposal: AffectedProposal, latest: ScopeRevision | None, seen: int) -> StaleUpdate:
    if latest is None or latest.seq == proposal.based_on_seq:
        return StaleUpdate(f"This proposal was computed against revision {proposal.based_on_seq} of "
                           f"{proposal.population_label}, not revision {seen} that you saw; nothing was recorded. "
                           "Reload and import the file again.")
    return StaleUpdate(f"{proposal.population_label} was revised by {latest.recorded_by} at "
                       f"{changed_at(latest.recorded_at)} (revision {latest.seq}) after this file was analysed; "
                       "nothing was recorded. Reload and import the file again to see what it would change now.")


def import_affected_file(
    engine: Engine, *, actor: Actor, incident_id: int, path: Path | str, reason: str = "",
    population: str = DEFAULT_POPULATION, mode: ImportMode | str = ImportMode.complete,
    progress: Progress = no_progress, ids_are_pseudonymous: bool = False,
) -> tuple[ScopeRevision, AffectedSummary]:
    """Propose and apply in one call, with no one to confirm (scripts and tests); the command line
    and the page show the proposal first."""
    with propose_affected_import(engine, actor=actor, incident_id=incident_id, path=path, population=population,
                                 mode=mode, reason=reason, progress=progress,
                                 ids_are_pseudonymous=ids_are_pseudonymous) as proposal:
        revision = apply_affected_import(engine, actor=actor, proposal=proposal, progress=progress)
    return revision, proposal.summary
