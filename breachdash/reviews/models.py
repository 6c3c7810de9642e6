from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class ReviewMarker(SQLModel, table=True):
    """A status review started: who, when, and where things stood (the baseline for "since the
    last review"). Append-only."""

    __tablename__ = "review_markers"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_by: str = Field(max_length=320)
    snapshot: dict = Field(default_factory=dict, sa_type=JSON)
