"""Imports every table model so `SQLModel.metadata` is complete (Alembic and tests use it)."""
from sqlmodel import SQLModel

from breachdash.audit.models import AuditEvent
from breachdash.auth.models import RoleGrant, User, UserSession
from breachdash.comms.models import ChecklistItem, CommsPhase, MessageVersion, SendRecord, SignOff
from breachdash.incidents.models import Incident
from breachdash.obligations.models import Obligation, ObligationFiling
from breachdash.outreach.models import (
    CustomerChunk,
    DeliveryReport,
    InquiryDay,
    OutreachCount,
    OutreachHourly,
    OutreachState,
)
from breachdash.remediation.models import RemediationAction
from breachdash.reviews.models import ReviewMarker
from breachdash.scope.models import (
    ScopeCell,
    ScopeDataTypeCount,
    ScopeRegionCount,
    ScopeRevision,
    ScopeSystemCount,
)
from breachdash.timeline.models import TimelineEvent

metadata = SQLModel.metadata

__all__ = [
    "AuditEvent", "ChecklistItem", "CommsPhase", "Incident", "MessageVersion", "Obligation",
    "ObligationFiling", "OutreachCount", "CustomerChunk", "DeliveryReport", "InquiryDay", "OutreachHourly",
    "OutreachState", "RemediationAction", "ReviewMarker", "RoleGrant", "ScopeCell", "ScopeDataTypeCount", "ScopeRegionCount",
    "ScopeRevision", "ScopeSystemCount", "SendRecord", "SignOff", "TimelineEvent", "User",
    "metadata",
]
