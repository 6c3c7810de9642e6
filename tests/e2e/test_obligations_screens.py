"""Issue 15's screens: the Obligations page of a real breach (23andMe 2023) in Chromium at
1280×720 and 390×844, and its register PDF rendered to PNG — kept in tests/artifacts/ for a
person to look at; the text checks say what each must show."""
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, StreamlitServer
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e

SLUG = "23andme-2023"
PASSWORD = "register-reader-1"


def _cli(url: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, *args], cwd=ROOT, check=True,
                          input=stdin, text=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def legal_server(databases, tmp_path_factory):
    url = databases.fresh_url("sqlite")
    _cli(url, "import-incident", str(ROOT / "tests" / "fixtures" / "breaches" / f"{SLUG}.json"))
    _cli(url, "users", "add", "--email", "counsel@fixture.example", "--role", "legal", "--password-stdin",
         stdin=PASSWORD + "\n")
    server = StreamlitServer(url, tmp_path_factory.mktemp("streamlit") / "streamlit.log")
    yield server
    server.stop()


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)], ids=["desktop", "phone"])
def test_obligations_page_of_a_real_breach(browser, legal_server, artifacts, viewport):
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    _sign_in(page, legal_server.url, "counsel@fixture.example", PASSWORD)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT)
    if width < 500:
        page.get_by_test_id("stExpandSidebarButton").or_(page.get_by_test_id("stSidebarCollapsedControl")).first.click()
    page.get_by_test_id("stSidebar").get_by_role("link", name="Obligations").click()
    expect(page.get_by_role("heading", name="Obligations", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT)
    body = page.locator("body")
    expect(body).not_to_contain_text("overby")
    name = f"obligations-{SLUG}-{'desktop' if width > 500 else 'phone'}"
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=False)
    page.screenshot(path=str(artifacts / f"{name}-full.png"), full_page=True)
    context.close()


def test_register_pdf_of_a_real_breach(legal_server, artifacts, tmp_path):
    pdf = tmp_path / "register.pdf"
    _cli(legal_server.database_url, "export-obligations", SLUG, "--format", "pdf", "--out", str(pdf))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = " ".join(text.split())
    # The SEC's Item 1.05 came into force after 23andMe's October 2023 incident: it must not be owed.
    assert "2023-12-18" in squeezed
    assert "Page 1 of" in squeezed
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "3", str(pdf),
                    str(artifacts / f"obligations-{SLUG}-register-page")], check=True)
