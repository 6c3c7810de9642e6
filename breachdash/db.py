"""Engine, units of work and the migrations runner. No Streamlit here.

Only the engine is long-lived; sessions are short: `with write_session(engine) as s:` is our
unit of work (it commits on success, rolls back on any exception).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import Session, create_engine

from breachdash.config import load_pool_settings
from breachdash.errors import DatabaseUnavailable, DatabaseUnreachable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str) -> Engine:
    """Build an engine; raises DatabaseUnavailable with a readable message for a bad URL. A
    PostgreSQL engine's pool is sized by config.load_pool_settings()."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailable(
            f"The database URL {url!r} is not valid ({exc}). Expected e.g. "
            "sqlite:///data/breachdash.db or postgresql+psycopg://user@host:5432/dbname."
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": WRITE_LOCK_TIMEOUT_S,
                                                         "check_same_thread": False})
            _configure_sqlite(engine)
        else:
            pool = load_pool_settings()
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=pool.pool_size,
                                   max_overflow=pool.max_overflow)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise DatabaseUnavailable(
            f"The database URL {describe_url(url)} names a driver that is not available ({exc}). "
            "Use sqlite:/// or postgresql+psycopg://."
        ) from None
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling begins lazily and cannot BEGIN IMMEDIATE; take it over
    # (the SQLAlchemy-documented recipe) so write units of work hold the write lock from the start.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        immediate = connection.get_execution_options().get("breachdash_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def check_database(engine: Engine) -> None:
    """Connect once; raise DatabaseUnavailable with a message a person can act on."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnreachable(
            f"Cannot reach the database at {describe_url(str(engine.url))}: {reason}"
        ) from None
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"The database at {describe_url(str(engine.url))} failed: {exc.__class__.__name__}"
        ) from None


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


# Any constant works; it only has to be the same for every writer of this database (every
# server process in a scaled-out deployment shares it through PostgreSQL).
WRITE_LOCK_KEY = 7_415_100_301
# How long a write waits for another one to finish before it gives up with a message (SQLite's
# busy timeout; PostgreSQL's lock_timeout while it waits for the advisory lock).
WRITE_LOCK_TIMEOUT_S = 30


def _lock_wait_timed_out(exc: OperationalError) -> bool:
    if getattr(exc.orig, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available
        return True
    return "database is locked" in str(exc.orig)  # SQLite's busy timeout ran out


def _take_write_lock(session: Session, engine: Engine) -> None:
    """Wait for the write lock; a wait that outlasts WRITE_LOCK_TIMEOUT_S becomes a message a
    person can act on, instead of a driver error (SQLite) or an endless wait (PostgreSQL)."""
    try:
        if is_sqlite(engine):
            session.connection()  # runs BEGIN IMMEDIATE, which waits up to the busy timeout
        else:
            session.execute(text(f"SET LOCAL lock_timeout = '{int(WRITE_LOCK_TIMEOUT_S * 1000)}ms'"))
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
            session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    except OperationalError as exc:
        if not _lock_wait_timed_out(exc):
            raise
        raise DatabaseUnavailable(
            f"The database was busy saving other changes for over {WRITE_LOCK_TIMEOUT_S:g} seconds; this "
            "change was not saved — try again in a moment."
        ) from None


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error. It holds the database's write lock
    from the start (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction advisory lock), so
    read-then-write rules (versions, one sign-off per person, the audit chain) cannot race,
    across threads, processes and servers alike. Writes are short; importers do their heavy work
    before they open one. Reads never wait for it."""
    bind = engine.execution_options(breachdash_write=True) if is_sqlite(engine) else engine
    with Session(bind, expire_on_commit=False) as session:
        with session.begin():
            _take_write_lock(session, engine)
            yield session


def alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (default head)."""
    from alembic import command

    check_database(engine)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
