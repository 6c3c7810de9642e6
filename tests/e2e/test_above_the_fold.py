"""Issue 16 (Proof): each role's landing view at a laptop (1280×720) and a phone (390×844) shows its
main figure above the fold — its bounding box inside the viewport without scrolling — and, at
phone width, before the refresh selector and the buttons. Screenshots go to tests/artifacts/."""
import pytest
from playwright.sync_api import expect

from breachdash.demo import DEMO_USERS
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e

VIEWPORTS = {"laptop": (1280, 720), "phone": (390, 844)}
ROLES = {role.value: (email, password) for role, email, _, password in DEMO_USERS if role.value != "admin"}


def _inside(box, width, height) -> bool:
    return box is not None and box["y"] >= 0 and box["x"] >= 0 and box["y"] + box["height"] <= height \
        and box["x"] + box["width"] <= width


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(ROLES))
def test_landing_view__main_figure_above_the_fold(browser, demo_server, artifacts, role, viewport):
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        email, password = ROLES[role]
        _sign_in(page, demo_server.url, email, password)
        expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
        headline = page.get_by_test_id("stMetric").first
        expect(headline).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_role("button", name="Briefing (PDF)")).to_be_attached(timeout=TIMEOUT)
        if viewport == "phone" and page.get_by_test_id("stSidebar").is_visible():
            page.get_by_test_id("stSidebarCollapseButton").get_by_role("button").click()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / f"fold-{role}-{viewport}.png"))
        box = headline.bounding_box()
        assert _inside(box, width, height), (role, viewport, box)
        refresh = page.get_by_role("combobox", name="Live refresh").bounding_box()
        assert refresh is not None and refresh["y"] > box["y"], "the headline comes before the controls"
    finally:
        context.close()
