"""Crash safety: SIGKILL an import, a JSON import and a sign-off in flight, on SQLite and PostgreSQL.

Each operation runs in a worker process (tests/crash_worker.py) that is killed
  1. deterministically, inside its write transaction after the service's last write helper has run
     and flushed (the worker proves the rows were there by counting them in its own transaction), and
  2. at seeded-random delays from the start of the operation, with a gate holding the worker before
     a seeded-random statement of its write transaction or before COMMIT — so every kill lands in
     flight: while the file is read and checked (DuckDB), inside the transaction, or at COMMIT.
After every kill the database opens, holds exactly what it held before (every row of every table),
passes its own integrity check, no session of the dead worker is left holding the write lock, and
the audit chain verifies. Then `verify-audit` (the CLI) exits 0, the same operation is retried and
gives the expected result, and the chain still verifies. docs/reliability.md, "Crash safety".
"""
from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from breachdash.audit.service import verify_chain
from breachdash.auth.models import Role
from breachdash.cli import main as cli_main
from breachdash.comms import service as comms
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.importers.affected import import_affected_file
from breachdash.importers.delivery import import_delivery_report
from breachdash.incidents.service import find_incident
from breachdash.synth import write_synthetic
from breachdash.transfer import dumps, export_incident, import_incident, parse_document
from tests.conftest import DEMO_ANCHOR, actor_with
from tests.crash_worker import sign_off_target
from tests.figures import report
from tests.integration.test_transfer import database_dump

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ["affected", "delivery", "json", "signoff"]
CUSTOMERS = 300_000  # the affected-customers and delivery files: DuckDB reads them for about a second
EXTRA_EVENTS = 3_000  # timeline entries added to the demo's JSON document, so its import takes a while too
RANDOM_KILLS = 2  # per operation and backend, besides the deterministic one
# The demo incident (anchored at DEMO_ANCHOR) sent its initial notice about three days in.
SENT_AT = DEMO_ANCHOR + timedelta(days=4)
WORKER_APP = "breachdash-crash-worker"  # PostgreSQL application_name of the worker's sessions
TIMEOUT = 120  # seconds; generous for a loaded 2-core machine, never an assertion about speed


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("crash-files")
    write_synthetic(customers=CUSTOMERS, out_dir=out, seed=13, formats=["csv"], sent_at=SENT_AT)
    return {"affected": out / "affected_customers.csv", "delivery": out / "delivery_status.csv"}


def _json_document(engine, incident_id: int, path: Path) -> dict:
    """The demo incident as a JSON document under a new slug, with many more timeline entries."""
    document = export_incident(engine, actor=actor_with(Role.admin), incident_id=incident_id)
    document["incident"]["slug"] = "crash-copy"
    events = document["timeline_events"]
    model = next(e for e in events if e["supersedes"] is None and e["retracted_at"] is None
                 and e["origin_type"] is None)
    for index in range(EXTRA_EVENTS):
        events.append({**model, "ref": f"E{len(events) + 1}", "title": f"Crash-safety note {index + 1}",
                       "detail": f"note {index + 1} of {EXTRA_EVENTS}"})
    path.write_text(dumps(document), encoding="utf-8")
    return parse_document(path.read_bytes())


def _worker_url(url: str, backend: str) -> str:
    if backend == "sqlite":
        return url
    return make_url(url).update_query_dict({"application_name": WORKER_APP}).render_as_string(hide_password=False)


