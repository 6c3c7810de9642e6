from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class PhaseStatus(StrEnum):
    not_started = "not started"
    drafting = "drafting"
    in_review = "in review"
    approved = "approved"
    sent = "sent"
    done = "done"


PHASE_ORDER = list(PhaseStatus)


class Audience(StrEnum):
    customers = "customers"
    regulators = "regulators"
    employees = "employees"
    partners = "partners"
    media = "media"
    internal = "internal"


class Channel(StrEnum):
    email = "email"
    postal_letter = "postal letter"
    sms = "sms"
    phone = "phone"
    web_notice = "web notice"
    press_release = "press release"
    in_app = "in-app"
    meeting = "meeting"
    portal = "regulator portal"


class Decision(StrEnum):
    approve = "approve"
    request_changes = "request changes"


class CommsPhase(SQLModel, table=True):
    __tablename__ = "comms_phases"
    __table_args__ = (UniqueConstraint("incident_id", "key", name="uq_comms_phases_incident_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=60)
    name: str = Field(max_length=200)
    position: int
    audience: str = Field(max_length=40)
    channels: list[str] = Field(default_factory=list, sa_type=JSON)
    target_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=PhaseStatus.not_started, max_length=20)
    required_roles: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_items"

    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="comms_phases.id", index=True, ondelete="CASCADE")
    position: int
    text: str = Field(max_length=500)
    owner_role: str = Field(max_length=20)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = Field(default=None, max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=320)
    version: int = 1


class MessageVersion(SQLModel, table=True):
    """An immutable saved draft; `content_sha256` is what sign-offs bind to."""

    __tablename__ = "message_versions"
    __table_args__ = (
        UniqueConstraint("phase_id", "audience", "number", name="uq_message_versions_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="comms_phases.id", index=True, ondelete="CASCADE")
    audience: str = Field(max_length=40)
    number: int
    subject: str = Field(default="", max_length=300)
    body: str = Field(sa_type=Text)
    content_sha256: str = Field(max_length=64)
    checks: dict = Field(default_factory=dict, sa_type=JSON)
    facts_revision_seq: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=320)


class SignOff(SQLModel, table=True):
    """One role's decision on one exact text, against the facts of scope revision
    `facts_revision_seq`. A person signs a version once per role and facts revision: after a
    revision makes their approval stale they may re-confirm the same text (a new row bound to the
    same content hash and the new revision); the earlier row stays as history."""

    __tablename__ = "sign_offs"
    __table_args__ = (
        UniqueConstraint("message_version_id", "signer", "role", "facts_revision_seq",
                         name="uq_sign_offs_once_per_facts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_version_id: int = Field(foreign_key="message_versions.id", index=True, ondelete="CASCADE")
    signer: str = Field(max_length=320)
    role: str = Field(max_length=20)
    decision: str = Field(max_length=20)
    comment: str = Field(default="", sa_type=Text)
    content_sha256: str = Field(max_length=64)
    facts_revision_seq: int | None = None
    signed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SendRecord(SQLModel, table=True):
    __tablename__ = "send_records"

    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="comms_phases.id", index=True, ondelete="CASCADE")
    message_version_id: int = Field(foreign_key="message_versions.id", ondelete="CASCADE")
    audience: str = Field(max_length=40)
    channel: str = Field(max_length=40)
    sent_at: datetime = Field(sa_type=UTCDateTime)
    sent_by: str = Field(max_length=320)
    open_warnings: list[str] = Field(default_factory=list, sa_type=JSON)


class ApproverChangeStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class ApproverChange(SQLModel, table=True):
    """A proposed change to who must sign a phase: recorded by one person, applied only when a
    second person holding another role approves it (the two-person rule)."""

    __tablename__ = "approver_changes"

    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="comms_phases.id", index=True, ondelete="CASCADE")
    from_roles: list[str] = Field(default_factory=list, sa_type=JSON)
    to_roles: list[str] = Field(default_factory=list, sa_type=JSON)
    reason: str = Field(default="", sa_type=Text)
    status: str = Field(default=ApproverChangeStatus.pending, max_length=20)
    proposed_by: str = Field(max_length=320)
    proposer_roles: list[str] = Field(default_factory=list, sa_type=JSON)
    proposed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=320)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
