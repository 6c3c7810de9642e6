"""Optimistic concurrency for editable records (those with version/updated_at/updated_by)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from breachdash.common import utcnow
from breachdash.errors import NotFound, StaleUpdate


def changed_at(moment: datetime) -> str:
    """When someone else's change happened, as every "changed by X at T — reload" message says it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def stale_message(row: Any) -> str:
    return f"This record was changed by {row.updated_by} at {changed_at(row.updated_at)} — reload to see it before editing."


def apply_versioned_update(
    session: Session, model: type, *, row_id: int, expected_version: int, changes: dict, actor_email: str
) -> Any:
    """UPDATE ... WHERE id = :id AND version = :expected. Zero rows means someone else won."""
    values = {**changes, "version": expected_version + 1, "updated_at": utcnow(), "updated_by": actor_email}
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.version == expected_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    current = session.get(model, row_id, populate_existing=True)
    if current is None:
        raise NotFound(f"{model.__name__} {row_id} no longer exists.")
    if result.rowcount != 1:
        raise StaleUpdate(stale_message(current))
    return current
