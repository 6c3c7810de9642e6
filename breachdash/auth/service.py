"""Users, role grants and local sign-in."""
from __future__ import annotations

import re
from datetime import timezone

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from breachdash.audit.service import record_audit
from breachdash.auth.models import Role, RoleGrant, SignInFailure, User
from breachdash.auth.rules import SIGN_IN_WINDOW, Action, Actor, parse_role, require, sign_in_locked_until
from breachdash.auth.sessions import end_sessions_of
from breachdash.common import utcnow
from breachdash.db import read_session, write_session
from breachdash.comms.policy import load_policy
from breachdash.comms.rules import role_label
from breachdash.errors import validate_input, Conflict, InvalidInput, NotFound, PolicyRefused, SignInLocked
from breachdash.versioning import apply_versioned_update

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# Verifying against this keeps the time for an unknown email close to that of a wrong password.
_DUMMY_HASH = _hasher.hash("breachdash-timing-equaliser")
MIN_PASSWORD_LENGTH = 10


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(max_length=320)
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=1024)
    roles: list[Role] = Field(min_length=1)
    is_demo: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value.lower()

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters")
        return value

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value):
        return [parse_role(item) if isinstance(item, str) else item for item in value]


def _user_snapshot(user: User, roles: list[str]) -> dict:
    return {"email": user.email, "display_name": user.display_name, "roles": sorted(roles),
            "is_active": user.is_active, "is_demo": user.is_demo}


def add_user(engine: Engine, *, actor: Actor, user_in: UserCreate | dict) -> User:
    require(actor, Action.manage_users)
    user_in = validate_input(UserCreate, user_in)
    with write_session(engine) as session:
        if session.exec(select(User).where(User.email == user_in.email)).first():
            raise Conflict(f"A user with the email {user_in.email} already exists.")
        user = User(
            email=user_in.email,
            display_name=user_in.display_name or user_in.email.split("@")[0],
            password_hash=_hasher.hash(user_in.password) if user_in.password else None,
            is_demo=user_in.is_demo,
        )
        session.add(user)
        session.flush()
        roles = sorted({role.value for role in user_in.roles})
        for role in roles:
            session.add(RoleGrant(user_id=user.id, role=role, granted_by=actor.email))
        record_audit(session, actor=actor.email, action="user.added", entity_type="user",
                     entity_id=user.email, after=_user_snapshot(user, roles))
    return user


def _get_user(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"No user with the email {email}.")
    return user


def _roles_of(session: Session, user_id: int) -> list[str]:
    return sorted(session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user_id)).all())


def _record_change(session: Session, user: User, *, actor: Actor, expected_version: int | None,
                   changes: dict | None = None, keep_session: str | None = None) -> int:
    """Every change to an account moves its version (a form showing an older one is refused with
    "changed by X at T — reload") and ends the person's other sessions: after a password reset,
    a deactivation or a role change, no browser stays signed in on the old terms. The actor's own
    session (`keep_session`) survives a change to their own account. Returns the sessions ended."""
    apply_versioned_update(session, User, row_id=user.id,
                           expected_version=user.version if expected_version is None else expected_version,
                           changes=changes or {}, actor_email=actor.email)
    return end_sessions_of(session, user_id=user.id, keep_token=keep_session if actor.email == user.email else None)


def grant_role(engine: Engine, *, actor: Actor, email: str, role: Role | str, expected_version: int | None = None,
               keep_session: str | None = None) -> None:
    """`expected_version`: the account's version the admin was shown (None from the command line).

    Two keys, two people: an admin cannot grant themselves a role whose sign-offs the approval
    policy requires from different people (`different_people`: Legal, PR, Executive). Another admin
    grants it, or whoever runs the server through the command line (the system actor). The refused
    attempt is audited (`user.self_grant_refused`) and nothing else changes."""
    require(actor, Action.manage_users)
    role = parse_role(role) if isinstance(role, str) else role
    if role.value in load_policy().different_people and actor.email == email.strip().lower():
        _refuse_self_grant(engine, actor=actor, role=role)
    with write_session(engine) as session:
        user = _get_user(session, email)
        before = _roles_of(session, user.id)
        if role.value in before:
            raise Conflict(f"{user.email} already holds the role {role.label}.")
        ended = _record_change(session, user, actor=actor, expected_version=expected_version, keep_session=keep_session)
        session.add(RoleGrant(user_id=user.id, role=role.value, granted_by=actor.email))
        record_audit(session, actor=actor.email, action="user.role_granted", entity_type="user",
                     entity_id=user.email, before={"roles": before},
                     after={"roles": sorted(before + [role.value]), "sessions_ended": ended})


def _refuse_self_grant(engine: Engine, *, actor: Actor, role: Role) -> None:
    with write_session(engine) as session:
        user = _get_user(session, actor.email)
        record_audit(session, actor=actor.email, action="user.self_grant_refused", entity_type="user",
                     entity_id=user.email, before={"roles": _roles_of(session, user.id)},
                     after={"refused_role": role.value})
    raise PolicyRefused(
        f"refused by the approval policy: you cannot grant yourself {role_label(role.value)}. "
        f"{role_label(role.value)} sign-offs must come from a different person than other sign-offs, so an admin "
        "does not hand themselves a signing role: another admin grants it (or whoever runs the server, with "
        "`python -m breachdash users grant`). This attempt is recorded in the audit trail.")


