from datetime import datetime, timedelta, timezone

import pandas as pd

from breachdash.config import DEFAULT_DATABASE_URL, AuthMode, load_settings
from breachdash.display import compact, duration, escape_markdown, local_time


def test_settings__environment_beats_secrets_beats_default(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    monkeypatch.setenv("BREACHDASH_SECRETS", str(secrets))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BREACHDASH_AUTH_MODE", raising=False)
    assert load_settings().database_url == DEFAULT_DATABASE_URL
    assert load_settings().auth_mode == AuthMode.local
    secrets.write_text('[database]\nurl = "postgresql+psycopg://u@h/db"\n[auth]\nclient_id = "x"\n')
    assert load_settings().database_url == "postgresql+psycopg://u@h/db"
    assert load_settings().auth_mode == AuthMode.oidc
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    assert load_settings().database_url == "sqlite:///elsewhere.db"


def test_local_time__converts_for_display_only_across_dst():
    before = datetime(2026, 3, 8, 6, 30, tzinfo=timezone.utc)  # 01:30 EST
    after = before + timedelta(hours=1)  # 03:30 EDT: the clocks jumped
    assert local_time(before, "America/New_York", "%H:%M %Z") == "01:30 EST"
    assert local_time(after, "America/New_York", "%H:%M %Z") == "03:30 EDT"
    assert local_time(None) == local_time(pd.NaT) == "—"


def test_compact_and_duration():
    assert compact(2_163_848) == "2.16M" and compact(999) == "999"
    assert duration(timedelta(days=2, hours=3, minutes=5)) == "2d 3h"
    assert duration(timedelta(minutes=-90)) == "−1h 30m"


def test_escape_markdown__links_and_images_become_inert_text():
    escaped = escape_markdown("![x](http://evil.example/a.png) [y](javascript:alert(1)) <b>")
    assert "](" not in escaped and "<b>" not in escaped


def test_escape_markdown__bare_urls_entities_and_bidi_overrides_stay_text():
    escaped = escape_markdown("see http://evil.example/x or www.evil.example &lt;b&gt;")
    assert "http://" not in escaped and "www." not in escaped  # GFM would autolink them
    assert escaped.replace("\u2060", "").replace("\\", "") == "see http://evil.example/x or www.evil.example &lt;b&gt;"
    assert "\\&lt;" in escaped  # an entity reference is shown as typed, not decoded
    isolated = escape_markdown("\u202eexe.gnp")
    assert isolated.startswith("\u2068") and isolated.endswith("\u2069")  # cannot reverse the words after it
    assert escape_markdown("plain") == "plain"


def test_column_label__headers_in_words():
    from breachdash.display import column_label, revision_name

    assert column_label("owner_role") == "Owner"
    assert column_label("states_changed") == "States changed"
    assert column_label("Already words") == "Already words"
    assert column_label("when (UTC)") == "When (UTC)"
    assert revision_name(7) == "revision 7"
