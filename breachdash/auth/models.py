from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from breachdash.common import UTCDateTime, utcnow


class Role(StrEnum):
    """Stored as the lowercase code; `label` is the display text."""

    executive = "executive"
    pr = "pr"
    legal = "legal"
    architect = "architect"
    admin = "admin"

    @property
    def label(self) -> str:
        return {"pr": "PR"}.get(self.value, self.value.capitalize())


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    is_demo: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Optimistic concurrency (versioning.py): the admin page's changes carry the version it showed.
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=320)
    version: int = 1


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_role_grants_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    granted_by: str = Field(max_length=320)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SignInFailure(SQLModel, table=True):
    """A failed local sign-in, kept to slow password guessing (see auth.rules.sign_in_locked_until).
    Stored in the database so every server of a scaled-out deployment counts the same failures."""

    __tablename__ = "sign_in_failures"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    failed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    """A local sign-in that survives reloads and new tabs (auth.sessions). The browser holds a
    random token in a cookie; only its SHA-256 is stored, so a copy of the database cannot be
    replayed as a cookie. In the database, so every server of a scaled-out deployment knows it."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
