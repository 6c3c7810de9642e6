"""Users & roles page (admin): reset a password, deactivate and reactivate, each saved against the
account version the admin was shown."""
from streamlit.testing.v1 import AppTest

from breachdash.auth.rules import system_actor
from breachdash.auth.service import authenticate, grant_role
from breachdash.db import make_engine
from breachdash.ui import SIGNED_IN_KEY
from tests.app.test_pages import APP

ADMIN, PR = "admin@demo.example", "pr@demo.example"


def _users_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SIGNED_IN_KEY] = ADMIN
    at.run()
    at.switch_page("pages/users.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _plain(elements) -> list[str]:
    return [e.value.replace("\\", "") for e in elements]  # shown through escape_markdown


def _submit(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_users_page__reset_password(demo_url):
    at = _users_page()
    at.selectbox(key="reset_user").select(PR)
    at.text_input(key="reset_password_value").input("a brand new passphrase")
    _submit(at, "Reset password")
    assert any(f"Password reset for {PR}" in s for s in _plain(at.success))
    engine = make_engine(demo_url)
    assert authenticate(engine, email=PR, password="a brand new passphrase") is not None
    engine.dispose()


def test_users_page__deactivate_then_reactivate(demo_url):
    at = _users_page()
    at.selectbox(key="activation_user").select(PR)
    _submit(at, "Deactivate")
    assert any(f"Deactivated {PR}" in s for s in _plain(at.success))
    at.selectbox(key="activation_user").select(PR)
    _submit(at, "Reactivate")
    assert any(f"Reactivated {PR}" in s for s in _plain(at.success))


def test_users_page__a_change_made_meanwhile_is_refused_with_who_made_it(demo_url):
    at = _users_page()
    engine = make_engine(demo_url)
    grant_role(engine, actor=system_actor(), email=PR, role="legal")  # someone else, after the page showed PR
    engine.dispose()
    at.selectbox(key="activation_user").select(PR)
    _submit(at, "Deactivate")
    assert any("changed by system@breachdash.local" in e for e in _plain(at.error))
    assert not any("Deactivated" in s for s in _plain(at.success))
