"""In Chromium: an architect adds a timeline entry; Legal sees it and downloads the documented
timeline; a 500-event incident still renders cleanly."""
import subprocess

import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e


def _open_timeline(page):
    page.get_by_test_id("stSidebar").get_by_role("link", name="Timeline").click()
    expect(page.get_by_role("heading", name="Incident timeline")).to_be_visible(timeout=TIMEOUT)


def test_architect_adds_an_entry_and_legal_downloads_the_timeline(page, demo_server, artifacts, tmp_path):
    _sign_in(page, demo_server.url, "architect@demo.example", "demo-architect")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_timeline(page)
    page.get_by_label("Title").first.fill("Second staging server found <img src=x onerror=alert(1)>")
    page.get_by_label("Factual detail").first.fill("Found during the sweep of the DMZ; **not** yet imaged.")
    page.get_by_role("button", name="Add entry").click()
    expect(page.get_by_text("Added entry").first).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "e2e-timeline-architect.png"), full_page=True)

    legal = page.context.browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True).new_page()
    dialogs = []
    legal.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _sign_in(legal, demo_server.url, "legal@demo.example", "demo-legal-counsel")
    expect(legal.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_timeline(legal)
    with legal.expect_download(timeout=60_000) as download_info:
        legal.get_by_role("button", name="Download PDF").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert "-timeline-" in saved.name and saved.name.endswith(".pdf")  # dated: <slug>-timeline-YYYY-MM-DD-HHMM.pdf
    assert saved.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(saved), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())  # table cells wrap long words across lines
    assert "Secondstagingserverfound" in squeezed and "architect@demo.example" in squeezed
    assert "Dwelltime" in squeezed and "Systemsinvolved" in squeezed
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "2", str(saved),
                    str(artifacts / "e2e-timeline-pdf-page")], check=True)
    legal.wait_for_timeout(1500)
    legal.screenshot(path=str(artifacts / "e2e-timeline-legal.png"), full_page=True)
    assert dialogs == [], "markup in a title must not run"
    legal.context.close()


def test_a_500_event_incident_renders_cleanly(page, demo_server, artifacts):
    from tests.conftest import add_synthetic_incident

    add_synthetic_incident(demo_server.database_url, events=500, slug="synthetic-500-e2e")
    _sign_in(page, demo_server.url, "legal@demo.example", "demo-legal-counsel")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stSelectbox")).to_be_visible(timeout=TIMEOUT)
    sidebar.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Synthetic incident with 500 events").click()
    _open_timeline(page)
    expect(page.get_by_text("Synthetic entry").first).to_be_attached(timeout=TIMEOUT)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(artifacts / "e2e-timeline-500-events.png"), full_page=True)
    assert page.external_requests == []
