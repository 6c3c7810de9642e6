"""What the server writes to its log holds no password, cookie or secret; uploads over the
configured size are refused with a clear message before anything reaches an importer."""
from __future__ import annotations

import tomllib

import pytest
from playwright.sync_api import expect

from breachdash.config import PROJECT_ROOT
from breachdash.demo import DEMO_USERS
from tests.e2e.conftest import StreamlitServer

pytestmark = pytest.mark.e2e
TIMEOUT = 30_000
COOKIE_SECRET = "cookie-secret-7f3a9c1e"
CLIENT_SECRET = "client-secret-0b8d2e64"
WRONG_PASSWORD = "wrong-password-5e1d"


def _sign_in(page, url, email, password):
    page.goto(url)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="module")
def logged_server(databases, tmp_path_factory):
    """Logging at debug, the most a server can be asked to write, with OIDC secrets configured
    (local sign-in kept on so the test can sign in)."""
    workdir = tmp_path_factory.mktemp("secrets")
    secrets = workdir / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:8501/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "breachdash-test"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n')
    log_path = workdir / "streamlit.log"
    server = StreamlitServer(databases.fresh_url("sqlite", demo=True), log_path, extra_env={
        "STREAMLIT_LOGGER_LEVEL": "debug", "BREACHDASH_AUTH_MODE": "local", "BREACHDASH_SECRETS": str(secrets)})
    yield server, log_path
    server.stop()


def test_server_log_holds_no_password_cookie_or_secret(browser, logged_server, artifacts):
    server, log_path = logged_server
    _role, email, _name, password = DEMO_USERS[0]
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, server.url, email, WRONG_PASSWORD)
    expect(page.get_by_text("Email or password is not right.")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stSidebar")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
    expect(page.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)
    cookies = [cookie["value"] for cookie in context.cookies() if len(cookie["value"]) >= 8]
    context.close()
    server.stop()  # flush and close the log

    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert len(log) > 0  # debug logging wrote something, so the absence below means something
    secrets = {"wrong password": WRONG_PASSWORD, "password": password, "cookie secret": COOKIE_SECRET,
               "client secret": CLIENT_SECRET, **{f"cookie {i}": value for i, value in enumerate(cookies)}}
    assert cookies, "the browser holds at least Streamlit's XSRF cookie"
    leaked = [name for name, value in secrets.items() if value in log]
    assert leaked == []


def test_configured_upload_limit_is_set():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert 1 <= config["server"]["maxUploadSize"] <= 1024


@pytest.fixture(scope="module")
def small_upload_server(databases, tmp_path_factory):
    server = StreamlitServer(databases.fresh_url("sqlite", demo=True),
                             tmp_path_factory.mktemp("upload") / "streamlit.log",
                             extra_env={"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"})
    yield server
    server.stop()


def test_upload_over_the_limit_gets_a_clear_message_and_imports_nothing(browser, small_upload_server, artifacts,
                                                                       tmp_path):
    from sqlalchemy import text

    from breachdash.db import make_engine

    engine = make_engine(small_upload_server.database_url)
    with engine.connect() as connection:
        revisions_before = connection.execute(text("SELECT count(*) FROM scope_revisions")).scalar()
    big = tmp_path / "affected.csv"
    rows = "".join(f"cus_{i:012d},DE,retail,crm,email\n" for i in range(40_000))
    big.write_text("customer_id,region,segment,system,data_types\n" + rows, encoding="utf-8")
    assert big.stat().st_size > 1024 * 1024

    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    _sign_in(page, small_upload_server.url, "architect@demo.example", "demo-architect")
    page.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
    expect(page.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="Import customer file").click()
    expect(page.get_by_text("1MB per file", exact=False).first).to_be_visible(timeout=TIMEOUT)
    page.locator("input[type=file]").set_input_files(str(big))
    expect(page.get_by_text("File must be 1.0MB or smaller.")).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-upload-over-limit.png"), full_page=True)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Choose a file first.")).to_be_visible(timeout=TIMEOUT)
    context.close()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM scope_revisions")).scalar() == revisions_before
    engine.dispose()
