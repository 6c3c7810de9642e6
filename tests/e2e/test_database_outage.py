"""A database outage reads as an outage (issue 19.5): on its own PostgreSQL database, a running
server loses the database (ALLOW_CONNECTIONS false, and every backend terminated). A signed-in
person's next click and a fresh visitor both get one line — "The database is unreachable —
retrying every N s" — with no crash box and nothing of the driver's text; when connections are
allowed again, both pages come back by themselves. Screenshots in tests/artifacts/."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.engine import make_url

from breachdash.db import make_engine
from tests.conftest import pg_admin_url
from tests.e2e.conftest import StreamlitServer
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
RETRY_S = 2
MESSAGE = f"The database is unreachable — retrying every {RETRY_S} s"
# Words from psycopg, PostgreSQL, SQLAlchemy and Streamlit's crash box that must never show.
LEAKS = re.compile(r"psycopg|OperationalError|sqlalchemy|FATAL|accepting connections|terminat|postgres|"
                   r"Traceback|has encountered an error|5432|bdt_", re.IGNORECASE)


@pytest.fixture(scope="module")
def outage_server(databases, tmp_path_factory):
    url = databases.fresh_url("postgres", demo=True)
    server = StreamlitServer(url, tmp_path_factory.mktemp("outage") / "streamlit.log",
                             extra_env={"BREACHDASH_OUTAGE_RETRY_SECONDS": str(RETRY_S)})
    yield server
    server.stop()
    _allow(url, True)  # whatever happened, leave the database droppable


def _allow(url: str, allowed: bool) -> None:
    name = make_url(url).database
    admin = make_engine(pg_admin_url()).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                        "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    finally:
        admin.dispose()


def _shows_only_the_outage_line(page) -> None:
    """The outage line, no crash box, and none of the driver's words anywhere on the page."""
    expect(page.get_by_text(MESSAGE)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    main = page.get_by_test_id("stMain").inner_text()
    assert not LEAKS.search(main), main
    assert not LEAKS.search(page.get_by_test_id("stApp").inner_text())


def test_outage__one_line_and_automatic_recovery(browser, outage_server, artifacts):
    from breachdash.demo import DEMO_USERS

    email, password = next((e, p) for role, e, _, p in DEMO_USERS if role.value == "legal")
    person = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _sign_in(person, outage_server.url, email, password)
    expect(person.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)

    _allow(outage_server.database_url, False)
    try:
        # The signed-in person's next click.
        person.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
        _shows_only_the_outage_line(person)
        person.screenshot(path=str(artifacts / "e2e-outage-signed-in.png"), full_page=True)
        # A fresh visitor, who never reached the database.
        visitor = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        visitor.goto(outage_server.url)
        _shows_only_the_outage_line(visitor)
        expect(visitor.get_by_role("button", name="Sign in")).to_have_count(0)
        visitor.screenshot(path=str(artifacts / "e2e-outage-fresh-visitor.png"), full_page=True)
        # Still down after a few retries: still the same one line.
        person.wait_for_function("document.body.innerText.includes('retrying')", timeout=TIMEOUT)
    finally:
        _allow(outage_server.database_url, True)

    # Both pages come back by themselves, where they were.
    expect(person.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)
    expect(person.get_by_text(MESSAGE)).to_have_count(0)
    person.screenshot(path=str(artifacts / "e2e-outage-recovered-signed-in.png"), full_page=True)
    expect(visitor.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT)
    expect(visitor.get_by_text(MESSAGE)).to_have_count(0)
    visitor.screenshot(path=str(artifacts / "e2e-outage-recovered-visitor.png"), full_page=True)
    with open(outage_server.log.name) as log:
        assert "Traceback" not in log.read()
    person.context.close()
    visitor.context.close()


def test_outage__during_the_overview_live_refresh(browser, outage_server, artifacts):
    """The Overview's live tiles refresh on their own (a fragment's rerun, not the page's): an outage
    there hands over to the same one line, and the Overview returns when the database does."""
    from breachdash.demo import DEMO_USERS

    email, password = next((e, p) for role, e, _, p in DEMO_USERS if role.value == "executive")
    person = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _sign_in(person, outage_server.url, email, password)
    expect(person.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    refresh = person.get_by_role("combobox", name=re.compile("Live refresh"))
    refresh.click()
    person.get_by_role("option", name=re.compile(r"every 30 s$")).click()
    expect(person.get_by_text(re.compile("refreshes every 30 s"))).to_be_visible(timeout=TIMEOUT)
    _allow(outage_server.database_url, False)
    try:
        # No click: within one refresh interval the live tiles meet the outage.
        expect(person.get_by_text(MESSAGE)).to_be_visible(timeout=30_000 + TIMEOUT)
        _shows_only_the_outage_line(person)
        person.screenshot(path=str(artifacts / "e2e-outage-live-refresh.png"), full_page=True)
    finally:
        _allow(outage_server.database_url, True)
    expect(person.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    expect(person.get_by_text(MESSAGE)).to_have_count(0)
    person.context.close()
