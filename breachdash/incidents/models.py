from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field as PydanticField
from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class IncidentStatus(StrEnum):
    open = "open"
    closed = "closed"


class SectorFlag(StrEnum):
    """Facts about the company that decide which notification regimes apply."""

    hipaa_covered_entity = "hipaa_covered_entity"
    sec_registrant = "sec_registrant"
    financial_entity = "financial_entity"
    essential_entity = "essential_entity"


class TimePrecision(StrEnum):
    exact = "exact"
    day = "day"
    approximate = "approximate"


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    title: str = Field(max_length=200)
    company: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=Text)
    status: str = Field(default=IncidentStatus.open, max_length=20)
    sector_flags: list[str] = Field(default_factory=list, sa_type=JSON)
    display_timezone: str = Field(default="UTC", max_length=64)
    is_demo: bool = False
    # Milestones: kept on the incident so every page can show them without a timeline scan.
    intrusion_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    intrusion_start_precision: str = Field(default=TimePrecision.exact, max_length=20)
    detected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    legal_aware_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contained_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    remediated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_notice_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


MILESTONE_FIELDS = (
    "intrusion_started_at",
    "detected_at",
    "legal_aware_at",
    "contained_at",
    "remediated_at",
    "first_notice_at",
    "closed_at",
)


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str = PydanticField(min_length=2, max_length=80, pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
    title: str = PydanticField(min_length=1, max_length=200)
    company: str = PydanticField(min_length=1, max_length=200)
    summary: str = PydanticField(default="", max_length=20_000)
    sector_flags: list[SectorFlag] = []
    display_timezone: str = "UTC"
    is_demo: bool = False


class IncidentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = PydanticField(default=None, min_length=1, max_length=200)
    company: str | None = PydanticField(default=None, min_length=1, max_length=200)
    summary: str | None = PydanticField(default=None, max_length=20_000)
    status: IncidentStatus | None = None
    sector_flags: list[SectorFlag] | None = None
    display_timezone: str | None = None
    # Milestones change through incidents.service.set_milestone, which also writes the timeline.
