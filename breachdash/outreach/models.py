from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow

OUTREACH_MEASURES = (
    "targeted", "sent", "delivered", "bounced", "opened", "replied", "opted_out", "substitute_issued",
)


class OutreachCount(SQLModel, table=True):
    """Counts per phase x channel x region x segment, kept current by entry or import."""

    __tablename__ = "outreach_counts"
    __table_args__ = (
        UniqueConstraint("phase_id", "channel", "region", "segment", name="uq_outreach_cell"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    phase_id: int = Field(foreign_key="comms_phases.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=40)
    region: str = Field(default="", max_length=10)
    segment: str = Field(default="", max_length=60)
    targeted: int = Field(default=0, sa_type=BigInteger)
    sent: int = Field(default=0, sa_type=BigInteger)
    delivered: int = Field(default=0, sa_type=BigInteger)
    bounced: int = Field(default=0, sa_type=BigInteger)
    opened: int = Field(default=0, sa_type=BigInteger)
    replied: int = Field(default=0, sa_type=BigInteger)
    opted_out: int = Field(default=0, sa_type=BigInteger)
    substitute_issued: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1
