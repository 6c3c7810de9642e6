import pytest


@pytest.fixture
def demo_url(databases, backend, monkeypatch, tmp_path):
    url = databases.fresh_url(backend, demo=True)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BREACHDASH_SECRETS", str(tmp_path / "no-secrets.toml"))
    monkeypatch.delenv("BREACHDASH_AUTH_MODE", raising=False)
    return url
