"""What every per-customer file importer shares: hashing, progress, format checks, DuckDB."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pyarrow.parquet as pq

from breachdash.errors import InvalidInput

Progress = Callable[[float, str], None]
# Names that mean the file carries people's direct identifiers, which breachdash never stores.
DIRECT_IDENTIFIER_COLUMNS = frozenset({
    "name", "first_name", "last_name", "full_name", "surname", "given_name", "customer_name",
    "email", "email_address", "e_mail", "phone", "phone_number", "mobile", "telephone",
    "ssn", "social_security_number", "national_id", "passport", "passport_number", "drivers_licence",
    "drivers_license", "driver_license", "tax_id", "address", "street", "street_address", "postal_address",
    "date_of_birth", "dob", "birth_date", "card_number", "pan", "iban", "account_number", "password",
})
SNIFF_BYTES = 64 * 1024
DUCKDB_MEMORY_LIMIT = "512MB"


def no_progress(_fraction: float, _message: str) -> None:
    return None


def file_sha256(path: Path, stop: threading.Event | None = None) -> str | None:
    """The file's SHA-256, read in chunks; None if `stop` is set before the end."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            if stop is not None and stop.is_set():
                return None
            digest.update(chunk)
    return digest.hexdigest()


def file_kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if path.suffix.lower() == ".parquet":
        raise InvalidInput.single("file", "named .parquet but it is not a Parquet file")
    return "csv"


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().strip('"').lower()).strip("_")


def check_columns(columns: list[str], *, required: list[str], optional: list[str]) -> None:
    """Refuse direct identifiers, missing and unknown columns, each with an explanation."""
    if not set(columns) & set(required + optional):
        raise InvalidInput.single(
            "columns", f"missing column(s) {', '.join(required)} (is the first line the header?); expected "
                       f"{', '.join(required)} and optionally {', '.join(optional)}")
    normalised = [_normalise(c) for c in columns]
    identifiers = [c for c, n in zip(columns, normalised) if n in DIRECT_IDENTIFIER_COLUMNS]
    if identifiers:
        raise InvalidInput.single(
            "columns",
            f"the file has direct-identifier column(s) {', '.join(identifiers)}. breachdash never stores "
            "customers' direct identifiers: send pseudonymous customer ids only (see docs/file-formats.md)")
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required + optional]
    problems = []
    if missing:
        problems.append(("columns", f"missing column(s) {', '.join(missing)}; expected "
                                    f"{', '.join(required)} and optionally {', '.join(optional)}"))
    if unknown:
        problems.append(("columns", f"unknown column(s) {', '.join(unknown)}"))
    if len(set(columns)) != len(columns):
        problems.append(("columns", "a column name appears twice"))
    if problems:
        raise InvalidInput(problems)


def csv_header(path: Path) -> list[str]:
    """Read and check the head of a CSV file without reading the rest."""
    if path.stat().st_size == 0:
        raise InvalidInput.single("file", "the file is empty")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InvalidInput.single("file", f"not a text CSV file (NUL byte at offset {nul})")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if b"\r" in head and b"\n" not in head:
        raise InvalidInput.single("file", "lines end with a bare carriage return (old Mac style); "
                                          "save the file with LF or CRLF line endings")
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header = first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput.single("line 1", f"the header is not UTF-8 text (byte {exc.start})") from None
    if not header.strip():
        raise InvalidInput.single("line 1", "the first line is empty; it must be the header")
    columns = [c.strip().strip('"').strip() for c in header.split(",")]
    if len(columns) == 1:
        for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in header:
                raise InvalidInput.single(
                    "line 1", f"the file must be comma-separated; this header looks {name}-separated: {header[:120]!r}")
    return columns


def parquet_columns(path: Path, *, text_columns: list[str]) -> list[str]:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise InvalidInput.single("file", f"not a readable Parquet file ({exc})") from None
    problems = []
    for field in schema:
        if field.name in text_columns:
            kind = str(field.type)
            if kind not in ("string", "large_string") and not kind.startswith("dictionary<values=string"):
                problems.append((f"column {field.name}", f"has type {kind}; expected text (string)"))
    if problems:
        raise InvalidInput(problems)
    return list(schema.names)


