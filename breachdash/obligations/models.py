from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class Applicability(StrEnum):
    applies = "applies"
    may_apply = "may apply"
    not_applicable = "not applicable"
    no_longer_applies = "no longer applies"  # applied earlier; a later revision took it away


class ObligationSource(StrEnum):
    rules = "rules"    # decided by the engine from data/notification_rules.csv
    manual = "manual"  # added by Legal by hand


class ObligationStatus(StrEnum):
    not_due = "not due"
    in_preparation = "in preparation"
    filed = "filed"
    late = "late"
    not_applicable = "not applicable"


class Obligation(SQLModel, table=True):
    __tablename__ = "obligations"
    __table_args__ = (UniqueConstraint("incident_id", "rule_id", name="uq_obligations_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    rule_id: str = Field(max_length=80)
    jurisdiction: str = Field(max_length=40)
    regime: str = Field(max_length=200)
    recipient: str = Field(max_length=60)
    applicability: str = Field(max_length=20)
    reason: str = Field(default="", sa_type=Text)
    clock_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=ObligationStatus.not_due, max_length=20)
    source: str = Field(default=ObligationSource.manual, max_length=10)
    # Why not to rely on the rule unchecked (low confidence, not in force), shown wherever it appears.
    flags: list[str] = Field(default_factory=list, sa_type=JSON)
    clock_note: str = Field(default="", max_length=500)
    applies_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


class ObligationFiling(SQLModel, table=True):
    """Append-only: a correction is a new filing naming the one it corrects."""

    __tablename__ = "obligation_filings"

    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligations.id", index=True, ondelete="CASCADE")
    filed_at: datetime = Field(sa_type=UTCDateTime)
    filed_by: str = Field(max_length=320)
    reference: str = Field(default="", max_length=300)
    note: str = Field(default="", sa_type=Text)
    corrects_id: int | None = Field(default=None, foreign_key="obligation_filings.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
