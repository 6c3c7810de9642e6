"""An architect's revision that pushes one state over its notification threshold makes a new
obligation appear, in Chromium: Washington's 500 affected residents become 501 in the scope form,
the Washington Attorney General's clock appears on the Overview ("New since revision N") and on the
Obligations page, and the register Legal downloads lists it as applying."""
import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from breachdash.auth.models import Role
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.incidents.service import find_incident
from breachdash.obligations.service import obligations_register
from breachdash.scope.service import record_revision
from tests.conftest import actor_with
from tests.e2e.test_scope_journeys import _open_scope
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e
RULE = "US-WA-AG"
RECIPIENT = "Washington Attorney General"  # pages name the recipient; the rule id stays in the register
ROW_HEIGHT = 35  # Streamlit's data grid: header and rows are 35 px high


def _wa_ag(database_url: str, actor) -> dict:
    engine = make_engine(database_url)
    try:
        incident = find_incident(engine, DEMO_SLUG)
        register = obligations_register(engine, actor=actor, incident_id=incident.id)
    finally:
        engine.dispose()
    rows = register[register["rule_id"] == RULE]
    assert len(rows) == 1, register["rule_id"].tolist()
    return rows.iloc[0].to_dict()


def _revise_to_just_below_the_threshold(database_url: str, architect) -> int:
    """500 Washington residents: exactly the threshold, which needs *more than* 500."""
    engine = make_engine(database_url)
    try:
        incident = find_incident(engine, DEMO_SLUG)
        revision = record_revision(engine, actor=architect, incident_id=incident.id, revision_in={
            # High leaves room for the one more resident the browser adds (regions may not exceed high).
            "low": 2_500, "best": 2_500, "high": 2_600, "confidence": "high",
            "method": "Forensic replay of the loyalty database exports",
            "reason": "Exports narrowed to two states",
            "data_types": [{"data_type": "payment_card", "count": 2_500, "status": "confirmed"}],
            "regions": [{"region": "US-CA", "count": 2_000}, {"region": "US-WA", "count": 500}]})
    finally:
        engine.dispose()
    return revision.seq


def _edit_grid_cell(page, grid, *, row: int, column_fraction: float, value: str) -> None:
    """Glide data grids are drawn on a canvas: click the cell by position (header and rows are
    ROW_HEIGHT high), open its editor with Enter, replace the value and commit with Enter."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + box["width"] * column_fraction, box["y"] + ROW_HEIGHT * (row + 1) + ROW_HEIGHT / 2)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    editor = page.locator("#portal textarea, #portal input").first  # glide's overlay editor
    expect(editor).to_be_visible(timeout=TIMEOUT)
    editor.fill(value)
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)


def test_revision_over_a_state_threshold_adds_an_obligation(page, demo_server, artifacts):
    architect = actor_with(Role.architect)
    below = _revise_to_just_below_the_threshold(demo_server.database_url, architect)
    before = _wa_ag(demo_server.database_url, architect)
    # The demo's earlier revisions put thousands in Washington, so the rule "no longer applies"
    # (rather than "not applicable": it applied before).
    assert before["applicability"] == "no longer applies", before
    assert "below the threshold" in before["reason"], before["reason"]

    # The architect finds one more Washington resident and records it in the browser.
    _sign_in(page, demo_server.url, "architect@demo.example", "demo-architect")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_scope(page, demo_server.url)
    page.get_by_role("tab", name="Record a revision").click()
    form = page.get_by_test_id("stForm")
    regions = form.get_by_test_id("stDataFrame").filter(has_text="US-WA")
    expect(regions).to_have_count(1, timeout=TIMEOUT)
    expect(regions).to_contain_text("US-WA500")  # the grid's accessible table holds the raw values
    # Rows sorted by count: US-CA (2,000) then US-WA (500); Customers is the right-hand column.
    _edit_grid_cell(page, regions, row=1, column_fraction=0.5, value="501")  # region | count | count kind
    expect(regions).to_contain_text("US-WA501", timeout=TIMEOUT)
    expect(regions).to_contain_text("US-CA2000")
    regions.screenshot(path=str(artifacts / "obligations-1-regions-edited.png"))
    page.get_by_label("Why the estimate changed").fill("One more Washington resident found in the export replay")
    page.screenshot(path=str(artifacts / "obligations-1-revision-form.png"), full_page=True)
    page.get_by_role("button", name="Record revision").click()
    expect(page.get_by_text(f"Recorded revision {below + 1}.")).to_be_visible(timeout=TIMEOUT)

    # The service: Washington's Attorney General now has a clock.
    after = _wa_ag(demo_server.database_url, architect)
    assert after["applicability"] == "applies", after
    assert "501 residents of US-WA meets the threshold of more than 500" in after["reason"], after["reason"]

    # The Overview flags it as new with this revision.
    page.get_by_test_id("stSidebar").get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    new = page.get_by_test_id("stAlert").filter(has_text=f"New since revision {below + 1}:")
    expect(new).to_be_visible(timeout=TIMEOUT)
    # Only Washington's AG is new: nothing else changed between the two revisions.
    expect(new).to_have_text(re.compile(rf"New since revision {below + 1}: {RECIPIENT}\s*$"))
    new.scroll_into_view_if_needed()  # Streamlit scrolls inside its own container: bring the warning into view
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "obligations-2-overview-new.png"), full_page=True)

    # The Obligations page offers it as applying.
    page.get_by_test_id("stSidebar").get_by_role("link", name="Obligations").click()
    expect(page.get_by_role("heading", name="Obligations", exact=True)).to_be_visible(timeout=TIMEOUT)
    choice = page.get_by_role("combobox", name="Obligation", exact=True)
    choice.scroll_into_view_if_needed()
    choice.click()
    page.keyboard.type(RULE)  # the list is long: filter it to the rule
    option = page.get_by_role("option", name=re.compile(rf"^{RECIPIENT} — .+ \({RULE}, applies\)$"))
    expect(option).to_be_visible(timeout=TIMEOUT)
    option.click()
    expect(page.get_by_text(re.compile(r"Why: .*501 residents of US-WA meets the threshold of more than 500"))
           ).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "obligations-3-obligations-page.png"), full_page=True)

    # Legal's register lists it as applying.
    with page.expect_download(timeout=TIMEOUT) as download_info:
        page.get_by_role("button", name="Download the register (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == f"{DEMO_SLUG}-obligations.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    wa = [r for r in rows if r["rule_id"] == RULE]
    assert len(wa) == 1 and wa[0]["applicability"] == "applies", wa
    assert "501 residents of US-WA" in wa[0]["reason"]
    assert page.external_requests == []
