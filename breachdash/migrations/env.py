"""Alembic environment: run through `breachdash.db.migrate` (a connection is passed in), or by
the `alembic` CLI with `-x url=...`."""
from alembic import context
from sqlalchemy import pool

import breachdash.models  # noqa: F401  (fills the metadata)
from breachdash.config import load_settings
from sqlmodel import SQLModel

target_metadata = SQLModel.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from breachdash.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or load_settings().database_url
    engine = make_engine(url)
    engine.pool = pool.NullPool(engine.pool._creator)
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("breachdash migrations run online only: python -m breachdash migrate")
run_migrations_online()
