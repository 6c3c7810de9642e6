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

from breachdash.errors import InvalidInput, quoted

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


MAX_NAMED_COLUMNS = 5


def name_columns(names: list[str]) -> str:
    """The first few column names, then how many more: a 50,000-column header stays one line."""
    shown = ", ".join(quoted(n, 40)[1:-1] if len(n) <= 40 else quoted(n, 40) for n in names[:MAX_NAMED_COLUMNS])
    if len(names) > MAX_NAMED_COLUMNS:
        shown += f" and {len(names) - MAX_NAMED_COLUMNS:,} more"
    return shown


def check_columns(columns: list[str], *, required: list[str], optional: list[str]) -> None:
    """Refuse direct identifiers, missing and unknown columns, each with an explanation (naming the
    first few columns and how many there are, whatever the header's size)."""
    if not set(columns) & set(required + optional):
        raise InvalidInput.single(
            "columns", f"missing column(s) {', '.join(required)} (is the first line the header?); expected "
                       f"{', '.join(required)} and optionally {', '.join(optional)}")
    normalised = [_normalise(c) for c in columns]
    identifiers = [c for c, n in zip(columns, normalised) if n in DIRECT_IDENTIFIER_COLUMNS]
    if identifiers:
        raise InvalidInput.single(
            "columns",
            f"the file has direct-identifier column(s) {name_columns(identifiers)}. breachdash never stores "
            "customers' direct identifiers: send pseudonymous customer ids only (see docs/file-formats.md)")
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required + optional]
    problems = []
    if missing:
        problems.append(("columns", f"missing column(s) {', '.join(missing)}; expected "
                                    f"{', '.join(required)} and optionally {', '.join(optional)}"))
    if unknown:
        count = f"{len(unknown):,} unknown columns: " if len(unknown) > MAX_NAMED_COLUMNS else "unknown column(s) "
        problems.append(("columns", f"{count}{name_columns(unknown)} (the header has {len(columns):,} columns)"
                         if len(unknown) > MAX_NAMED_COLUMNS else f"{count}{name_columns(unknown)}"))
    if len(set(columns)) != len(columns):
        problems.append(("columns", "a column name appears twice"))
    if problems:
        raise InvalidInput(problems)


