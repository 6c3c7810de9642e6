"""Local sign-in sessions that survive a reload, a bookmark and a new tab.

After a successful password check, `start_session` stores a new session and returns a random
token (256 bits) for the browser's cookie; the database keeps only the token's SHA-256, so a
copy of the database (or a backup) holds nothing a browser could present. Each page run presents
the token again (`resume_session`): a session ends at its absolute lifetime or after the idle
timeout (config.load_session_settings), at sign-out (`end_session`), and when an admin resets
the person's password, deactivates them or changes their roles (`end_sessions_of`, called inside
that write). Every server of a scaled-out deployment reads the same table, so a session started
through one server is valid on every other and ends on all of them at once.

Single sign-on (OIDC) does not use this: Streamlit keeps that identity in its own signed cookie.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from breachdash.auth.models import User, UserSession
from breachdash.auth.rules import session_ended_because
from breachdash.common import utcnow
from breachdash.config import SessionSettings, load_session_settings
from breachdash.db import read_session, write_session

COOKIE_NAME = "breachdash_session"
# last_seen_at is written at most this often per session (and at least ten times per idle
# timeout), so an open page costs a write a minute, not one per click or live refresh.
TOUCH_EVERY = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _touch_interval(settings: SessionSettings) -> timedelta:
    return min(TOUCH_EVERY, settings.idle_timeout / 10)


def start_session(engine: Engine, *, email: str, settings: SessionSettings | None = None,
                  now: datetime | None = None) -> str:
    """A new session for an account that has just proved its password (auth.service.authenticate);
    returns the token for the cookie. Also clears out sessions that have ended by time."""
    settings = settings or load_session_settings()
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with write_session(engine) as session:
        user = session.exec(select(User).where(User.email == email.strip().lower())).one()
        session.execute(delete(UserSession).where(or_(
            UserSession.expires_at <= now, UserSession.created_at <= now - settings.max_age,
            UserSession.last_seen_at <= now - settings.idle_timeout)))
        session.add(UserSession(token_hash=hash_token(token), user_id=user.id, created_at=now,
                                last_seen_at=now, expires_at=now + settings.max_age))
    return token


def resume_session(engine: Engine, *, token: str | None, settings: SessionSettings | None = None,
                   now: datetime | None = None) -> str | None:
    """The email of the person a session token signs in, or None: an unknown token (never issued,
    signed out, ended by an admin's change), one past its lifetime or idle timeout (the row is
    removed), or a deactivated account. A valid session's last use is recorded."""
    if not token or len(token) > 200:
        return None
    settings = settings or load_session_settings()
    now = now or utcnow()
    digest = hash_token(token)
    with read_session(engine) as session:
        row = session.exec(select(UserSession, User).join(User, User.id == UserSession.user_id)
                           .where(UserSession.token_hash == digest)).first()
    if row is None:
        return None
    user_session, user = row
    ended = (now >= user_session.expires_at or not user.is_active or session_ended_because(
        created_at=user_session.created_at, last_seen_at=user_session.last_seen_at, now=now,
        max_age=settings.max_age, idle_timeout=settings.idle_timeout))
    if ended:
        end_session(engine, token=token)
        return None
    if now - user_session.last_seen_at >= _touch_interval(settings):
        with write_session(engine) as session:
            session.execute(update(UserSession).where(UserSession.id == user_session.id)
                            .values(last_seen_at=now).execution_options(synchronize_session=False))
    return user.email


def end_session(engine: Engine, *, token: str | None) -> None:
    """Sign-out: the token signs no one in any more, on any server."""
    if not token:
        return
    with write_session(engine) as session:
        session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))


def end_sessions_of(session: Session, *, user_id: int, keep_token: str | None = None) -> int:
    """Inside a write unit of work: end a person's sessions (all but `keep_token`, the session of
    the person making the change, when they change their own account). Returns how many ended."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_token:
        statement = statement.where(UserSession.token_hash != hash_token(keep_token))
    return session.execute(statement).rowcount or 0


def sessions_of(engine: Engine, *, email: str) -> int:
    """How many sessions a person holds (for tests and the admin page)."""
    with read_session(engine) as session:
        return len(session.exec(select(UserSession.id).join(User, User.id == UserSession.user_id)
                                .where(User.email == email.strip().lower())).all())
