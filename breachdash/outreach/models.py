from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow

OUTREACH_MEASURES = (
    "targeted", "sent", "delivered", "bounced", "failed", "opened", "replied", "opted_out", "substitute_issued",
)


class CountSource(StrEnum):
    entered = "entered"  # typed in by PR, per cell
    report = "report"    # derived from imported delivery reports; replaced on every import


class OutreachCount(SQLModel, table=True):
    """Counts per phase x channel x region x segment, kept current by entry or import.

    Report rows supersede entered rows of the same phase and channel (see service.effective_counts)."""

    __tablename__ = "outreach_counts"
    __table_args__ = (
        UniqueConstraint("phase_id", "channel", "region", "segment", "source", name="uq_outreach_cell"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    phase_id: int = Field(foreign_key="comms_phases.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=40)
    region: str = Field(default="", max_length=10)
    segment: str = Field(default="", max_length=60)
    source: str = Field(default=CountSource.entered, max_length=10)
    targeted: int = Field(default=0, sa_type=BigInteger)
    sent: int = Field(default=0, sa_type=BigInteger)
    delivered: int = Field(default=0, sa_type=BigInteger)
    bounced: int = Field(default=0, sa_type=BigInteger)
    failed: int = Field(default=0, sa_type=BigInteger)
    opened: int = Field(default=0, sa_type=BigInteger)
    replied: int = Field(default=0, sa_type=BigInteger)
    opted_out: int = Field(default=0, sa_type=BigInteger)
    substitute_issued: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


class DeliveryReport(SQLModel, table=True):
    """One imported vendor delivery-status file. Its events are kept as customer chunks."""

    __tablename__ = "delivery_reports"
    __table_args__ = (UniqueConstraint("incident_id", "sha256", name="uq_delivery_reports_file"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    sha256: str = Field(max_length=64)
    file_name: str = Field(max_length=300)
    rows: int = Field(sa_type=BigInteger)
    customers: int = Field(sa_type=BigInteger)
    first_event_at: datetime = Field(sa_type=UTCDateTime)
    last_event_at: datetime = Field(sa_type=UTCDateTime)
    states_changed: int = Field(default=0, sa_type=BigInteger)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    imported_by: str = Field(max_length=320)


class ChunkKind(StrEnum):
    affected = "affected"  # the affected-customers list of a file-imported scope revision
    events = "events"      # the events of one delivery report, as imported
    state = "state"        # each customer's latest state per phase and channel, over all reports


class CustomerChunk(SQLModel, table=True):
    """Per-customer data as compressed Parquet, split into hash buckets of the pseudonymous id.

    Tens of millions of rows stay a few hundred blobs: imports write them in bulk, a lookup
    reads one bucket, and pages read only the aggregates computed from them."""

    __tablename__ = "customer_chunks"
    __table_args__ = (Index("ix_customer_chunks_lookup", "incident_id", "kind", "bucket"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    kind: str = Field(max_length=10)
    # The scope revision (affected) or delivery report (events) the rows came from; none for state.
    source_id: int | None = None
    # Hash bucket of the customer id (affected, events); part number for state, read only in bulk.
    bucket: int
    rows: int = Field(sa_type=BigInteger)
    data: bytes = Field(sa_type=LargeBinary)


class OutreachState(SQLModel, table=True):
    """Per incident: which generation of the customer state is current, and its reconciliation."""

    __tablename__ = "outreach_states"

    incident_id: int = Field(foreign_key="incidents.id", primary_key=True, ondelete="CASCADE")
    generation: int = 0
    affected_revision_id: int | None = None
    customers_tracked: int = Field(default=0, sa_type=BigInteger)
    reconciliation: dict = Field(default_factory=dict, sa_type=JSON)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    computed_by: str = Field(max_length=320)


class OutreachHourly(SQLModel, table=True):
    """Customers first sent / first delivered / bounced or failed per hour, from reports."""

    __tablename__ = "outreach_hourly"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    phase_id: int = Field(foreign_key="comms_phases.id", ondelete="CASCADE")
    channel: str = Field(max_length=40)
    hour: datetime = Field(sa_type=UTCDateTime)
    sent: int = Field(default=0, sa_type=BigInteger)
    delivered: int = Field(default=0, sa_type=BigInteger)
    bounced: int = Field(default=0, sa_type=BigInteger)
    replied: int = Field(default=0, sa_type=BigInteger)


class InquiryDay(SQLModel, table=True):
    """Inbound customer contact per day, against what the call centre can take."""

    __tablename__ = "inquiry_days"
    __table_args__ = (UniqueConstraint("incident_id", "day", name="uq_inquiry_days_day"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    day: date
    calls: int = Field(default=0, sa_type=BigInteger)
    mailbox: int = Field(default=0, sa_type=BigInteger)
    call_capacity: int = Field(default=0, sa_type=BigInteger)
    note: str = Field(default="", max_length=500)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1
