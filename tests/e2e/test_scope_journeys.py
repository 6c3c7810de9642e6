"""An architect revises the estimate in Chromium and everyone's pages show it at once; a 1M-customer
file imports through the browser with a progress bar and exact counts."""
import collections

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect

from breachdash.synth import write_synthetic
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e


def _open_scope(page, base_url):
    page.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
    expect(page.get_by_role("heading", name="Scope & exposure")).to_be_visible(timeout=TIMEOUT)


def _set_number(page, label, value):
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Tab")


def test_architect_records_a_revision_and_overview_and_scope_show_it(page, demo_server, artifacts):
    _sign_in(page, demo_server.url, "architect@demo.example", "demo-architect")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_scope(page, demo_server.url)
    page.get_by_role("tab", name="Record a revision").click()
    _set_number(page, "High", 2_400_000)
    _set_number(page, "Best", 2_345_678)
    page.get_by_label("Why the estimate changed").fill("Two more export batches found on the staging server")
    page.get_by_label("Method or source").fill("Replay of staging-server exports")
    page.screenshot(path=str(artifacts / "e2e-scope-record-form.png"), full_page=True)
    page.get_by_role("button", name="Record revision").click()
    expect(page.get_by_text("2,345,678").first).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="History").click()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "e2e-scope-history.png"), full_page=True)
    page.get_by_role("tab", name="Exposure").click()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "e2e-scope-exposure.png"), full_page=True)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("2,345,678").first).to_be_visible(timeout=TIMEOUT)

    # Another person, in another browser session, sees the new figure on first load.
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    _sign_in(other, demo_server.url, "ceo@demo.example", "demo-executive")
    expect(other.get_by_text("2,345,678").first).to_be_visible(timeout=TIMEOUT)
    other.screenshot(path=str(artifacts / "e2e-scope-executive-sees-revision.png"), full_page=True)
    other.context.close()
    assert page.external_requests == []


def test_million_customer_file_imports_in_the_browser_with_progress(page, demo_server, artifacts, tmp_path):
    write_synthetic(customers=1_000_000, out_dir=tmp_path, seed=21, formats=["parquet"])
    path = tmp_path / "affected_customers.parquet"
    table = pq.read_table(path, columns=["customer_id", "region"])
    expected_customers = len(set(table.column("customer_id").to_pylist()))
    expected_regions = collections.Counter(table.column("region").to_pylist())

    _sign_in(page, demo_server.url, "architect@demo.example", "demo-architect")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_scope(page, demo_server.url)
    page.get_by_role("tab", name="Import customer file").click()
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_label("Why (shown in the history)").fill("Final customer file from the forensic firm")
    page.get_by_role("button", name="Import").click()
    progress = page.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=60_000)
    # Nothing is recorded before the dialog has said what the file would change.
    dialog = page.get_by_test_id("stDialog")
    expect(dialog.get_by_text("This file would change All affected from").first).to_be_visible(timeout=120_000)
    expect(dialog.get_by_text("1,000,000 distinct customers").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-scope-import-1m-proposal.png"), full_page=True)
    dialog.get_by_role("button", name="Record this revision").click()
    expect(dialog).to_have_count(0, timeout=120_000)
    expect(page.get_by_text("1,000,000 distinct customers").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-scope-import-1m.png"), full_page=True)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(f"{expected_customers:,}", timeout=TIMEOUT)

    page.get_by_role("tab", name="Exposure").click()
    top_region, top_count = expected_regions.most_common(1)[0]
    # Each population's regions table: the code with its name, and the count as a figure.
    regions = page.get_by_test_id("stDataFrame").filter(has_text=f"{top_region} — ")
    expect(regions).to_be_visible(timeout=TIMEOUT)
    expect(regions).to_contain_text(f"{top_region} — ")
    expect(regions).to_contain_text(f"{top_count:,}")  # the grid exposes the cell values
    page.screenshot(path=str(artifacts / "e2e-scope-import-exposure.png"), full_page=True)


def test_ids_that_look_like_emails_are_refused_until_the_architect_says_they_are_pseudonymous(
        page, demo_server, artifacts, tmp_path):
    """Issue 19.7 in the page: the refusal names the row and the reason and says how to override;
    the override is a tick box in the same form, and recording says so in the audit log."""
    path = tmp_path / "ids-1.csv"
    path.write_text("customer_id,region,segment,system,data_types\n"
                    + "".join(f"member{i}@loyalty.invalid,US-TX,retail,crm,name;email\n" for i in range(3)),
                    encoding="utf-8")
    _sign_in(page, demo_server.url, "architect@demo.example", "demo-architect")
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    _open_scope(page, demo_server.url)
    page.get_by_role("tab", name="Import customer file").click()
    override = page.get_by_role("checkbox", name="These ids are pseudonymous")

    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_text("ids-1.csv").first).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("looks like an email address").first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("the override is recorded in the audit log").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-scope-import-identifier-refused.png"), full_page=True)
    expect(page.get_by_test_id("stDialog")).to_have_count(0)

    again = tmp_path / "ids-2.csv"  # a new name (short, so shown whole): the browser sends a change
    again.write_bytes(path.read_bytes())
    page.locator("input[type=file]").set_input_files(str(again))
    expect(page.get_by_text("ids-2.csv").first).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("stCheckbox").filter(has_text="These ids are pseudonymous").locator("label").click()
    expect(override).to_be_checked()
    page.get_by_role("button", name="Import").click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog.get_by_text("This file would change").first).to_be_visible(timeout=TIMEOUT)
    expect(dialog.get_by_text("The ids were declared pseudonymous").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "e2e-scope-import-identifier-override.png"), full_page=True)
    dialog.get_by_role("button", name="Discard").click()
    expect(dialog).to_have_count(0, timeout=TIMEOUT)
