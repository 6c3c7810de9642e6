"""A logical, byte-exact snapshot of a whole database, for "nothing was written" checks.

Every table the database holds (found by reflection, and checked to include every table of
SQLModel.metadata), its columns, its rows in primary-key order with each value serialised
canonically, and the state of the id generators (PostgreSQL sequences, SQLite's
sqlite_sequence). Two snapshots of one database are equal exactly when nothing was written —
not a row, not a blob byte, not an id drawn from a sequence by a rolled-back insert.

Values are read without SQLAlchemy's type processing, so nothing is parsed or normalised on
the way: on SQLite the driver's raw values (text, integer, real as float.hex, blob as hex); on
PostgreSQL each column cast to text in a transaction with fixed output settings (UTC, ISO dates,
hex bytea, shortest exact floats), which is PostgreSQL's own canonical form of the value.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import breachdash.models  # noqa: F401 - registers every table in SQLModel.metadata


@dataclass(frozen=True)
class Snapshot:
    sections: tuple[tuple[str, bytes], ...]  # (section name, its canonical bytes), in a fixed order

    @property
    def data(self) -> bytes:
        return b"".join(b"== " + name.encode() + b"\n" + body for name, body in self.sections)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def changed(self, other: "Snapshot") -> list[str]:
        """The sections (tables, schema, sequences) that differ between two snapshots."""
        mine, theirs = dict(self.sections), dict(other.sections)
        return sorted(name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name))


def _sqlite_value(value) -> str:
    if value is None:
        return "N"
    if isinstance(value, bool):  # not produced by sqlite3, but never confuse it with 0/1
        return f"b:{int(value)}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        return f"f:{value.hex()}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"x:{bytes(value).hex()}"
    if isinstance(value, str):
        return "s:" + json.dumps(value, ensure_ascii=True)
    raise TypeError(f"unexpected SQLite value {value!r} ({type(value).__name__})")


def _text_value(value) -> str:
    if value is None:
        return "N"
    if not isinstance(value, str):
        raise TypeError(f"expected text from a ::text cast, got {type(value).__name__}")
    return "s:" + json.dumps(value, ensure_ascii=True)


def _rows(connection: Connection, engine: Engine, table: str, columns: list[str], key: list[str]) -> bytes:
    quote = engine.dialect.identifier_preparer.quote
    postgres = engine.dialect.name == "postgresql"
    selected = ", ".join(f"CAST({quote(c)} AS text)" if postgres else quote(c) for c in columns)
    # No primary key: order by every column (as text on PostgreSQL, where json has no ordering).
    order = ", ".join(quote(c) for c in key) if key else ", ".join(str(i + 1) for i in range(len(columns)))
    result = connection.exec_driver_sql(f"SELECT {selected} FROM {quote(table)} ORDER BY {order}")
    encode = _text_value if postgres else _sqlite_value
    digest = []
    for row in result:
        digest.append("|".join(encode(value) for value in row))
    return ("\n".join(digest) + "\n").encode("ascii") if digest else b""


def _sequences(connection: Connection, engine: Engine) -> bytes:
    if engine.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT schemaname, sequencename, CAST(last_value AS text) FROM pg_sequences "
            "WHERE schemaname = current_schema() ORDER BY 1, 2").all()
    else:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").first()
        rows = connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence ORDER BY name").all() if exists else []
    return "".join(f"{'|'.join(str(v) for v in row)}\n" for row in rows).encode("utf-8")


def take_snapshot(engine: Engine) -> Snapshot:
    """The whole database, read in one transaction (one consistent view on PostgreSQL)."""
    inspector = inspect(engine)
    tables = sorted(inspector.get_table_names())
    missing = set(SQLModel.metadata.tables) - set(tables)
    if missing:
        raise AssertionError(f"tables of the models not in the database: {sorted(missing)}")
    layout = {}
    for table in tables:
        columns = [c["name"] for c in inspector.get_columns(table)]
        key = inspector.get_pk_constraint(table).get("constrained_columns") or []
        types = [str(c["type"]) for c in inspector.get_columns(table)]
        layout[table] = (columns, key, types)
    sections: list[tuple[str, bytes]] = []
    schema = "".join(f"{t}({', '.join(f'{c} {ty}' for c, ty in zip(cols, types))}) key({', '.join(key)})\n"
                     for t, (cols, key, types) in layout.items())
    sections.append(("schema", schema.encode("utf-8")))
    with engine.connect() as connection:
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                for setting in ("TimeZone = 'UTC'", "DateStyle = 'ISO, YMD'", "IntervalStyle = 'iso_8601'",
                                "bytea_output = 'hex'", "extra_float_digits = 1"):
                    connection.exec_driver_sql(f"SET LOCAL {setting}")
            for table, (columns, key, _types) in layout.items():
                sections.append((f"table {table}", _rows(connection, engine, table, columns, key)))
            sections.append(("sequences", _sequences(connection, engine)))
    return Snapshot(tuple(sections))


def assert_unchanged(engine: Engine, before: Snapshot, context: str = "") -> None:
    after = take_snapshot(engine)
    if after.sha256 != before.sha256:
        raise AssertionError(f"the database changed{' ' + context if context else ''}: {after.changed(before)}")
