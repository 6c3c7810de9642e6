"""Backup and restore: exact round trips on each backend and across them, consistent backups while
the app writes, and every bad file or occupied target refused with the target unchanged."""
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from breachdash.audit.service import verify_chain
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.backup import BackupError, backup_database, head_revision, read_backup_info, restore_database
from breachdash.common import utcnow
from breachdash.db import downgrade, make_engine, read_session
from breachdash.demo import DEMO_SLUG
from breachdash.errors import Conflict
from breachdash.importers.affected import import_affected_file
from breachdash.importers.delivery import import_delivery_report
from breachdash.incidents.models import Incident
from breachdash.incidents.service import find_incident
from breachdash.synth import write_synthetic
from breachdash.timeline.models import TimelineEvent
from breachdash.timeline.service import add_event
from breachdash.transfer import dumps, export_incident
from tests.conftest import DEMO_ANCHOR, PG_ENV, actor_with
from tests.figures import report
from tests.integration.test_transfer import database_dump

ARCHITECT = actor_with(Role.architect)
PR = actor_with(Role.pr)


@pytest.fixture(scope="module")
def outreach_source(databases, tmp_path_factory):
    """A database per backend holding the demo plus outreach data (an affected-customers import and
    a delivery report, so large binary chunks and JSON reconciliation are in it). Read only."""
    made: dict[str, str] = {}

    def get(backend: str) -> str:
        if backend not in made:
            url = databases.fresh_url(backend, demo=True)
            files = tmp_path_factory.mktemp(f"outreach-{backend}")
            write_synthetic(customers=1_500, out_dir=files, seed=11, formats=["parquet"],
                            sent_at=DEMO_ANCHOR + timedelta(days=4))
            engine = make_engine(url)
            incident = find_incident(engine, DEMO_SLUG)
            import_affected_file(engine, actor=ARCHITECT, incident_id=incident.id,
                                 path=files / "affected_customers.parquet")
            import_delivery_report(engine, actor=PR, incident_id=incident.id, path=files / "delivery_status.parquet")
            engine.dispose()
            made[backend] = url
        return made[backend]

    return get


def _exports(engine) -> dict[int, str]:
    with read_session(engine) as session:
        ids = session.exec(select(Incident.id).order_by(Incident.id)).all()
    return {incident_id: dumps(export_incident(engine, actor=system_actor(), incident_id=incident_id))
            for incident_id in ids}


def _restore_fresh(databases, backend, path):
    engine = make_engine(databases.fresh_url(backend))
    summary = restore_database(engine, path)
    return engine, summary


def test_round_trip__identical_exports_rows_and_audit_head_then_new_writes_work(
        databases, backend, outreach_source, tmp_path):
    source = make_engine(outreach_source(backend))
    started = time.perf_counter()
    info = backup_database(source, tmp_path / "backup.db")
    report(f"backup of the demo with outreach on {backend}",
           f"{time.perf_counter() - started:.2f} s, {info.size:,} bytes, {info.total_rows:,} rows")
    assert info.row_counts["customer_chunks"] > 0 and info.row_counts["delivery_reports"] == 1
    assert not (tmp_path / "backup.db.partial").exists()

    target, summary = _restore_fresh(databases, backend, tmp_path / "backup.db")
    assert _exports(target) == _exports(source)
    assert database_dump(target) == database_dump(source)  # every value of every row, byte for byte
    before, after = verify_chain(source), verify_chain(target)
    assert after.ok and (after.head_id, after.head_hash) == (before.head_id, before.head_hash)
    assert (info.audit_head_id, info.audit_head_hash) == (before.head_id, before.head_hash)
    assert summary.row_counts == info.row_counts and summary.audit_head_hash == before.head_hash

    # Sequences are past the restored ids: a new write gets a fresh id and the chain stays intact.
    incident = find_incident(target, DEMO_SLUG)
    with read_session(target) as session:
        last_id = max(session.exec(select(TimelineEvent.id)).all())
    event = add_event(target, actor=ARCHITECT, incident_id=incident.id, event_in={
        "occurred_at": utcnow(), "kind": "other", "title": "after the restore"})
    assert event.id > last_id and verify_chain(target).ok
    source.dispose()
    target.dispose()


