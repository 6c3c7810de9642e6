from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class EventKind(StrEnum):
    intrusion = "intrusion"
    detection = "detection"
    containment = "containment"
    remediation = "remediation"
    forensic_finding = "forensic finding"
    scope_revision = "scope revision"
    decision = "decision"
    legal = "legal"
    regulator = "regulator"
    law_enforcement = "law enforcement"
    communication = "communication"
    extortion = "ransom or extortion contact"
    other = "other"


class TimelineEvent(SQLModel, table=True):
    """What happened (`occurred_at`) and when it became known here (`recorded_at`).

    Nothing is deleted: a correction is a new event whose `supersedes_id` points at the
    original; a retraction sets the retracted_* fields once.
    """

    __tablename__ = "timeline_events"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    occurred_precision: str = Field(default="exact", max_length=20)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(max_length=40)
    title: str = Field(max_length=300)
    detail: str = Field(default="", sa_type=Text)
    systems: list[str] = Field(default_factory=list, sa_type=JSON)
    source_ref: str = Field(default="", max_length=500)
    recorded_by: str = Field(max_length=320)
    supersedes_id: int | None = Field(default=None, foreign_key="timeline_events.id")
    retracted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retracted_by: str | None = Field(default=None, max_length=320)
    retraction_reason: str | None = Field(default=None, sa_type=Text)
    # Events written automatically name what produced them, e.g. ("scope_revision", "3").
    origin_type: str | None = Field(default=None, max_length=40)
    origin_ref: str | None = Field(default=None, max_length=60)


class TimelineEventCreate(SQLModel):
    """Input for a person's timeline entry (validated; the table model is built from it)."""

    occurred_at: datetime
    occurred_precision: str = "exact"
    kind: EventKind
    title: str = Field(min_length=1, max_length=300)
    detail: str = Field(default="", max_length=20_000)
    systems: list[str] = Field(default_factory=list)
    source_ref: str = Field(default="", max_length=500)
