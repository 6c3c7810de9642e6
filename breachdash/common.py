"""Shared column types and helpers for every domain's models."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


_simulated_now: ContextVar[datetime | None] = ContextVar("breachdash_simulated_now", default=None)


def utcnow() -> datetime:
    """Now, in UTC. Every service stamps time through this, so the demo builder can replay an
    incident's days in order (see `simulated_clock`)."""
    return _simulated_now.get() or datetime.now(timezone.utc)


@contextmanager
def simulated_clock(moment: datetime) -> Iterator[None]:
    """Run services as if it were `moment` (used to build the demo incident's history)."""
    token = _simulated_now.set(as_utc(moment))
    try:
        yield
    finally:
        _simulated_now.reset(token)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    SQLite keeps no zone, so values are normalised to UTC on the way in (naive values are
    refused: they are a bug) and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; breachdash stores timezone-aware UTC only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: text that would start a formula (someone's
    '=HYPERLINK(...)' title or customer id) gets a leading apostrophe. Numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must carry a timezone")
    return value.astimezone(timezone.utc)


def _install_naming_convention() -> None:
    # Named constraints let Alembic alter them identically on SQLite (batch mode) and PostgreSQL.
    from sqlmodel import SQLModel

    SQLModel.metadata.naming_convention = {
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }


_install_naming_convention()