_WIDE_ENCODINGS = (  # longest BOM first: UTF-32 LE starts with UTF-16 LE's BOM
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def wide_encoding(head: bytes) -> str | None:
    """"UTF-16" or "UTF-32" when the bytes start with that encoding's BOM or show its NUL pattern
    (ASCII text where every second, or every three in four, bytes are NUL); else None."""
    for bom, name in _WIDE_ENCODINGS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    sample = sample[:len(sample) - len(sample) % 4]
    if len(sample) < 4:
        return None
    quads = [sample[i:i + 4] for i in range(0, len(sample), 4)]
    if all(q.count(0) == 3 for q in quads):
        return "UTF-32"
    pairs = [sample[i:i + 2] for i in range(0, len(sample), 2)]
    nul_pairs = sum(1 for pair in pairs if pair.count(0) == 1)
    if nul_pairs >= 0.9 * len(pairs) and (all(p[0] == 0 for p in pairs if 0 in p) or all(p[1] == 0 for p in pairs if 0 in p)):
        return "UTF-16"
    return None


def line_length(path: Path, line: int, *, limit: int | None = None) -> int:
    """The length in bytes of physical line `line` (from 1) of the file, without its line end; read
    in chunks, so a line of gigabytes costs no memory. Stops counting at `limit` if given."""
    current, length = 1, 0
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            start = 0
            while current < line:
                found = chunk.find(b"\n", start)
                if found < 0:
                    break
                current, start = current + 1, found + 1
            if current < line:
                continue
            end = chunk.find(b"\n", start)
            length += (end if end >= 0 else len(chunk)) - start
            if end >= 0 or (limit is not None and length > limit):
                break
    return length


MAX_LINE_BYTES = 2_000_000  # DuckDB's max_line_size, passed to read_csv explicitly
_BLOCK = MAX_LINE_BYTES // 2


def check_line_lengths(path: Path, limit: int = MAX_LINE_BYTES) -> None:
    """Refuse a CSV file with a line longer than `limit` bytes, naming the line and its length.
    DuckDB's own errors for such lines are unhelpful (or, for a line of a gigabyte, no error at all).
    One pass of block-wise newline searches: a line of `limit` bytes or more covers a whole aligned
    block of limit/2 bytes, so only a block with no line end needs a closer look."""
    chunk_size = _BLOCK * 8
    with path.open("rb") as handle:
        offset = 0
        while chunk := handle.read(chunk_size):
            for start in range(0, len(chunk), _BLOCK):
                block = chunk[start:start + _BLOCK]
                if len(block) == _BLOCK and b"\n" not in block:
                    line = _line_at(path, offset + start)
                    length = line_length(path, line)
                    if length > limit:
                        raise InvalidInput.single(f"line {line}", f"line {line} is {length:,} bytes long; the limit "
                                                                  f"is {limit:,} bytes (is a quote left open, or "
                                                                  "is this not a CSV file?)")
            offset += len(chunk)


def _line_at(path: Path, offset: int) -> int:
    """The physical line (from 1) holding byte `offset`."""
    lines, read = 1, 0
    with path.open("rb") as handle:
        while read < offset:
            chunk = handle.read(min(8 * 1024 * 1024, offset - read))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            read += len(chunk)
    return lines


def csv_header(path: Path) -> list[str]:
    """Read and check the head of a CSV file without reading the rest."""
    if path.stat().st_size == 0:
        raise InvalidInput.single("file", "the file is empty")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = wide_encoding(head)
    if encoding:
        raise InvalidInput.single("file", f"this file is {encoding}; save it as UTF-8 (CSV UTF-8) and import it again")
    nul = head.find(b"\x00")
    if nul >= 0:
        line = head[:nul].count(b"\n") + 1
        raise InvalidInput.single(f"line {line}", f"not a text CSV file: a NUL byte at offset {nul:,}")
    if b"\n" not in head and b"\r" not in head and path.stat().st_size > SNIFF_BYTES:
        length = line_length(path, 1, limit=1024 ** 3)
        size = f"{length:,} bytes" if length <= 1024 ** 3 else "more than 1 GiB"
        raise InvalidInput.single("line 1", f"the header line is {size} long; the limit is {SNIFF_BYTES:,} bytes "
                                            "(64 KiB) — is the first line the header, and are the lines separated?")
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
                  f"max_line_size = {MAX_LINE_BYTES}, "
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


def describe_duckdb_error(exc: Exception, path: Path | None = None) -> str:
    """DuckDB's CSV errors, reduced to the part a person needs (never its copy of the line)."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
    line = re.search(r"[Ll]ine:? (\d+)", text)
    where = f"line {line.group(1)}: " if line else ""
    too_long = re.search(r"[Mm]aximum line size of (\d+) bytes exceeded(?:\. Actual Size:\s*(\d+))?", text)
    if too_long:
        limit = int(too_long.group(1))
        length = None
        if line and path is not None:
            try:
                length = line_length(path, int(line.group(1)))
            except OSError:
                length = None
        if (length is None or length <= limit) and too_long.group(2):
            length = int(too_long.group(2))
        number = f"line {line.group(1)}" if line else "a line"
        size = f"{length:,} bytes long" if length else "too long"
        return f"{number} is {size}; the limit is {limit:,} bytes (is a quote left open?)"
    if "does not support a full read" in text:  # DuckDB's parallel reader, on a line too long to split
        return f"a line is longer than {MAX_LINE_BYTES:,} bytes (is a quote left open?)"
    if "unicode" in text.lower() or "utf" in text.lower():
        return f"{where}the file is not valid UTF-8 text"
    if "Expected Number of Columns" in text or "expected" in text.lower() and "columns" in text.lower():
        return f"{where}a row has the wrong number of columns ({first[:120]})"
    return f"{where}{first[:200]}"


# ----------------------------------------------------------------- identifiers and NUL in SQL
# Checks run over the whole file inside DuckDB (RE2 regular expressions), so ten million rows take
# seconds; see docs/file-formats.md, "Identifiers must be pseudonymous".

# A cheap filter first: only values made of digits and phone/card punctuation, or holding an @,
# reach the costlier patterns.
_EMAIL = r"[^\s@]+@[^\s@]+\.[^\s@]+"
_SSN = r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}"
_CARD = r"[1-9](?:[ -]?[0-9]){12,18}"  # no issuer number starts with 0
_PHONE_INTERNATIONAL = r"\+[ .()-]*[0-9](?:[ .()-]*[0-9]){6,14}"
_PHONE_NANP = r"(?:\+?1[ .-]?)?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}"


def _luhn_sql(digits: str) -> str:
    """True when the digit string passes the Luhn check (payment card numbers do)."""
    return (f"(list_sum(list_transform(range(length({digits})), lambda i: "
            f"CASE WHEN i % 2 = 1 THEN (CAST(substr(reverse({digits}), i + 1, 1) AS INTEGER) * 2) % 9 "
            f"+ CASE WHEN substr(reverse({digits}), i + 1, 1) = '9' THEN 9 ELSE 0 END "
            f"ELSE CAST(substr(reverse({digits}), i + 1, 1) AS INTEGER) END)) % 10 = 0)")


def identifier_kind_sql(column: str) -> str:
    """SQL giving what a (trimmed) id looks like — 'an email address', 'a US social security number',
    'a payment card number', 'a phone number' — or NULL for a pseudonymous-looking id."""
    value = f"trim({column})"
    digits = f"regexp_replace({value}, '[^0-9]', '', 'g')"
    return (f"(CASE WHEN {column} IS NULL THEN NULL "
            f"WHEN contains({column}, '@') THEN CASE WHEN regexp_full_match({value}, '{_EMAIL}') "
            f"THEN 'an email address' END "
            f"WHEN NOT regexp_full_match({value}, '[0-9 .()+-]{{7,40}}') THEN NULL "
            f"WHEN regexp_full_match({value}, '{_SSN}') THEN 'a US social security number' "
            f"WHEN regexp_full_match({value}, '{_CARD}') AND {_luhn_sql(digits)} THEN 'a payment card number' "
            f"WHEN regexp_full_match({value}, '{_PHONE_INTERNATIONAL}|{_PHONE_NANP}') THEN 'a phone number' "
            f"END)")


IDENTIFIER_MESSAGE = "looks like {kind} — ids must be pseudonymous"
IDS_OVERRIDE_LABEL = "These ids are pseudonymous (they only look like emails, phone numbers, SSNs or card numbers)"
OVERRIDE_HINT = ("if these ids are pseudonymous and only look like direct identifiers, import again saying so "
                 f"(tick “{IDS_OVERRIDE_LABEL}” on the page, or --ids-are-pseudonymous on the command line; "
                 "the override is recorded in the audit log)")
NUL_MESSAGE = "contains a NUL character"


def nul_sql(column: str) -> str:
    return f"contains({column}, chr(0))"


def value_text(value: str | None, length: int | None, limit: int = 40) -> str:
    """A cell's value for a problem message, from SQL's left(value, limit + 1) and length(value)."""
    if value is None:
        return ""
    if length is not None and length > limit:
        return f"{value[:limit]!r}… ({length:,} characters)"
    return repr(value)


def collect_problems(connection: duckdb.DuckDBPyConnection, checks: list[tuple], *, per_check: int, limit: int,
                     params: list | None = None) -> InvalidInput | None:
    """Run each check — (column, message, SQL giving row_no and value, echo the value?, hint or "") —
    keeping the first `per_check` rows of each and counting the rest. The first `limit` problems by
    row, with how many more and the hint of any check that found rows; None when all are clean."""
    problems, total, hints = [], 0, []
    for column, message, sql, echo, hint in checks:
        rows = connection.execute(
            f"SELECT row_no, left(value, 41), length(value), count(*) OVER () FROM ({sql}) "
            f"ORDER BY row_no LIMIT {per_check}", params or []).fetchall()
        for row_no, value, length, _count in rows:
            text = value_text(value, length) if echo else ""
            problems.append((row_no, f"row {row_no}, column {column}", f"{message}: {text}" if text else message))
        total += rows[0][3] if rows else 0
        if rows and hint and hint not in hints:
            hints.append(hint)
    if not problems:
        return None
    shown = [(location, message) for _n, location, message in sorted(problems, key=lambda p: p[0])[:limit]]
    return InvalidInput(shown, more=total - len(shown), hint=" ".join(hints))