class Workers:
    """`python -m tests.crash_worker serve`: forks a ready-imported worker per request."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "tests.crash_worker", "serve"], cwd=ROOT,
                                        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def start(self, argv: list[str], *, stderr: Path, tmpdir: Path) -> int:
        self.process.stdin.write(json.dumps({"argv": argv, "stderr": str(stderr), "tmpdir": str(tmpdir)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line.strip().isdigit(), f"the worker server stopped ({self.process.poll()})"
        return int(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def workers():
    server = Workers()
    yield server
    server.close()


class Worker:
    """One forked worker, held by a pidfd: it names that very process, even after its pid is reused."""

    def __init__(self, pid: int):
        try:
            self.fd = os.pidfd_open(pid)
        except ProcessLookupError:  # already ended
            self.fd = None

    def alive(self) -> bool:
        return self.fd is not None and not select.select([self.fd], [], [], 0)[0]  # readable once it ends

    def kill(self) -> None:
        if self.alive():
            signal.pidfd_send_signal(self.fd, signal.SIGKILL)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _wait_for(predicate, what: str, worker: Worker, stderr: Path, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if not worker.alive():
            pytest.fail(f"the worker ended before {what}:\n{stderr.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s:\n{stderr.read_text()[-3000:]}")
        time.sleep(0.005)


def _kill_in_flight(workers: Workers, url: str, backend: str, op: str, path: Path | None, workdir: Path, *,
                    scratch: Path, mode: str, gate: int | None = None, delay: float | None = None) -> dict:
    """Start a worker, SIGKILL it in flight; return where it was (from the markers it wrote).
    In gate mode it is killed `delay` seconds after the operation starts, or at the gate if it
    gets there first (delay None: at the gate)."""
    markers = workdir / "markers"
    markers.mkdir(parents=True)
    argv = ["--url", _worker_url(url, backend), "--op", op, "--markers", str(markers), "--mode", mode]
    if path is not None:
        argv += ["--file", str(path)]
    if gate is not None:
        argv += ["--gate-statement", str(gate)]
    stderr = workdir / "stderr.txt"
    worker = Worker(workers.start(argv, stderr=stderr, tmpdir=scratch))
    paused = markers / "paused"
    try:
        _wait_for(lambda: (markers / "ready").exists(), "the operation started", worker, stderr)
        if delay is None:
            _wait_for(paused.exists, "the pause inside the transaction", worker, stderr)
        else:
            started = time.monotonic()
            while time.monotonic() - started < delay and not paused.exists() and worker.alive():
                time.sleep(0.002)
        if not worker.alive():
            pytest.fail(f"the worker ended before the kill:\n{stderr.read_text()[-3000:]}")
    finally:
        worker.kill()
        ended = select.select([worker.fd], [], [], TIMEOUT)[0] if worker.fd is not None else True
        worker.close()
    assert ended, "the worker outlived SIGKILL"
    assert not (markers / "done").exists()
    landed = {name: json.loads((markers / name).read_text()) for name in ("txn", "paused") if (markers / name).exists()}
    return landed


def _where(landed: dict) -> str:
    if "paused" in landed:
        paused = landed["paused"]
        return f"{paused['where']} {paused.get('statement', '')}".strip()
    return "in the write transaction" if "txn" in landed else "before the write transaction (reading, checking)"


def _assert_as_before(url: str, backend: str, before: dict, context: str) -> None:
    """The database opens, is intact, holds exactly what it held before, and nobody holds its lock."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if backend == "sqlite":
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalars().all() == ["ok"], context
                assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == [], context
            else:
                # PostgreSQL ends the dead client's session (rolling its transaction back) once it sees
                # the socket close; wait for that, then the write lock must be free.
                deadline = time.monotonic() + TIMEOUT
                while connection.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = :app"), {"app": WORKER_APP}).scalar_one():
                    assert time.monotonic() < deadline, f"the killed worker's session lingers ({context})"
                    time.sleep(0.05)
                assert connection.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND d.datname = current_database()")).scalar_one() == 0, context
        assert database_dump(engine) == before, f"the killed operation left rows behind ({context})"
        verification = verify_chain(engine)
        assert verification.ok, f"{verification.broken} ({context})"
    finally:
        engine.dispose()


def _verify_audit_cli(url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "verify-audit"], cwd=ROOT,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "Audit chain intact" in result.stdout


def _retry(op: str, engine, incident_id: int, path: Path | None, document: dict | None, paused: dict) -> None:
    """The same operation again, in this process: it succeeds with the expected result, which is
    what the killed transaction held when it was killed."""
    if op == "affected":
        revision, summary = import_affected_file(engine, actor=actor_with(Role.architect), incident_id=incident_id,
                                                 path=path, reason="crash-safety test")
        assert revision.figure_kind == "exact" and revision.best == summary.customers == CUSTOMERS
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT sum(rows) FROM customer_chunks WHERE kind = 'affected' "
                                             "AND source_id = :r"), {"r": revision.id}).scalar_one()
        assert stored == CUSTOMERS
    elif op == "delivery":
        summary = import_delivery_report(engine, actor=actor_with(Role.pr), incident_id=incident_id, path=path)
        with path.open() as handle:
            rows = sum(1 for _ in handle) - 1
        assert (summary.rows, summary.customers, summary.states_changed) == (rows, CUSTOMERS, CUSTOMERS)
    elif op == "json":
        imported = import_incident(engine, actor=actor_with(Role.admin), document=document)
        again = export_incident(engine, actor=actor_with(Role.admin), incident_id=imported.id)
        assert dumps(again) == dumps(document)
    else:
        version_id = sign_off_target(engine, incident_id)
        record = comms.sign_off(engine, actor=actor_with(Role.legal, email="legal@crash.example"),
                                message_version_id=version_id, role=Role.legal, decision="approve",
                                comment="crash-safety test")
        assert (record.message_version_id, record.decision, record.role) == (version_id, "approve", "legal")
    with engine.connect() as connection:
        audit_rows = connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
        chunk_rows = connection.execute(text("SELECT coalesce(sum(rows), 0) FROM customer_chunks")).scalar_one()
    assert audit_rows == paused["audit_rows_in_transaction"]
    assert int(chunk_rows) == paused["chunk_customer_rows_in_transaction"]


