"""Settings from the environment and `.streamlit/secrets.toml` — pure, no Streamlit import.

Precedence for the database URL: `DATABASE_URL` environment variable, then `[database] url`
in secrets.toml, then the embedded SQLite default. The auth mode is OIDC when secrets.toml
has an `[auth]` section, local accounts otherwise; `BREACHDASH_AUTH_MODE` overrides it (tests).
PostgreSQL's connection pool per server process: `BREACHDASH_DB_POOL_SIZE` and
`BREACHDASH_DB_MAX_OVERFLOW`, then `[database] pool_size` / `max_overflow`, then 5 and 10.
Local sign-in sessions: `BREACHDASH_SESSION_MAX_HOURS` / `BREACHDASH_SESSION_IDLE_MINUTES`, then
`[sessions] max_hours` / `idle_minutes`, then 12 hours and 30 minutes. While the database is
unreachable, pages retry every `BREACHDASH_OUTAGE_RETRY_SECONDS` (default 5).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from breachdash.errors import AuditKeyMissing, DatabaseUnavailable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'breachdash.db'}"
# Per server process: at most pool_size + max_overflow PostgreSQL connections (docs/deployment.md).
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10


class AuthMode(StrEnum):
    local = "local"
    oidc = "oidc"


@dataclass(frozen=True)
class Settings:
    database_url: str
    auth_mode: AuthMode


def secrets_path() -> Path:
    return Path(os.environ.get("BREACHDASH_SECRETS", PROJECT_ROOT / ".streamlit" / "secrets.toml"))


def _read_secrets(path: Path) -> dict:
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_settings() -> Settings:
    secrets = _read_secrets(secrets_path())
    url = (
        os.environ.get("DATABASE_URL")
        or secrets.get("database", {}).get("url")
        or DEFAULT_DATABASE_URL
    )
    mode_override = os.environ.get("BREACHDASH_AUTH_MODE")
    if mode_override:
        auth_mode = AuthMode(mode_override)
    else:
        auth_mode = AuthMode.oidc if secrets.get("auth") else AuthMode.local
    return Settings(database_url=url, auth_mode=auth_mode)


@dataclass(frozen=True)
class PoolSettings:
    pool_size: int = DEFAULT_POOL_SIZE
    max_overflow: int = DEFAULT_MAX_OVERFLOW


def _whole_number(name: str, raw, *, minimum: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise DatabaseUnavailable(f"The setting {name} must be a whole number of at least {minimum}, not {raw!r}.")
    return value


def load_pool_settings() -> PoolSettings:
    """The PostgreSQL connection pool of one server process (SQLite has no pool to size). A bad
    value stops with a message naming the setting rather than falling back silently."""
    database = _read_secrets(secrets_path()).get("database", {})
    values = {}
    for field, env, minimum in (("pool_size", "BREACHDASH_DB_POOL_SIZE", 1),
                                ("max_overflow", "BREACHDASH_DB_MAX_OVERFLOW", 0)):
        if os.environ.get(env):
            values[field] = _whole_number(env, os.environ[env], minimum=minimum)
        elif field in database:
            values[field] = _whole_number(f"[database] {field}", database[field], minimum=minimum)
    return PoolSettings(**values)


# Local sign-in sessions (auth.sessions): an absolute lifetime from sign-in, and an idle timeout
# since the browser last ran a page.
DEFAULT_SESSION_MAX_HOURS = 12.0
DEFAULT_SESSION_IDLE_MINUTES = 30.0
DEFAULT_OUTAGE_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class SessionSettings:
    max_age: timedelta = timedelta(hours=DEFAULT_SESSION_MAX_HOURS)
    idle_timeout: timedelta = timedelta(minutes=DEFAULT_SESSION_IDLE_MINUTES)


def _positive_number(name: str, raw) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not value > 0 or value != value or value == float("inf"):
        raise DatabaseUnavailable(f"The setting {name} must be a number above 0, not {raw!r}.")
    return value


def _setting(env: str, section: str, key: str, default: float) -> float:
    if os.environ.get(env):
        return _positive_number(env, os.environ[env])
    table = _read_secrets(secrets_path()).get(section, {})
    if key in table:
        return _positive_number(f"[{section}] {key}", table[key])
    return default


def load_session_settings() -> SessionSettings:
    """Lifetime and idle timeout of a local sign-in session (OIDC keeps Streamlit's own cookie)."""
    return SessionSettings(
        max_age=timedelta(hours=_setting("BREACHDASH_SESSION_MAX_HOURS", "sessions", "max_hours",
                                         DEFAULT_SESSION_MAX_HOURS)),
        idle_timeout=timedelta(minutes=_setting("BREACHDASH_SESSION_IDLE_MINUTES", "sessions", "idle_minutes",
                                                DEFAULT_SESSION_IDLE_MINUTES)),
    )


def outage_retry_seconds() -> float:
    """How often a page retries while the database is unreachable."""
    return _setting("BREACHDASH_OUTAGE_RETRY_SECONDS", "database", "outage_retry_seconds",
                    DEFAULT_OUTAGE_RETRY_SECONDS)


# The line printed at the top of every page of the PDF exports (briefing, timeline, obligations).
DEFAULT_EXPORT_MARKING = "Privileged & Confidential — prepared at the direction of counsel"


def export_marking() -> str:
    """`BREACHDASH_EXPORT_MARKING`, then `[exports] marking` in secrets.toml, then the default;
    an empty `[exports] marking = ""` prints no marking."""
    if os.environ.get("BREACHDASH_EXPORT_MARKING") is not None:
        return os.environ["BREACHDASH_EXPORT_MARKING"].strip()[:200]
    exports = _read_secrets(secrets_path()).get("exports", {})
    return str(exports.get("marking", DEFAULT_EXPORT_MARKING)).strip()[:200]


# The audit chain is HMAC-SHA256 keyed with this secret (docs/security.md#the-audit-trail).
AUDIT_KEY_ENV = "BREACHDASH_AUDIT_KEY"
AUDIT_DEV_KEY_ENV = "BREACHDASH_AUDIT_DEV_KEY"
MIN_AUDIT_KEY_LENGTH = 32
# Published in the source on purpose: it keys demo and test databases only, and anyone can
# recompute a chain keyed with it. verify-audit says so loudly whenever it is in use.
DEVELOPMENT_AUDIT_KEY = "breachdash-development-audit-key-NOT-SECRET-demo-and-tests-only"


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    source: str  # where it came from, for messages (never the key itself)
    development: bool = False


def load_audit_key() -> AuditKey:
    """The audit chain's key. Raises AuditKeyMissing (a one-line message) when none is set."""
    raw = os.environ.get(AUDIT_KEY_ENV)
    source = AUDIT_KEY_ENV
    if not raw:
        raw = _read_secrets(secrets_path()).get("audit", {}).get("key")
        source = "[audit] key in secrets.toml"
    if raw:
        raw = str(raw).strip()
        if len(raw) < MIN_AUDIT_KEY_LENGTH:
            raise AuditKeyMissing(f"The audit key ({source}) must be at least {MIN_AUDIT_KEY_LENGTH} characters; "
                                  "generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'")
        return AuditKey(secret=raw.encode("utf-8"), source=source)
    if os.environ.get(AUDIT_DEV_KEY_ENV, "").strip() == "1":
        return AuditKey(secret=DEVELOPMENT_AUDIT_KEY.encode("utf-8"), source=f"{AUDIT_DEV_KEY_ENV}=1",
                        development=True)
    raise AuditKeyMissing(
        f"No audit key is configured: set {AUDIT_KEY_ENV} (or [audit] key in .streamlit/secrets.toml) to a secret "
        "of at least 32 characters, e.g. python3 -c 'import secrets; print(secrets.token_hex(32))'. "
        f"For the demo and tests only, {AUDIT_DEV_KEY_ENV}=1 uses the published development key.")


def audit_key_or_none() -> bytes | None:
    """The audit key's secret, or None when none is configured (a check then fails on keyed events)."""
    try:
        return load_audit_key().secret
    except AuditKeyMissing:
        return None
