"""Shared fixtures: fresh databases on SQLite and PostgreSQL, built from migrated templates.

PostgreSQL tests run when BREACHDASH_TEST_POSTGRES_URL is set (CI sets it) and then fail,
not skip, if the server cannot be reached. Without it they skip with the reason shown.
"""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from breachdash.auth.models import Role
from breachdash.auth.rules import Actor
from breachdash.db import make_engine, migrate

PG_ENV = "BREACHDASH_TEST_POSTGRES_URL"
# Test databases are keyed with the published development audit key (unless a key is set);
# subprocesses (CLI, workers, servers) inherit it.
os.environ.setdefault("BREACHDASH_AUDIT_DEV_KEY", "1")
BACKENDS = ["sqlite", "postgres"]
# The demo replayed at a fixed moment, so test runs on different days see the same history.
DEMO_ANCHOR = datetime(2026, 11, 2, tzinfo=timezone.utc)
ARTIFACTS = Path(__file__).parent / "artifacts"


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


class DatabaseFactory:
    """Hands out fresh, migrated databases (optionally with the demo) copied from templates."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.templates: dict[tuple[str, bool], str] = {}
        self.created_pg: list[str] = []
        self.token = uuid.uuid4().hex[:8]

    def _pg_admin_engine(self):
        url = pg_admin_url()
        if url is None:
            pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
        engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server fails the test
            pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc}")
        return engine

    def _pg_url(self, name: str) -> str:
        return make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)

    def _template(self, backend: str, demo: bool) -> str:
        key = (backend, demo)
        if key in self.templates:
            return self.templates[key]
        if backend == "sqlite":
            path = self.workdir / f"template-{'demo' if demo else 'empty'}.db"
            url = f"sqlite:///{path}"
        else:
            name = f"bdtpl_{self.token}_{'demo' if demo else 'empty'}"
            admin = self._pg_admin_engine()
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.created_pg.append(name)
            url = self._pg_url(name)
        engine = make_engine(url)
        migrate(engine)
        if demo:
            from breachdash.demo import seed_demo

            seed_demo(engine, anchor=DEMO_ANCHOR)
        if backend == "sqlite":
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        self.templates[key] = url
        return url

    def fresh_url(self, backend: str, *, demo: bool = False) -> str:
        template = self._template(backend, demo)
        if backend == "sqlite":
            source = Path(make_url(template).database)
            target = self.workdir / f"db-{uuid.uuid4().hex[:10]}.db"
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        name = f"bdt_{self.token}_{uuid.uuid4().hex[:10]}"
        admin = self._pg_admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template).database}"'))
        admin.dispose()
        self.created_pg.append(name)
        return self._pg_url(name)

    def drop_all(self) -> None:
        if not self.created_pg or pg_admin_url() is None:
            return
        admin = make_engine(pg_admin_url()).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in reversed(self.created_pg):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def engine(databases, backend):
    """A fresh, migrated, empty database on each backend."""
    engine = make_engine(databases.fresh_url(backend))
    yield engine
    engine.dispose()


@pytest.fixture
def demo_engine(databases, backend):
    """A fresh database holding the demo incident, on each backend."""
    engine = make_engine(databases.fresh_url(backend, demo=True))
    yield engine
    engine.dispose()


def actor_with(*roles: Role, email: str | None = None) -> Actor:
    roles = frozenset(roles)
    name = email or ("+".join(sorted(r.value for r in roles)) or "nobody") + "@test.example"
    return Actor(email=name, roles=roles)


@pytest.fixture
def admin() -> Actor:
    return actor_with(Role.admin)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def add_synthetic_incident(url: str, *, events: int, slug: str = "synthetic-500") -> int:
    """An incident with `events` timeline entries of every kind spread over 60 days, written
    through the services (as a load for rendering checks)."""
    import random
    from datetime import timedelta

    from breachdash.common import simulated_clock
    from breachdash.incidents.service import create_incident
    from breachdash.timeline.models import EventKind
    from breachdash.timeline.service import add_event

    engine = make_engine(url)
    architect = actor_with(Role.architect)
    incident = create_incident(engine, actor=actor_with(Role.admin), incident_in={
        "slug": slug, "title": f"Synthetic incident with {events} events", "company": "Load Test Ltd"})
    rng = random.Random(5)
    start = DEMO_ANCHOR - timedelta(days=60)
    kinds = list(EventKind)
    for index in range(events):
        happened = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        with simulated_clock(happened + timedelta(hours=rng.randrange(1, 48))):
            add_event(engine, actor=architect, incident_id=incident.id, event_in={
                "occurred_at": happened, "kind": kinds[index % len(kinds)],
                "title": f"Synthetic entry {index + 1}", "detail": "generated for a rendering check"})
    engine.dispose()
    return incident.id


def _refusing_service(frame) -> str:
    """The outermost breachdash function on the stack (the service a page, the CLI or a test
    called), below pages, the UI helpers and the command line."""
    found = "unknown"
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("breachdash.") and not module.startswith(("breachdash.ui", "breachdash.cli")):
            found = f"{module.removeprefix('breachdash.')}.{frame.f_code.co_name}"
        frame = frame.f_back
    return found


@pytest.fixture(autouse=True, scope="session")
def _count_stale_write_refusals():
    """Figures: every stale write refused in this process ("changed by X — reload", StaleUpdate),
    by the service that refused it. The tests that prove the refusals produce them; writes refused
    in subprocesses (CLI calls, concurrency workers, servers under Chromium) are not counted here."""
    import sys

    from breachdash.errors import StaleUpdate
    from tests.figures import report

    original = StaleUpdate.__init__

    def counted(self, *args, **kwargs):
        original(self, *args, **kwargs)
        report(f"stale-write refusals: {_refusing_service(sys._getframe(1))}", 1)

    StaleUpdate.__init__ = counted
    yield
    StaleUpdate.__init__ = original


def pytest_terminal_summary(terminalreporter):
    from tests.figures import FIGURES

    if FIGURES:
        terminalreporter.section("breachdash figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value:,}" if isinstance(value, int) else f"{name}: {value}")
