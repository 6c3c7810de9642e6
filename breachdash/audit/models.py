from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Append-only and hash-chained: `hash` covers this row's fields and `prev_hash`."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=320)
    action: str = Field(max_length=100, index=True)
    entity_type: str = Field(max_length=60)
    entity_id: str = Field(max_length=60)
    incident_id: int | None = Field(default=None, index=True)
    before_json: str = Field(default="null", sa_type=Text)
    after_json: str = Field(default="null", sa_type=Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
