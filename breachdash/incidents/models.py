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
    """Facts about the company that decide which notification regimes apply
    (the sector_condition vocabulary of data/notification_rules.csv)."""

    hipaa_covered_entity = "hipaa_covered_entity"
    hipaa_business_associate = "hipaa_business_associate"
    sec_registrant = "sec_registrant"
    financial_institution_glba = "financial_institution_glba"
    bank = "bank"
    broker_dealer_or_adviser = "broker_dealer_or_adviser"
    nydfs_licensee = "nydfs_licensee"
    eu_financial_entity = "eu_financial_entity"
    nis2_entity = "nis2_entity"
    telecom_provider = "telecom_provider"
    critical_infrastructure = "critical_infrastructure"
    phr_vendor = "phr_vendor"
    cii_operator = "cii_operator"
    data_fiduciary = "data_fiduciary"
    gov_entity = "gov_entity"


SECTOR_NAMES = {
    "hipaa_covered_entity": "a HIPAA covered entity", "hipaa_business_associate": "a HIPAA business associate",
    "sec_registrant": "an SEC registrant",
    "financial_institution_glba": "a financial institution under the FTC Safeguards Rule",
    "bank": "a US banking organisation", "broker_dealer_or_adviser": "a broker-dealer or investment adviser (Reg S-P)",
    "nydfs_licensee": "an NYDFS licensee", "eu_financial_entity": "an EU financial entity (DORA)",
    "nis2_entity": "an NIS2 essential or important entity",
    "telecom_provider": "a public electronic communications provider",
    "critical_infrastructure": "a critical-infrastructure entity (CIRCIA)",
    "phr_vendor": "a personal-health-record vendor", "cii_operator": "a Chinese critical-information-infrastructure operator",
    "data_fiduciary": "a data fiduciary (India DPDP)", "gov_entity": "a government entity",
}


class TimePrecision(StrEnum):
    """How well a moment is known. A day or month is stored as its earliest moment in the
    incident's zone (the convention clocks use), and shown as the day or month alone."""

    exact = "exact"
    day = "day"
    month = "month"
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
    detected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    legal_aware_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Decisions that start regulatory clocks (see obligations/rules.py).
    breach_determined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    materiality_determined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assessment_completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    classified_major_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contained_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    remediated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_notice_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The first public disclosure (press release, filing or website), and the first regulator told.
    public_announced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    regulator_first_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Milestone field -> TimePrecision value; a milestone absent here is exact.
    milestone_precisions: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


MILESTONE_FIELDS = (
    "intrusion_started_at",
    "detected_at",
    "legal_aware_at",
    "breach_determined_at",
    "materiality_determined_at",
    "assessment_completed_at",
    "classified_major_at",
    "contained_at",
    "remediated_at",
    "first_notice_at",
    "public_announced_at",
    "regulator_first_notified_at",
    "closed_at",
)

# Short names for tables and exports (incidents.service.MILESTONE_LABELS has the timeline wording).
MILESTONE_NAMES = {
    "intrusion_started_at": "Intrusion began", "detected_at": "Detected", "legal_aware_at": "Legal aware",
    "breach_determined_at": "Breach determined", "materiality_determined_at": "Materiality determined",
    "assessment_completed_at": "Assessment completed", "classified_major_at": "Classified major",
    "contained_at": "Contained", "remediated_at": "Remediated", "first_notice_at": "First customer notice",
    "public_announced_at": "First public announcement", "regulator_first_notified_at": "First regulator notified",
    "closed_at": "Closed",
}


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
