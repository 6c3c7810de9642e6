from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Append-only and hash-chained: `hash` covers this row's fields and `prev_hash`.

    `hash_alg` is "hmac-sha256" (keyed with the audit key) for every event written since the chain
    was keyed, "sha256" for events written before (an unkeyed prefix, sealed by an `audit.keyed`
    event). `row_digests` maps "table:id" to the SHA-256 of that row's content (with its child rows)
    as the event's transaction left it, null for a row it deleted (audit/digests.py)."""

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
    row_digests: str = Field(default="{}", sa_type=Text, sa_column_kwargs={"server_default": "{}"})
    hash_alg: str = Field(default="hmac-sha256", max_length=20, sa_column_kwargs={"server_default": "sha256"})
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