def test_backup_while_the_app_writes__each_backup_is_one_consistent_moment(databases, backend, tmp_path):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    incident = find_incident(engine, DEMO_SLUG)
    written: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer():
        writer_engine = make_engine(url)
        try:
            while not stop.is_set():
                add_event(writer_engine, actor=ARCHITECT, incident_id=incident.id, event_in={
                    "occurred_at": utcnow(), "kind": "other", "title": f"online {len(written)}"})
                written.append(1)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            writer_engine.dispose()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    bounds = []
    try:
        for index in range(3):
            deadline = time.monotonic() + 60
            while len(written) < 3 * (index + 1) and not errors and time.monotonic() < deadline:
                time.sleep(0.02)
            low = len(written)
            backup_database(engine, tmp_path / f"online-{index}.db")
            bounds.append((low, len(written)))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert len(written) >= 9

    for index, (low, high) in enumerate(bounds):
        info = read_backup_info(tmp_path / f"online-{index}.db")  # counts and digests match its record
        target, summary = _restore_fresh(databases, backend, tmp_path / f"online-{index}.db")
        assert verify_chain(target).ok and summary.row_counts == info.row_counts
        with target.connect() as connection:
            events = set(connection.execute(text(
                "SELECT id FROM timeline_events WHERE title LIKE 'online %'")).scalars())
            audited = [int(entity_id) for entity_id in connection.execute(text(
                "SELECT entity_id FROM audit_events WHERE action = 'timeline.event_added'")).scalars()]
        # Every event arrived with its audit row and none without: no half of any write.
        assert events <= set(audited) and len(audited) == len(set(audited))
        # Counted before the backup began <= in it <= counted after it ended, plus the one write
        # that may have committed but not yet been counted.
        assert low <= len(events) <= high + 1
        target.dispose()
    engine.dispose()


def test_across_backends__sqlite_to_postgres_and_back_byte_for_byte(databases, outreach_source, tmp_path):
    if not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV}")
    source = make_engine(outreach_source("sqlite"))
    first = backup_database(source, tmp_path / "from-sqlite.db")
    postgres, _ = _restore_fresh(databases, "postgres", first.path)
    second = backup_database(postgres, tmp_path / "from-postgres.db")
    assert second.source_backend == "postgresql"
    # The stored values of every table are the same bytes after a trip through PostgreSQL:
    # time zones, JSON, large binary chunks and big integers included.
    assert second.digests == first.digests and second.row_counts == first.row_counts
    back, _ = _restore_fresh(databases, "sqlite", second.path)
    assert _exports(source) == _exports(postgres) == _exports(back)
    assert database_dump(back) == database_dump(source)
    for engine in (source, postgres, back):
        engine.dispose()


@pytest.fixture
def demo_backup(databases, backend, tmp_path):
    engine = make_engine(databases.fresh_url(backend, demo=True))
    info = backup_database(engine, tmp_path / "demo-backup.db")
    engine.dispose()
    return info


def _refused(engine, path, match, error=BackupError, **kwargs):
    before = database_dump(engine)
    with pytest.raises(error, match=match):
        restore_database(engine, path, **kwargs)
    assert database_dump(engine) == before


def test_restore_into_a_database_with_data__refused_unless_replace(databases, backend, demo_backup, tmp_path):
    target = make_engine(databases.fresh_url(backend, demo=True))
    incident = find_incident(target, DEMO_SLUG)
    add_event(target, actor=ARCHITECT, incident_id=incident.id, event_in={
        "occurred_at": utcnow(), "kind": "other", "title": "only in the target"})
    _refused(target, demo_backup.path, r"not empty \(1 incident\(s\).*--replace", error=Conflict)

    summary = restore_database(target, demo_backup.path, replace=True)
    assert summary.replaced["timeline_events"] == summary.row_counts["timeline_events"] + 1
    source = make_engine(databases.fresh_url(backend, demo=True))
    assert _exports(target) == _exports(source)
    assert verify_chain(target).head_hash == demo_backup.audit_head_hash
    target.dispose()
    source.dispose()


def test_replace_that_fails_its_checks__rolled_back_whole(databases, backend, tmp_path):
    """A backup of a database whose audit row was altered: the copy happens, the chain check fails,
    and the deletion of the target's rows is rolled back with it."""
    url = databases.fresh_url("sqlite", demo=True)
    tampered = sqlite3.connect(url.removeprefix("sqlite:///"))
    tampered.execute("UPDATE audit_events SET actor = 'someone-else' WHERE id = 5")
    tampered.commit()
    tampered.close()
    source = make_engine(url)
    info = backup_database(source, tmp_path / "tampered.db")
    source.dispose()
    target = make_engine(databases.fresh_url(backend, demo=True))
    _refused(target, info.path, r"audit chain is broken at audit event #5.*nothing was changed", replace=True)
    target.dispose()


