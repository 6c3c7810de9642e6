from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field as PydanticField
from sqlalchemy import BigInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class CountUnit(StrEnum):
    individuals = "individuals"
    records = "records"


class Confidence(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class ExposureStatus(StrEnum):
    confirmed = "confirmed"
    suspected = "suspected"


class RevisionSource(StrEnum):
    manual = "manual"
    file_import = "file_import"


class ScopeRevision(SQLModel, table=True):
    """One estimate of the affected population. Append-only: a correction is a new revision."""

    __tablename__ = "scope_revisions"
    __table_args__ = (
        UniqueConstraint("incident_id", "seq", name="uq_scope_revisions_incident_seq"),
        # The same customer file cannot make two revisions of one incident (NULLs never clash).
        UniqueConstraint("incident_id", "source_file_sha256", name="uq_scope_revisions_source_file"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    seq: int
    low: int = Field(sa_type=BigInteger)
    best: int = Field(sa_type=BigInteger)
    high: int = Field(sa_type=BigInteger)
    unit: str = Field(max_length=20)
    scope_label: str = Field(default="all", max_length=100)
    confidence: str = Field(default=Confidence.medium, max_length=20)
    method: str = Field(default="", sa_type=Text)
    reason: str = Field(default="", sa_type=Text)
    corrects_seq: int | None = None
    source: str = Field(default=RevisionSource.manual, max_length=20)
    source_file_sha256: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_by: str = Field(max_length=320)


class ScopeDataTypeCount(SQLModel, table=True):
    __tablename__ = "scope_data_type_counts"
    __table_args__ = (UniqueConstraint("revision_id", "data_type", name="uq_scope_data_type"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="scope_revisions.id", index=True, ondelete="CASCADE")
    data_type: str = Field(max_length=40)
    count: int = Field(sa_type=BigInteger)
    status: str = Field(max_length=20)


class ScopeRegionCount(SQLModel, table=True):
    __tablename__ = "scope_region_counts"
    __table_args__ = (UniqueConstraint("revision_id", "region", name="uq_scope_region"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="scope_revisions.id", index=True, ondelete="CASCADE")
    region: str = Field(max_length=10)
    count: int = Field(sa_type=BigInteger)


class ScopeSystemCount(SQLModel, table=True):
    __tablename__ = "scope_system_counts"
    __table_args__ = (UniqueConstraint("revision_id", "system", name="uq_scope_system"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="scope_revisions.id", index=True, ondelete="CASCADE")
    system: str = Field(max_length=200)
    count: int | None = Field(default=None, sa_type=BigInteger)


class ScopeCell(SQLModel, table=True):
    """Customers with one data type exposed in one region: the data type x region cross-tab."""

    __tablename__ = "scope_cells"
    __table_args__ = (UniqueConstraint("revision_id", "data_type", "region", name="uq_scope_cell"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="scope_revisions.id", index=True, ondelete="CASCADE")
    data_type: str = Field(max_length=40)
    region: str = Field(max_length=10)
    count: int = Field(sa_type=BigInteger)


class DataTypeCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data_type: str
    count: int = PydanticField(ge=0)
    status: ExposureStatus = ExposureStatus.confirmed


class RegionCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str
    count: int = PydanticField(ge=0)


class SystemCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    system: str = PydanticField(min_length=1, max_length=200)
    count: int | None = PydanticField(default=None, ge=0)


class CellCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data_type: str
    region: str
    count: int = PydanticField(ge=0)


class ScopeRevisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    low: int = PydanticField(ge=0, strict=True)
    best: int = PydanticField(ge=0, strict=True)
    high: int = PydanticField(ge=0, strict=True)
    unit: CountUnit = CountUnit.individuals
    scope_label: str = PydanticField(default="all", min_length=1, max_length=100)
    confidence: Confidence = Confidence.medium
    method: str = PydanticField(default="", max_length=10_000)
    reason: str = PydanticField(default="", max_length=10_000)
    corrects_seq: int | None = PydanticField(default=None, ge=1)
    data_types: list[DataTypeCountIn] = []
    regions: list[RegionCountIn] = []
    systems: list[SystemCountIn] = []
    cells: list[CellCountIn] = []
