from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field as PydanticField
from sqlalchemy import JSON, BigInteger, Text, UniqueConstraint
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


class FigureKind(StrEnum):
    """How a figure was published. Only `exact`, `range` and the bounds say something about size;
    a placeholder is a number a form required, never an estimate."""

    exact = "exact"
    range = "range"
    up_to = "up to"
    at_least = "at least"
    unknown = "unknown"
    placeholder = "placeholder"


class CountKind(StrEnum):
    """How a breakdown count (a data type's or a region's) is known."""

    exact = "exact"
    up_to = "up to"
    at_least = "at least"
    unknown = "unknown"


class Protection(StrEnum):
    """How exposed data was held when it was taken (decides encryption safe harbours)."""

    plain = "plain"
    encrypted_key_safe = "encrypted, key not taken"
    encrypted_key_at_risk = "encrypted, key possibly taken"
    hashed = "hashed"
    partial = "partial or truncated"
    expired = "expired"


# Region codes beyond ISO 3166: groupings whose member split is not known, and "not known".
REGION_GROUPINGS = {"EU": "the EU", "EEA": "the EU/EEA"}
UNKNOWN_REGION = "ZZ"


class ScopePopulation(SQLModel, table=True):
    """One group of affected people or records with its own revision history (for example
    "US consumers" in individuals and "UK customers" in records)."""

    __tablename__ = "scope_populations"
    __table_args__ = (UniqueConstraint("incident_id", "key", name="uq_scope_populations_incident_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=40)
    label: str = Field(max_length=100)
    # Where its people live: ISO 3166 codes, groupings (EU, EEA) or ZZ (not known).
    jurisdictions: list[str] = Field(default_factory=list, sa_type=JSON)
    unit: str = Field(default="individuals", max_length=20)
    # Counted in no other population of the same unit: only then may figures be added up.
    disjoint: bool = False
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


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
    population_id: int = Field(foreign_key="scope_populations.id", index=True, ondelete="CASCADE")
    seq: int  # numbered across the incident; a population's history is its revisions in seq order
    figure_kind: str = Field(default=FigureKind.range, max_length=20)
    low: int | None = Field(default=None, sa_type=BigInteger)
    best: int | None = Field(default=None, sa_type=BigInteger)
    high: int | None = Field(default=None, sa_type=BigInteger)
    wording: str = Field(default="", max_length=300)  # as published: "a substantial proportion"
    # Where the figure was published: [{"url": …, "quote": …, "published_on": "YYYY-MM-DD"}]
    sources: list[dict] = Field(default_factory=list, sa_type=JSON)
    unit: str = Field(max_length=20)
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
    count: int | None = Field(default=None, sa_type=BigInteger)
    count_kind: str = Field(default=CountKind.exact, max_length=20)
    status: str = Field(max_length=20)
    protection: str = Field(default=Protection.plain, max_length=40)


class ScopeRegionCount(SQLModel, table=True):
    __tablename__ = "scope_region_counts"
    __table_args__ = (UniqueConstraint("revision_id", "region", name="uq_scope_region"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="scope_revisions.id", index=True, ondelete="CASCADE")
    region: str = Field(max_length=10)
    count: int | None = Field(default=None, sa_type=BigInteger)
    count_kind: str = Field(default=CountKind.exact, max_length=20)


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
    count: int | None = PydanticField(default=None, ge=0)
    count_kind: CountKind = CountKind.exact
    status: ExposureStatus = ExposureStatus.confirmed
    protection: Protection = Protection.plain


class RegionCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str
    count: int | None = PydanticField(default=None, ge=0)
    count_kind: CountKind = CountKind.exact


class SystemCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    system: str = PydanticField(min_length=1, max_length=200)
    count: int | None = PydanticField(default=None, ge=0)


class CellCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data_type: str
    region: str
    count: int = PydanticField(ge=0)


POPULATION_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]?$"
DEFAULT_POPULATION = "all"


class SourceIn(BaseModel):
    """A public source for a figure: the address and the sentence quoted from it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    url: str = PydanticField(min_length=1, max_length=2000, pattern=r"^https?://\S+$")
    quote: str = PydanticField(default="", max_length=4000)
    published_on: str | None = PydanticField(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class ScopePopulationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = PydanticField(min_length=1, max_length=40, pattern=POPULATION_KEY_PATTERN)
    label: str = PydanticField(min_length=1, max_length=100)
    jurisdictions: list[str] = PydanticField(default=[], max_length=300)
    unit: CountUnit = CountUnit.individuals
    disjoint: bool = False


class ScopePopulationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str | None = PydanticField(default=None, min_length=1, max_length=100)
    jurisdictions: list[str] | None = PydanticField(default=None, max_length=300)
    unit: CountUnit | None = None
    disjoint: bool | None = None


class ScopeRevisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Which population this revises (its key); the first revision of "all" creates that population.
    population: str = PydanticField(default=DEFAULT_POPULATION, min_length=1, max_length=40,
                                    pattern=POPULATION_KEY_PATTERN)
    # The population's latest seq the person was shown (0: none yet); a newer one refuses the save.
    # None only for writers that show nothing first (file imports, the CLI, the demo).
    based_on_seq: int | None = PydanticField(default=None, ge=0)
    figure_kind: FigureKind = FigureKind.range
    low: int | None = PydanticField(default=None, ge=0, strict=True)
    best: int | None = PydanticField(default=None, ge=0, strict=True)
    high: int | None = PydanticField(default=None, ge=0, strict=True)
    wording: str = PydanticField(default="", max_length=300)
    unit: CountUnit | None = None  # None: the population's unit
    sources: list[SourceIn] = PydanticField(default=[], max_length=20)
    confidence: Confidence = Confidence.medium
    method: str = PydanticField(default="", max_length=10_000)
    reason: str = PydanticField(default="", max_length=10_000)
    corrects_seq: int | None = PydanticField(default=None, ge=1)
    data_types: list[DataTypeCountIn] = []
    regions: list[RegionCountIn] = []
    systems: list[SystemCountIn] = []
    cells: list[CellCountIn] = []