def test_files_that_are_not_good_backups__refused_and_target_unchanged(databases, backend, demo_backup, tmp_path):
    target = make_engine(databases.fresh_url(backend))

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database\n" * 100)
    _refused(target, text_file, "not a breachdash backup \\(it is not an SQLite file\\)")
    _refused(target, tmp_path / "missing.db", "does not exist")

    live = sqlite3.connect(tmp_path / "live.db")
    live.execute("CREATE TABLE t (x)")
    live.commit()
    live.close()
    _refused(target, tmp_path / "live.db", "not a breachdash backup \\(it has no breachdash_backup table\\)")

    data = demo_backup.path.read_bytes()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 2])
    _refused(target, truncated, "damaged or truncated")

    # Bytes changed inside a stored value: SQLite's own check cannot see it, the recorded digests do.
    connection = sqlite3.connect(demo_backup.path)
    title = connection.execute("SELECT title FROM timeline_events ORDER BY id LIMIT 1").fetchone()[0]
    connection.close()
    offset = data.index(title.encode())
    flipped = tmp_path / "flipped.db"
    flipped.write_bytes(data[:offset] + bytes([data[offset] ^ 0x20]) + data[offset + 1:])
    _refused(target, flipped, "damaged: its contents do not match")

    newer = tmp_path / "newer.db"
    shutil.copyfile(demo_backup.path, newer)
    connection = sqlite3.connect(newer)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.execute("UPDATE breachdash_backup SET alembic_revision = '9999'")
    connection.commit()
    connection.close()
    _refused(target, newer, "revision 9999, which this version of breachdash does not know.*newer version")
    target.dispose()

    if backend == "sqlite":
        itself = tmp_path / "itself.db"
        shutil.copyfile(demo_backup.path, itself)
        same = make_engine(f"sqlite:///{itself}")
        _refused(same, itself, "the backup file itself", replace=True)
        same.dispose()


def test_backup_from_an_older_schema__its_copy_is_migrated_forward(databases, backend, tmp_path):
    from alembic.script import ScriptDirectory

    from breachdash.db import alembic_config

    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision()).down_revision
    url = databases.fresh_url("sqlite", demo=True)
    old = make_engine(url)
    downgrade(old, previous)
    info = backup_database(old, tmp_path / "old.db")
    old.dispose()
    assert info.alembic_revision == previous
    target, summary = _restore_fresh(databases, backend, info.path)
    assert summary.migrated_from == previous
    assert verify_chain(target).head_hash == info.audit_head_hash
    assert read_backup_info(info.path).alembic_revision == previous  # the backup file itself is untouched
    target.dispose()


def _cli(url, *args):
    return subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, *args],
                          capture_output=True, text=True, timeout=300)


def test_cli__backup_check_restore_and_refusals(databases, tmp_path):
    source_url = databases.fresh_url("sqlite", demo=True)
    path = tmp_path / "cli.db"
    made = _cli(source_url, "backup", str(path))
    assert made.returncode == 0, made.stderr
    info = read_backup_info(path)
    assert f"Audit chain head: event #{info.audit_head_id} sha256 {info.audit_head_hash}" in made.stdout

    again = _cli(source_url, "backup", str(path))
    assert again.returncode == 2 and "already exists" in again.stderr

    check = _cli(source_url, "restore", "--check", str(path))
    assert check.returncode == 0 and "complete and undamaged" in check.stdout

    # A new SQLite file: restore creates and migrates it.
    target_url = f"sqlite:///{tmp_path / 'new.db'}"
    restored = _cli(target_url, "restore", str(path))
    assert restored.returncode == 0, restored.stderr
    assert f"Head: event #{info.audit_head_id} sha256 {info.audit_head_hash}" in restored.stdout
    verified = _cli(target_url, "verify-audit")
    assert verified.returncode == 0 and info.audit_head_hash in verified.stdout

    occupied = _cli(target_url, "restore", str(path))
    assert occupied.returncode == 2 and "not empty" in occupied.stderr and "--replace" in occupied.stderr
    assert "Traceback" not in again.stderr + occupied.stderr
