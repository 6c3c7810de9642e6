"""The Overview and Scope pages of each real-breach fixture in Chromium, at 1280×720 and at phone
width: the figures read as published (bounds, units, populations side by side, protection), and
the screenshots are kept for a person to look at (tests/artifacts/real-breach-*.png)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, StreamlitServer
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e

FIXTURES = ROOT / "tests" / "fixtures" / "breaches"
PASSWORD = "real-breach-viewer-1"
# What a reader must see on each page, as the sources publish it (see the fixtures' quotes).
EXPECTED = {
    "capital-one-2019": {"overview": ["about 104,000,000", "Bank account numbers: 80,000 individuals"],
                         "scope": ["US individuals", "Canada individuals", "about 104,000,000"]},
    "t-mobile-2021": {"overview": ["never added up", "at least"], "scope": ["never added up", "records"]},
    "optus-2022": {"overview": ["9.5M — was up to 9.8M (revision 4)"], "scope": ["was up to 9.8M (revision 4)", "never added up"]},
    "23andme-2023": {"overview": ["6,900,000"], "scope": ["fewer than 14,000", "records"]},
}


def _cli(url: str, *args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, *args], cwd=ROOT, check=True,
                   input=stdin, text=True, capture_output=True)


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def breach_server(request, databases, tmp_path_factory):
    url = databases.fresh_url("sqlite")
    _cli(url, "import-incident", str(FIXTURES / f"{request.param}.json"))
    _cli(url, "users", "add", "--email", "viewer@fixture.example", "--role", "executive", "--role", "architect",
         "--password-stdin", stdin=PASSWORD + "\n")
    server = StreamlitServer(url, tmp_path_factory.mktemp("streamlit") / "streamlit.log")
    server.slug = request.param
    server.title = json.loads((FIXTURES / f"{request.param}.json").read_text())["incident"]["title"]
    yield server
    server.stop()


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)], ids=["desktop", "phone"])
def test_real_breach_overview_and_scope_read_as_published(browser, breach_server, artifacts, viewport):
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    external = []
    page.on("request", lambda r: external.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)
    _sign_in(page, breach_server.url, "viewer@fixture.example", PASSWORD)
    expect(page.get_by_role("heading", name=breach_server.title)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT)
    name = f"real-breach-{breach_server.slug}-{'desktop' if width > 500 else 'phone'}"
    page.screenshot(path=str(artifacts / f"{name}-overview.png"), full_page=False)
    body = page.locator("body")
    for text in EXPECTED[breach_server.slug]["overview"]:
        expect(body).to_contain_text(text, timeout=TIMEOUT)
    if width < 500:
        page.get_by_test_id("stExpandSidebarButton").or_(page.get_by_test_id("stSidebarCollapsedControl")).first.click()
    page.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
    expect(page.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT)
    for text in EXPECTED[breach_server.slug]["scope"]:
        expect(page.locator("body")).to_contain_text(text, timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / f"{name}-scope.png"), full_page=True)
    assert external == []
    context.close()
