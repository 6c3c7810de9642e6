from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field as PydanticField
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class ActionCategory(StrEnum):
    containment = "containment"
    remediation = "remediation"
    post_incident = "post-incident"


class ActionStatus(StrEnum):
    open = "open"
    in_progress = "in progress"
    done = "done"


class RemediationAction(SQLModel, table=True):
    """A tracked containment, remediation or post-incident action (patching, resets, the review…)."""

    __tablename__ = "remediation_actions"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    action: str = Field(max_length=300)
    category: str = Field(max_length=20)
    owner_role: str = Field(max_length=20)
    status: str = Field(default=ActionStatus.open, max_length=20)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


class ActionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: str = PydanticField(min_length=1, max_length=300)
    category: ActionCategory = ActionCategory.remediation
    owner_role: str
    due_at: datetime | None = None