def file_source(path: Path, *, required: list[str], optional: list[str]) -> str:
    """Check the file's head, then give a DuckDB subquery yielding the required and optional
    columns, in that order, as text (a missing optional column as NULL); `?` is the file's path."""
    kind = file_kind(path)
    columns = (parquet_columns(path, text_columns=required + optional) if kind == "parquet" else csv_header(path))
    check_columns(columns, required=required, optional=optional)
    if kind == "parquet":
        reader = "read_parquet(?)"
    else:
        reader = ("read_csv(?, header = true, delim = ',', quote = '\"', escape = '\"', all_varchar = true, "
                  "strict_mode = true, null_padding = false, auto_detect = false, "
                  f"columns = {{{', '.join(repr(c) + ': ' + repr('VARCHAR') for c in columns)}}})")
    selected = [c if c in columns else f"NULL AS {c}" for c in required + optional]
    return f"(SELECT {', '.join(selected)} FROM {reader})"


SCRATCH_PREFIX = "breachdash-"
# breachdash-<purpose>-<pid>-<random>: the pid tells whose it is (docs/reliability.md, "Crash safety").
_SCRATCH_NAME = re.compile(r"^breachdash-[a-z]+-(\d+)-[^/]+$")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def sweep_orphaned_scratch() -> int:
    """Remove scratch directories of processes that no longer exist (killed mid-import: SIGKILL,
    OOM killer, power loss — nothing ran their cleanup). They can hold a copy of a customer list and
    DuckDB spill files as large as the input. Returns how many were removed."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        match = _SCRATCH_NAME.match(path.name)
        if match and int(match.group(1)) != os.getpid() and _process_gone(int(match.group(1))) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


@contextmanager
def scratch_directory(purpose: str) -> Iterator[str]:
    """A temporary directory for per-customer work, removed on exit; one left by a process that was
    killed is removed by the next one made (by any breachdash process on this machine)."""
    sweep_orphaned_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{purpose}-{os.getpid()}-") as workdir:
        yield workdir


def make_scratch_directory(purpose: str) -> Path:
    """A scratch directory that outlives one call (an import proposal waiting for confirmation):
    named like scratch_directory's, so a killed process's is swept the same way; the caller removes
    it (remove_scratch_directory) when done."""
    sweep_orphaned_scratch()
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{purpose}-{os.getpid()}-"))


def remove_scratch_directory(path: Path | str) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def duckdb_workspace() -> Iterator[duckdb.DuckDBPyConnection]:
    """A throwaway DuckDB: memory stays bounded; what does not fit spills to a temp directory."""
    with scratch_directory("import") as workdir:
        connection = duckdb.connect(":memory:")
        try:
            connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
            connection.execute("SET threads = 2")
            # Times without an offset are UTC, whatever the server's own zone.
            connection.execute("SET TimeZone = 'UTC'")
            connection.execute("SET preserve_insertion_order = true")
            # Keep query_progress() working without DuckDB drawing its own bar on the terminal.
            connection.execute("SET enable_progress_bar = true")
            connection.execute("SET enable_progress_bar_print = false")
            connection.execute(f"SET temp_directory = '{workdir}'")
            yield connection
        finally:
            connection.close()


def run_with_progress(connection: duckdb.DuckDBPyConnection, sql: str, params: list, *, progress: Progress,
                      start: float, end: float, message: str):
    """Run one DuckDB statement, reporting its own progress meanwhile."""
    result: dict = {}

    def work():
        try:
            result["value"] = connection.execute(sql, params).fetchall()
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    done = 0.0
    while thread.is_alive():
        thread.join(0.05)
        try:
            # DuckDB re-estimates as it goes; never let the bar move backwards.
            done = max(done, min(connection.query_progress() / 100, 1.0))
        except Exception:  # noqa: BLE001 - progress is best effort
            pass
        progress(start + (end - start) * done, message)
    if "error" in result:
        raise result["error"]
    progress(end, message)
    return result["value"]


def describe_duckdb_error(exc: Exception) -> str:
    """DuckDB's CSV errors, reduced to the part a person needs."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
    line = re.search(r"[Ll]ine:? (\d+)", text)
    where = f"line {line.group(1)}: " if line else ""
    if "unicode" in text.lower() or "utf" in text.lower():
        return f"{where}the file is not valid UTF-8 text"
    if "Expected Number of Columns" in text or "expected" in text.lower() and "columns" in text.lower():
        return f"{where}a row has the wrong number of columns ({first})"
    return f"{where}{first}"
