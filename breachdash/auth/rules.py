"""Who may do what: the one place that decides whether a role may act."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from breachdash.auth.models import Role
from breachdash.errors import PermissionDenied


class Action(StrEnum):
    manage_users = "manage users"
    create_incident = "create an incident"
    update_incident = "update the incident record"
    import_incident = "import an incident"
    export_incident = "export an incident"
    revise_scope = "record a scope revision"
    record_timeline_event = "record a timeline event"
    set_milestone = "set an incident milestone"
    manage_actions = "track remediation actions"
    edit_phase_plan = "edit the communication phase plan"
    decide_approver_change = "approve or reject a change to who must sign a phase"
    edit_checklist = "edit a phase checklist"
    draft_message = "draft a message"
    sign_off = "sign off a message"
    mark_sent = "mark a phase sent"
    record_outreach = "record outreach progress"
    lookup_customer = "look up a customer's notifications"
    manage_obligations = "manage obligations"
    view_audit = "view the audit trail"
    start_review = "start a status review"


E, P, L, A, ADM = Role.executive, Role.pr, Role.legal, Role.architect, Role.admin

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.manage_users: frozenset({ADM}),
    Action.create_incident: frozenset({ADM, E}),
    Action.update_incident: frozenset({ADM, E, L}),
    Action.import_incident: frozenset({ADM}),
    Action.export_incident: frozenset({ADM, L}),
    Action.revise_scope: frozenset({A}),
    Action.record_timeline_event: frozenset({A, L}),
    Action.set_milestone: frozenset({A, L}),
    Action.manage_actions: frozenset({A, L, E}),
    Action.edit_phase_plan: frozenset({P, L}),
    # The two-person rule: the decider must also hold a role the proposer does not (comms.policy).
    Action.decide_approver_change: frozenset({E, P, L}),
    Action.edit_checklist: frozenset({E, P, L, A}),
    Action.draft_message: frozenset({P, L}),
    Action.sign_off: frozenset({E, P, L}),
    Action.mark_sent: frozenset({P}),
    Action.record_outreach: frozenset({P}),
    Action.lookup_customer: frozenset({P}),
    Action.manage_obligations: frozenset({L}),
    Action.view_audit: frozenset({ADM, E, L}),
    Action.start_review: frozenset({E, P, L, A}),
}

# The identity used by command-line maintenance (migrations, demo seeding, imports by an operator).
SYSTEM_EMAIL = "system@breachdash.local"


@dataclass(frozen=True)
class Actor:
    email: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    display_name: str = ""

    @property
    def name(self) -> str:
        return self.display_name or self.email

    def holds(self, role: Role) -> bool:
        return role in self.roles


def system_actor() -> Actor:
    return Actor(email=SYSTEM_EMAIL, roles=frozenset(Role), display_name="breachdash (system)")


def may(actor: Actor | None, action: Action) -> bool:
    return actor is not None and bool(actor.roles & PERMISSIONS[action])


def require(actor: Actor | None, action: Action) -> None:
    if actor is None:
        raise PermissionDenied(f"Sign in to {action}.")
    if not may(actor, action):
        allowed = ", ".join(sorted(role.label for role in PERMISSIONS[action]))
        raise PermissionDenied(f"{actor.email} may not {action}: that needs the role {allowed}.")


def require_signed_in(actor: Actor | None) -> Actor:
    """Reads need an identity with at least one role; signed-out visitors see nothing."""
    if actor is None:
        raise PermissionDenied("Sign in to see incident data.")
    if not actor.roles:
        raise PermissionDenied(f"{actor.email} has no role in breachdash; ask an admin for access.")
    return actor


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {value!r}; known roles: {known}") from None


# Slow down password guessing: after this many failures within the window, one account refuses
# sign-in (even with the right password) until the oldest of them leaves the window.
MAX_FAILED_SIGN_INS = 5
SIGN_IN_WINDOW = timedelta(minutes=15)


def sign_in_locked_until(failures: list[datetime], now: datetime) -> datetime | None:
    """When the account may try again, or None if it may now. `failures` are failed sign-in times
    since the last successful one."""
    recent = sorted((at for at in failures if at > now - SIGN_IN_WINDOW), reverse=True)
    if len(recent) < MAX_FAILED_SIGN_INS:
        return None
    return recent[MAX_FAILED_SIGN_INS - 1] + SIGN_IN_WINDOW


def session_ended_because(*, created_at: datetime, last_seen_at: datetime, now: datetime,
                          max_age: timedelta, idle_timeout: timedelta) -> str | None:
    """Why a local sign-in session no longer signs anyone in, or None while it still does:
    older than `max_age` since sign-in (absolute), or unused for longer than `idle_timeout`."""
    if now >= created_at + max_age:
        return f"signed in more than {_span(max_age)} ago"
    if now >= last_seen_at + idle_timeout:
        return f"unused for more than {_span(idle_timeout)}"
    return None


def _span(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes / 60:g} hours"
    return f"{minutes:g} minutes"
