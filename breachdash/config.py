"""Settings from the environment and `.streamlit/secrets.toml` — pure, no Streamlit import.

Precedence for the database URL: `DATABASE_URL` environment variable, then `[database] url`
in secrets.toml, then the embedded SQLite default. The auth mode is OIDC when secrets.toml
has an `[auth]` section, local accounts otherwise; `BREACHDASH_AUTH_MODE` overrides it (tests).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'breachdash.db'}"


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
