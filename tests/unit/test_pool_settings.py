"""The PostgreSQL connection pool per server process is configurable (docs/deployment.md)."""
import pytest

from breachdash.config import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE, PoolSettings, load_pool_settings
from breachdash.db import make_engine
from breachdash.errors import DatabaseUnavailable

PG_URL = "postgresql+psycopg://breachdash@db.invalid:5432/breachdash"  # building an engine does not connect


@pytest.fixture
def secrets(tmp_path, monkeypatch):
    path = tmp_path / "secrets.toml"
    monkeypatch.setenv("BREACHDASH_SECRETS", str(path))
    for name in ("BREACHDASH_DB_POOL_SIZE", "BREACHDASH_DB_MAX_OVERFLOW"):
        monkeypatch.delenv(name, raising=False)
    return path


def _pool(url: str = PG_URL) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        return engine.pool.size(), engine.pool._max_overflow
    finally:
        engine.dispose()


def test_pool_settings__defaults_when_nothing_is_set(secrets):
    assert load_pool_settings() == PoolSettings(pool_size=5, max_overflow=10)
    assert (DEFAULT_POOL_SIZE, DEFAULT_MAX_OVERFLOW) == (5, 10)
    assert _pool() == (5, 10)


def test_pool_settings__environment_beats_secrets(secrets, monkeypatch):
    secrets.write_text("[database]\npool_size = 3\nmax_overflow = 2\n")
    assert load_pool_settings() == PoolSettings(pool_size=3, max_overflow=2)
    assert _pool() == (3, 2)
    monkeypatch.setenv("BREACHDASH_DB_POOL_SIZE", "20")
    monkeypatch.setenv("BREACHDASH_DB_MAX_OVERFLOW", "0")
    assert load_pool_settings() == PoolSettings(pool_size=20, max_overflow=0)
    assert _pool() == (20, 0)


@pytest.mark.parametrize("name, value", [("BREACHDASH_DB_POOL_SIZE", "0"), ("BREACHDASH_DB_POOL_SIZE", "five"),
                                         ("BREACHDASH_DB_MAX_OVERFLOW", "-1"), ("BREACHDASH_DB_MAX_OVERFLOW", "2.5")])
def test_pool_settings__a_bad_value_stops_with_the_setting_named(secrets, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(DatabaseUnavailable, match=name):
        make_engine(PG_URL)


def test_pool_settings__sqlite_ignores_them(secrets, monkeypatch, tmp_path):
    monkeypatch.setenv("BREACHDASH_DB_POOL_SIZE", "not a number")  # SQLite has no pool to size
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    engine.dispose()
