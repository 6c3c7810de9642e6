"""AppTest for every page: renders without exception, shows the demo's figures, forms work,
and a signed-out visitor sees no incident data anywhere."""
from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from breachdash.auth.models import Role
from breachdash.db import make_engine
from breachdash.demo import DEMO_USERS
from breachdash.navigation import PAGES, pages_for
from breachdash.ui import SIGNED_IN_KEY
from tests.conftest import actor_with

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
DEMO_EMAIL = {role: email for role, email, _, _ in DEMO_USERS}
DEMO_PASSWORD = {role: password for role, _, _, password in DEMO_USERS}


def _app(email: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if email:
        at.session_state[SIGNED_IN_KEY] = email
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "title", "caption", "text", "subheader", "error", "warning",
                                  "success", "info") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def snake_case_headers(at: AppTest) -> list[str]:
    """Headers a person would read as code (issue 16): a column shown without a label in words."""
    import json

    found = []
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        for name in frame.value.columns:
            entry = config.get(f"name:{name}") or config.get(str(name)) or {}
            label = entry.get("label") if isinstance(entry, dict) else None
            if isinstance(entry, dict) and entry.get("hidden"):
                continue
            shown = label or str(name)
            if "_" in shown or (shown.isidentifier() and shown.islower()):
                found.append(f"{frame.key}: {shown}")
    for table in at.table:
        found += [f"table: {name}" for name in table.value.columns if "_" in str(name) or str(name).islower()]
    return found


def _latest_revision(url: str):
    engine = make_engine(url)
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT r.id, r.seq, r.low, r.best, r.high, r.unit FROM scope_revisions r "
            "ORDER BY r.seq DESC LIMIT 1")).one()
        card = connection.execute(text(
            "SELECT count, status FROM scope_data_type_counts WHERE revision_id = :id AND data_type = 'payment_card'"),
            {"id": row.id}).one()
    engine.dispose()
    return row, card


def test_signed_out__only_the_sign_in_page_and_no_incident_data(demo_url):
    at = _app()
    assert [t.value for t in at.title] == ["🛡️ breachdash"]
    assert not at.metric and not at.dataframe
    assert "Loyalty database breach" not in _texts(at)
    for page in PAGES:
        # Not registered with st.navigation at all for a signed-out visitor.
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page.path)


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_signed_out__page_script_run_directly_shows_nothing(demo_url, page):
    at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
    assert not at.exception
    assert not at.metric and not at.dataframe
    assert "streamlit run app.py" in _texts(at)


def test_sign_in_form__demo_credentials_are_shown_and_work(demo_url):
    at = _app()
    shown = at.table[0].value
    assert set(shown["Email"]) == set(DEMO_EMAIL.values()) and not snake_case_headers(at)
    at.text_input(key="sign_in_email").input(DEMO_EMAIL[Role.legal])
    at.text_input(key="sign_in_password").input(DEMO_PASSWORD[Role.legal])
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state[SIGNED_IN_KEY] == DEMO_EMAIL[Role.legal]
    assert at.title[0].value == "Loyalty database breach"


def test_sign_in_form__wrong_password_is_refused(demo_url):
    at = _app()
    at.text_input(key="sign_in_email").input(DEMO_EMAIL[Role.legal])
    at.text_input(key="sign_in_password").input("not-the-password")
    at.button[0].click().run()
    assert SIGNED_IN_KEY not in at.session_state
    assert "Email or password is not right." in [e.value for e in at.error]


@pytest.mark.parametrize("role", list(Role))
def test_overview__shows_the_latest_revision_figures_for_every_role(demo_url, role):
    revision, card = _latest_revision(demo_url)
    at = _app(DEMO_EMAIL[role])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Affected {revision.unit}"] == f"{revision.best:,}"
    assert "as of" in _texts(at)
    assert "CONFIRMED" in at.error[0].value and f"{card.count:,}" in at.error[0].value
    assert "Exposed data types: Payment card numbers (confirmed)" in _texts(at)
    assert "🧪" in at.warning[0].icon or "Demo database" in at.warning[0].value


