"""Sign in as each demo role in Chromium: see the Overview's real figures, open each permitted
page, and find the others absent (from the menu and by direct URL). Screenshots in tests/artifacts/."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from breachdash.auth.rules import Actor
from breachdash.db import make_engine
from breachdash.demo import DEMO_USERS
from breachdash.navigation import PAGES, pages_for

pytestmark = pytest.mark.e2e
TIMEOUT = 30_000


def _sign_in(page, base_url, email, password):
    page.goto(base_url)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _best_estimate(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        best = connection.execute(text("SELECT best FROM scope_revisions ORDER BY seq DESC LIMIT 1")).scalar()
    engine.dispose()
    return best


def test_signed_out_visitor_sees_only_the_sign_in_page(page, demo_server, artifacts):
    page.goto(demo_server.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-signed-out.png"), full_page=True)
    for spec in PAGES:
        page.goto(f"{demo_server.url}/{spec.url_path}")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text("Loyalty database breach")).to_have_count(0)
    assert page.external_requests == []


@pytest.mark.parametrize("role, email, password", [(r, e, p) for r, e, _, p in DEMO_USERS],
                         ids=[r.value for r, *_ in DEMO_USERS])
def test_each_role_signs_in_and_sees_only_its_pages(page, demo_server, artifacts, role, email, password):
    _sign_in(page, demo_server.url, email, password)
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    best = _best_estimate(demo_server.database_url)
    expect(page.get_by_text(f"{best:,}", exact=True).first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile("Financial data CONFIRMED"))).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / f"e2e-{role.value}-overview.png"), full_page=True)

    allowed = pages_for(Actor(email, frozenset({role})))
    sidebar = page.get_by_test_id("stSidebar")
    for spec in PAGES:
        link = sidebar.get_by_role("link", name=spec.title)
        if spec in allowed:
            if len(allowed) > 1:  # with one page Streamlit shows no menu: we are on it already
                link.click()
            heading = "Loyalty database breach" if spec.url_path == "overview" else spec.title
            expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=TIMEOUT)
            page.wait_for_timeout(300)
            page.screenshot(path=str(artifacts / f"e2e-{role.value}-{spec.url_path}.png"), full_page=True)
        else:
            expect(link).to_have_count(0)

    for spec in PAGES:
        if spec not in allowed:
            page.goto(f"{demo_server.url}/{spec.url_path}")
            _sign_in_again_if_asked(page, email, password)
            expect(page.get_by_role("heading", name=spec.title)).to_have_count(0, timeout=TIMEOUT)
    assert page.external_requests == []


def _sign_in_again_if_asked(page, email, password):
    """A direct URL opens a new Streamlit session; sign in there too, then check what shows."""
    button = page.get_by_role("button", name="Sign in")
    expect(button.or_(page.get_by_test_id("stSidebar"))).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    dialog = page.get_by_role("dialog")
    if dialog.count():
        # Streamlit says "Page not found" for a page this visitor's navigation does not hold.
        expect(dialog).to_contain_text("not found")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
    if button.is_visible():
        page.get_by_role("textbox", name="Email").fill(email)
        page.get_by_role("textbox", name="Password").fill(password)
        button.click()
        expect(page.get_by_test_id("stSidebar")).to_be_visible(timeout=TIMEOUT)
        page.wait_for_timeout(500)
