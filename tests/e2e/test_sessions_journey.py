"""Local sign-in survives a reload, a bookmark and a new tab (a server-side session behind a
cookie); a cookie from a signed-out, expired or idle session signs no one in; an admin's password
reset signs the person out of their open tab; and on two servers over one PostgreSQL database a
session started on one is valid on the other and ends on both. Screenshots in tests/artifacts/."""
import pytest
from playwright.sync_api import expect

from breachdash.auth.sessions import COOKIE_NAME
from breachdash.db import make_engine
from tests.e2e.conftest import StreamlitServer
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e
INCIDENT = "Loyalty database breach"
PR = ("pr@demo.example",)
ADMIN = ("admin@demo.example",)


def _demo_password(email):
    from breachdash.demo import DEMO_USERS

    return next(password for _, e, _, password in DEMO_USERS if e == email)


def _signed_in_page(browser, server, who):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    _sign_in(page, server.url, who[0], _demo_password(who[0]))
    expect(page.get_by_test_id("stSidebar").get_by_text("Signed in as")).to_be_visible(timeout=TIMEOUT)
    _cookie(page)
    return page


def _cookie(page):
    """The session cookie, once the page has handed it to the browser."""
    page.wait_for_function(f"document.cookie.includes('{COOKIE_NAME}=')", timeout=TIMEOUT)
    return next(c for c in page.context.cookies() if c["name"] == COOKIE_NAME)


def _sign_in_page(page):
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_reload_bookmark_and_new_tab_stay_signed_in(browser, demo_server, artifacts):
    page = _signed_in_page(browser, demo_server, PR)
    cookie = _cookie(page)
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/" and len(cookie["value"]) >= 40
    assert cookie["expires"] > 0  # kept across browser restarts until the session's lifetime

    page.reload()
    expect(page.get_by_role("heading", name=INCIDENT)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    page.screenshot(path=str(artifacts / "e2e-session-after-reload.png"), full_page=True)

    page.goto(f"{demo_server.url}/scope")  # a bookmark
    expect(page.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)

    tab = page.context.new_page()  # a second tab of the same browser
    tab.goto(f"{demo_server.url}/timeline")
    expect(tab.get_by_role("heading", name="Incident timeline")).to_be_visible(timeout=TIMEOUT)
    tab.screenshot(path=str(artifacts / "e2e-session-new-tab.png"), full_page=True)

    # Sign out in the tab: the browser forgets the cookie and the first tab is signed out at its next run.
    tab.get_by_role("button", name="Sign out").click()
    _sign_in_page(tab)
    tab.wait_for_function(f"!document.cookie.includes('{COOKIE_NAME}=')", timeout=TIMEOUT)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Overview").click()
    _sign_in_page(page)
    page.context.close()


def test_cookie_of_a_signed_out_session_gives_nothing(browser, demo_server, artifacts):
    page = _signed_in_page(browser, demo_server, PR)
    cookie = _cookie(page)
    page.get_by_role("button", name="Sign out").click()
    _sign_in_page(page)
    page.context.close()

    # Someone kept a copy of the cookie and presents it after sign-out.
    replay = browser.new_context(viewport={"width": 1400, "height": 1200})
    replay.add_cookies([cookie])
    stolen = replay.new_page()
    stolen.goto(f"{demo_server.url}/overview")
    _sign_in_page(stolen)
    expect(stolen.get_by_text(INCIDENT)).to_have_count(0)
    stolen.screenshot(path=str(artifacts / "e2e-session-replayed-after-sign-out.png"), full_page=True)
    replay.close()


@pytest.mark.parametrize("how", ["expired", "idle"])
def test_cookie_of_an_expired_or_idle_session_gives_nothing(browser, demo_server, how):
    page = _signed_in_page(browser, demo_server, PR)
    _cookie(page)
    # Move the session back in time rather than wait: past its lifetime, or unused past the idle timeout.
    _backdate(demo_server.database_url, how)
    page.reload()
    _sign_in_page(page)
    page.context.close()


def _backdate(url, how):
    from datetime import timedelta

    from sqlmodel import Session, select

    from breachdash.auth.models import UserSession

    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            for row in session.exec(select(UserSession)).all():
                if how == "expired":
                    row.created_at -= timedelta(hours=13)
                    row.expires_at = row.created_at + timedelta(hours=12)
                else:
                    row.last_seen_at -= timedelta(minutes=31)
                session.add(row)
    finally:
        engine.dispose()


def test_password_reset_by_an_admin_signs_the_person_out(browser, demo_server, artifacts):
    pr = _signed_in_page(browser, demo_server, PR)
    _cookie(pr)
    admin = _signed_in_page(browser, demo_server, ADMIN)
    admin.get_by_test_id("stSidebar").get_by_role("link", name="Users & roles").click()
    expect(admin.get_by_role("heading", name="Users & roles")).to_be_visible(timeout=TIMEOUT)
    form = admin.get_by_test_id("stForm").filter(has_text="Reset a password")
    form.get_by_role("combobox").click()
    admin.get_by_role("option", name=PR[0]).click()
    expect(form.get_by_role("combobox")).to_have_value(PR[0], timeout=TIMEOUT)
    form.get_by_label("New password (at least 10 characters)").fill("a fresh passphrase 42")
    form.get_by_role("button", name="Reset password").click()
    expect(admin.get_by_text(f"Password reset for {PR[0]}")).to_be_visible(timeout=TIMEOUT)
    admin.screenshot(path=str(artifacts / "e2e-session-admin-reset.png"), full_page=True)
    admin_cookie = _cookie(admin)

    # The PR's open page is signed out at its next run, and a reload finds no session either.
    pr.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
    _sign_in_page(pr)
    pr.reload()
    _sign_in_page(pr)
    pr.screenshot(path=str(artifacts / "e2e-session-signed-out-by-reset.png"), full_page=True)
    # The admin's own session is untouched.
    assert _cookie(admin) == admin_cookie
    admin.reload()
    expect(admin.get_by_role("heading", name="Users & roles")).to_be_visible(timeout=TIMEOUT)
    # Restore the demo password for the other tests on this server.
    from breachdash.auth.rules import system_actor
    from breachdash.auth.service import set_password

    engine = make_engine(demo_server.database_url)
    set_password(engine, actor=system_actor(), email=PR[0], password=_demo_password(PR[0]))
    engine.dispose()
    pr.context.close()
    admin.context.close()


@pytest.fixture(scope="module")
def two_servers(databases, tmp_path_factory):
    url = databases.fresh_url("postgres", demo=True)
    logs = tmp_path_factory.mktemp("sessions-two-servers")
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(StreamlitServer(url, logs / f"streamlit-{name}.log"))
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.postgres
def test_two_servers__a_session_started_on_one_is_valid_on_the_other(browser, two_servers, artifacts):
    a, b = two_servers
    page = _signed_in_page(browser, a, PR)
    _cookie(page)
    # A load balancer sends the browser to the other server (cookies do not depend on the port).
    page.goto(f"{b.url}/scope")
    expect(page.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-session-on-server-b.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()  # on B
    _sign_in_page(page)
    page.goto(a.url)  # and A has forgotten it too
    _sign_in_page(page)
    page.context.close()