@pytest.mark.parametrize("role", list(Role))
def test_navigation__each_role_can_open_its_pages_and_not_others(demo_url, role):
    at = _app(DEMO_EMAIL[role])
    allowed = {p.path for p in pages_for(actor_with(role))}
    for page in PAGES:
        if page.path in allowed:
            at.switch_page(page.path).run()
            assert not at.exception, (page.path, [e.value for e in at.exception])
            expected = "Loyalty database breach" if page.path == "pages/overview.py" else page.title
            assert at.title[0].value == expected
            assert not snake_case_headers(at), (page.path, snake_case_headers(at))
        else:
            # Depending on what AppTest has registered, switching is refused outright or the
            # navigation falls back to the default page; either way the page itself never renders.
            try:
                at.switch_page(page.path).run()
            except ValueError as exc:
                assert "Could not find a navigation page" in str(exc)
                continue
            assert not at.exception
            assert page.title not in [t.value for t in at.title]


def test_audit_page__lists_events_and_verifies_the_chain(demo_url):
    at = _app(DEMO_EMAIL[Role.legal])
    at.switch_page("pages/audit_trail.py").run()
    frame = at.dataframe[0].value
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        expected = connection.execute(text("SELECT count(*) FROM audit_events WHERE incident_id = 1")).scalar()
    engine.dispose()
    assert len(frame) == min(expected, 100) and frame["#"].is_monotonic_decreasing
    # Issue 16: each entry is a sentence naming who did what; codes, JSON and hashes are in the detail.
    assert list(frame.columns) == ["when", "what", "#"]
    assert frame["what"].str.endswith(".").all() and frame["what"].str.contains("@demo.example ").any()
    assert not frame["what"].str.contains(r"\b(?:scope|comms|timeline)\.[a-z_]+", regex=True).any()
    newest = int(frame["#"].iloc[0])
    assert at.selectbox(key="audit_detail_id").value == newest
    detail = "\n".join(c.value for c in at.code)
    assert "hash:" in detail and "previous:" in detail and "action:" in detail
    at.button(key="verify_chain").click().run()
    assert "Audit chain intact" in at.success[0].value


def test_users_page__admin_adds_a_user_and_duplicate_is_refused(demo_url):
    at = _app(DEMO_EMAIL[Role.admin])
    at.switch_page("pages/users.py").run()
    before = len(at.dataframe[0].value)
    for attempt in range(2):
        at.text_input(key="new_user_email").set_value("new.person@corp.example")
        at.multiselect(key="new_user_roles").set_value(["pr"])
        submit = [b for b in at.button if b.label == "Add user"][0]
        submit.click().run()
        assert not at.exception
    assert len(at.dataframe[0].value) == before + 1
    assert any("already exists" in e.value for e in at.error)


def test_oidc_identity_without_a_role_sees_no_access(demo_url, monkeypatch):
    monkeypatch.setenv("BREACHDASH_AUTH_MODE", "oidc")
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": "stranger@corp.example"}
    at.run()
    assert not at.exception
    assert at.title[0].value == "No access yet" and not at.metric
    assert "Loyalty database breach" not in _texts(at)
    for page in PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page.path)


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_oidc_identity_without_a_role__each_page_by_direct_url_shows_no_data(demo_url, monkeypatch, page):
    monkeypatch.setenv("BREACHDASH_AUTH_MODE", "oidc")
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "stranger@corp.example"}
    at.run()
    assert not at.exception
    assert not at.metric and not at.dataframe
    assert "Loyalty database breach" not in _texts(at)


def test_oidc_identity_with_a_role_sees_the_overview(demo_url, monkeypatch):
    monkeypatch.setenv("BREACHDASH_AUTH_MODE", "oidc")
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": DEMO_EMAIL[Role.executive].upper()}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Loyalty database breach"


def test_unreachable_database__readable_message_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/x")
    monkeypatch.setenv("BREACHDASH_SECRETS", str(tmp_path / "none.toml"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error
    # One line, retried by the page itself; nothing of the driver's text, no URL, no password.
    assert [w.value for w in at.warning] == ["The database is unreachable — retrying every 5 s"]
    assert not at.title and not at.button


def test_sign_in_form__too_many_failures_lock_the_address_with_a_clear_message(demo_url):
    from breachdash.auth.rules import MAX_FAILED_SIGN_INS

    at = _app()
    for _ in range(MAX_FAILED_SIGN_INS):
        at.text_input(key="sign_in_email").input(DEMO_EMAIL[Role.pr])
        at.text_input(key="sign_in_password").input("not-the-password")
        at.button[0].click().run()
    at.text_input(key="sign_in_password").input(DEMO_PASSWORD[Role.pr])
    at.button[0].click().run()
    assert SIGNED_IN_KEY not in at.session_state
    assert any(e.value.startswith("Too many failed sign-ins for this address.") for e in at.error)