@pytest.mark.parametrize("op", OPERATIONS)
def test_sigkill_in_flight__leaves_nothing_and_a_retry_succeeds(databases, backend, op, files, workers, tmp_path,
                                                                monkeypatch):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    incident_id = find_incident(engine, DEMO_SLUG).id
    document = None
    if op == "json":
        path = tmp_path / "incident.json"
        document = _json_document(engine, incident_id, path)
    else:
        path = files.get(op)
    before = database_dump(engine)
    engine.dispose()
    scratch = tmp_path / "tmp"  # the TMPDIR of the workers and of the retry
    scratch.mkdir()
    rng = random.Random(f"crash-safety/{op}/{backend}")
    landings = []

    # 1. Deterministic: inside the transaction, the service's writes flushed, not yet committed.
    landed = _kill_in_flight(workers, url, backend, op, path, tmp_path / "kill-0", scratch=scratch,
                             mode="after-write")
    paused = landed["paused"]
    assert paused["audit_rows_in_transaction"] > len(before["audit_events"]), paused
    _assert_as_before(url, backend, before, f"{op} killed {_where(landed)}")
    landings.append(_where(landed))

    # 2. Seeded-random moments: one before the write transaction opens (reading and checking the
    # input, DuckDB for the files), then over the whole operation with a gate at a random statement
    # of the transaction or its COMMIT, whichever it reaches first.
    ends = [landed["txn"]["elapsed"]] + [paused["elapsed"] * 1.2] * (RANDOM_KILLS - 1)
    for kill, end in enumerate(ends, start=1):
        delay = rng.uniform(0, end)
        gate = rng.randint(1, paused["statements"] + 1)
        landed = _kill_in_flight(workers, url, backend, op, path, tmp_path / f"kill-{kill}", scratch=scratch,
                                 mode="gate", gate=gate, delay=delay)
        where = _where(landed)
        _assert_as_before(url, backend, before, f"{op} killed {where} (delay {delay:.3f} s, gate {gate})")
        landings.append(f"{where} (after {delay:.2f} s)")

    _verify_audit_cli(url)
    left_behind = sorted(p.name for p in scratch.iterdir())
    if op in ("affected", "delivery"):  # killed inside the import: its scratch directories stay behind
        assert left_behind, "expected the killed imports' scratch directories"
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    engine = make_engine(url)
    try:
        _retry(op, engine, incident_id, path, document, paused)
        assert verify_chain(engine).ok
    finally:
        engine.dispose()
    # The retry removed what the killed workers left (their processes are gone) and its own.
    assert list(scratch.iterdir()) == [], f"left behind by killed workers: {left_behind}"
    assert cli_main(["--database-url", url, "verify-audit"]) == 0

    report("crash safety: SIGKILLs survived", len(landings))
    report("crash safety: kills before the write transaction",
           sum(where.startswith("before") for where in landings))
    report("crash safety: kills inside the write transaction (incl. at COMMIT)",
           sum(not where.startswith("before") for where in landings))
    print(f"\n{op} on {backend}: killed {'; '.join(landings)}")


def test_scratch_sweep__removes_only_directories_of_processes_that_are_gone(tmp_path, monkeypatch):
    from breachdash.importers.common import scratch_directory, sweep_orphaned_scratch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = tmp_path / f"breachdash-import-{finished.pid}-abc"
        kept = [tmp_path / f"breachdash-affected-{alive.pid}-def", tmp_path / f"breachdash-read-{os.getpid()}-ghi",
                tmp_path / "breachdash-upload-xyz", tmp_path / "other-123-x"]
        for directory in [gone, *kept]:
            (directory / "sub").mkdir(parents=True)
        assert sweep_orphaned_scratch() == 1
        assert sorted(tmp_path.iterdir()) == sorted(kept)
        with scratch_directory("affected") as workdir:
            assert Path(workdir).name.startswith(f"breachdash-affected-{os.getpid()}-")
        assert sorted(tmp_path.iterdir()) == sorted(kept)
    finally:
        alive.kill()
        alive.wait()