def revoke_role(engine: Engine, *, actor: Actor, email: str, role: Role | str, expected_version: int | None = None,
                keep_session: str | None = None) -> None:
    require(actor, Action.manage_users)
    role = parse_role(role) if isinstance(role, str) else role
    with write_session(engine) as session:
        user = _get_user(session, email)
        grant = session.exec(
            select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.role == role.value)
        ).first()
        if grant is None:
            raise NotFound(f"{user.email} does not hold the role {role.label}.")
        before = _roles_of(session, user.id)
        ended = _record_change(session, user, actor=actor, expected_version=expected_version, keep_session=keep_session)
        session.delete(grant)
        record_audit(session, actor=actor.email, action="user.role_revoked", entity_type="user",
                     entity_id=user.email, before={"roles": before},
                     after={"roles": [r for r in before if r != role.value], "sessions_ended": ended})


def set_password(engine: Engine, *, actor: Actor, email: str, password: str, expected_version: int | None = None,
                 keep_session: str | None = None) -> None:
    """Set or reset a password: clears the sign-in failures and ends the person's other sessions."""
    require(actor, Action.manage_users)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.single("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = _hasher.hash(password)  # slow: before the write lock
    with write_session(engine) as session:
        user = _get_user(session, email)
        ended = _record_change(session, user, actor=actor, expected_version=expected_version,
                               changes={"password_hash": password_hash}, keep_session=keep_session)
        session.execute(delete(SignInFailure).where(SignInFailure.email == user.email))  # a reset unlocks
        record_audit(session, actor=actor.email, action="user.password_set", entity_type="user",
                     entity_id=user.email, after={"sessions_ended": ended})


def deactivate_user(engine: Engine, *, actor: Actor, email: str, expected_version: int | None = None) -> None:
    """The person can no longer sign in (local or single sign-on) and every session of theirs
    ends at once; their name stays on everything they did. Reversible with reactivate_user."""
    require(actor, Action.manage_users)
    with write_session(engine) as session:
        user = _get_user(session, email)
        if user.email == actor.email:
            raise Conflict("You cannot deactivate your own account; ask another admin.")
        if not user.is_active:
            raise Conflict(f"{user.email} is already deactivated.")
        ended = _record_change(session, user, actor=actor, expected_version=expected_version,
                               changes={"is_active": False})
        record_audit(session, actor=actor.email, action="user.deactivated", entity_type="user",
                     entity_id=user.email, before={"is_active": True},
                     after={"is_active": False, "sessions_ended": ended})


def reactivate_user(engine: Engine, *, actor: Actor, email: str, expected_version: int | None = None) -> None:
    require(actor, Action.manage_users)
    with write_session(engine) as session:
        user = _get_user(session, email)
        if user.is_active:
            raise Conflict(f"{user.email} is already active.")
        _record_change(session, user, actor=actor, expected_version=expected_version, changes={"is_active": True})
        record_audit(session, actor=actor.email, action="user.reactivated", entity_type="user",
                     entity_id=user.email, before={"is_active": False}, after={"is_active": True})


def actor_for_email(engine: Engine, email: str) -> Actor | None:
    """The actor for an identity (local or OIDC); None when unknown or deactivated.
    An identity with no grants gets an actor with no roles: it may sign in but sees nothing."""
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.email == email.strip().lower())).first()
        if user is None or not user.is_active:
            return None
        roles = frozenset(Role(r) for r in _roles_of(session, user.id))
        return Actor(email=user.email, roles=roles, display_name=user.display_name)


def authenticate(engine: Engine, *, email: str, password: str) -> Actor | None:
    """Check a local password. Returns None for any failure (no hint which part was wrong); raises
    SignInLocked after too many failures for the address, whether or not it is an account, so
    the refusal tells a guesser nothing either.

    The check and the record are one step under the database's write lock: an attempt that may
    go ahead is counted as a failure before its password is checked, and the count is cleared if
    the password is right. So any number of parallel attempts, on any number of servers, check at
    most MAX_FAILED_SIGN_INS passwords per window — and the slow password hash runs outside the
    lock, so it never holds up other writers."""
    key = email.strip().lower()[:320]
    now = utcnow()
    with write_session(engine) as session:
        user = session.exec(select(User).where(User.email == key)).first()
        stored = user.password_hash if user and user.is_active and user.password_hash else None
        failures = session.exec(select(SignInFailure.failed_at).where(
            SignInFailure.email == key, SignInFailure.failed_at > now - SIGN_IN_WINDOW)).all()
        locked_until = sign_in_locked_until(list(failures), now)
        if locked_until is None:
            session.add(SignInFailure(email=key, failed_at=now))  # until the password proves right
    if locked_until is not None:
        raise SignInLocked(f"Too many failed sign-ins for this address. Try again after "
                           f"{locked_until.astimezone(timezone.utc):%H:%M} UTC, or ask an admin to reset the password.")
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
        verified = stored is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified:
        return None
    with write_session(engine) as session:
        session.execute(delete(SignInFailure).where(SignInFailure.email == key))
    return actor_for_email(engine, key)


def demo_mode(engine: Engine) -> bool:
    """The database holds the demo accounts: the app says so plainly and shows their credentials."""
    with read_session(engine) as session:
        return session.exec(select(User.id).where(col(User.is_demo)).limit(1)).first() is not None


def users_frame(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    require(actor, Action.manage_users)
    with read_session(engine) as session:
        users = session.exec(select(User).order_by(User.email)).all()
        grants = session.exec(select(RoleGrant)).all()
    roles_by_user: dict[int, list[str]] = {}
    for grant in grants:
        roles_by_user.setdefault(grant.user_id, []).append(Role(grant.role).label)
    return pd.DataFrame(
        [
            {
                "email": user.email,
                "name": user.display_name,
                "roles": ", ".join(sorted(roles_by_user.get(user.id, []))),
                "sign-in": "password" if user.password_hash else "single sign-on",
                "active": user.is_active,
                "demo": user.is_demo,
                "version": user.version,
            }
            for user in users
        ],
        columns=["email", "name", "roles", "sign-in", "active", "demo", "version"],
    )
