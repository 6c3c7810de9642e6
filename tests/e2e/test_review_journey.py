"""The status-review journey in Chromium: the executive starts a review; an architect revises the
estimate and PR advances a phase, each in their own session; the executive's 'since the last
review' lists both; the briefing PDF downloads and its pages (rendered to PNG) show the figures."""
import re
import subprocess

import pytest
from playwright.sync_api import expect

from tests.e2e.test_scope_journeys import _open_scope, _set_number
from tests.e2e.test_sign_in_journeys import TIMEOUT, _best_estimate, _sign_in

pytestmark = pytest.mark.e2e


def _new_session(page):
    return page.context.browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()


def test_executive_review_lists_the_revision_and_the_phase_move_and_the_briefing_downloads(
        page, demo_server, artifacts, tmp_path):
    _sign_in(page, demo_server.url, "ceo@demo.example", "demo-executive")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Start review").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Start a review?")).to_be_visible(timeout=TIMEOUT)
    dialog.get_by_role("button", name="Start the review").click()
    expect(page.get_by_text("Nothing has changed since.")).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "review-1-started.png"), full_page=True)

    before = _best_estimate(demo_server.database_url)
    architect = _new_session(page)
    _sign_in(architect, demo_server.url, "architect@demo.example", "demo-architect")
    expect(architect.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_scope(architect, demo_server.url)
    architect.get_by_role("tab", name="Record a revision").click()
    _set_number(architect, "High", before + 100_000)
    _set_number(architect, "Best", before + 54_321)
    architect.get_by_label("Why the estimate changed").fill("A third export batch found in the proxy logs")
    architect.get_by_role("button", name="Record revision").click()
    expect(architect.get_by_text(f"{before + 54_321:,}").first).to_be_visible(timeout=TIMEOUT)
    architect.context.close()

    pr = _new_session(page)
    _sign_in(pr, demo_server.url, "pr@demo.example", "demo-pr-lead")
    expect(pr.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    pr.get_by_test_id("stSidebar").get_by_role("link", name="Communications").click()
    expect(pr.get_by_role("heading", name="Communications")).to_be_visible(timeout=TIMEOUT)
    pr.get_by_role("combobox", name="Phase").click()
    pr.get_by_role("option", name="4. Remediation update").click()
    expect(pr.get_by_role("combobox", name="Phase")).to_have_value(re.compile("Remediation update"), timeout=TIMEOUT)
    pr.get_by_role("tab", name="Status & sending").click()
    pr.get_by_role("button", name="Move to “drafting”").click()
    expect(pr.get_by_text("Remediation update is now drafting").first).to_be_visible(timeout=TIMEOUT)
    pr.context.close()

    # A fresh load of the executive's (the review itself is in the database; the session survives
    # a reload, so sign in only if asked).
    page.goto(demo_server.url)
    email = page.get_by_role("textbox", name="Email")
    expect(email.or_(page.get_by_role("heading", name="Loyalty database breach"))).to_be_visible(timeout=TIMEOUT)
    if email.is_visible():
        _sign_in(page, demo_server.url, "ceo@demo.example", "demo-executive")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    since = page.get_by_text(re.compile(r"All affected revised \(revision \d+"))
    expect(since.first).to_be_visible(timeout=TIMEOUT)
    expect(since.first).to_contain_text(f"{before + 54_321:,}")
    expect(page.get_by_text("Remediation update: not started → drafting").first).to_be_visible()
    page.get_by_text("Since the last review", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "review-2-since-last-review.png"), full_page=True)

    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Briefing (PDF)").click()
    pdf = tmp_path / "briefing.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(artifacts / "review-briefing-page")], check=True)
    pages = sorted(artifacts.glob("review-briefing-page*.png"))
    assert 1 <= len(pages) <= 2
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert f"{before + 54_321:,}" in text and "+54,321" in text
    assert "Remediation update: not started → drafting" in text
    assert page.external_requests == []
