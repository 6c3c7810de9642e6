"""The outreach journey in Chromium: PR imports a 1M-event delivery report with a progress bar,
sees the funnel, exports the bounce list, looks up one customer, and re-imports the same file,
which is refused with the figures unchanged. Every figure is checked against an independent
count of the file (DuckDB over the Parquet, no breachdash code). Screenshots in tests/artifacts/."""
import csv
import re

import duckdb
import pytest
from playwright.sync_api import expect

from breachdash.synth import write_synthetic
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e
PR = ("pr@demo.example", "demo-pr-lead")
PHASE = "initial_notice"
IMPORT_TIMEOUT = 120_000
CUSTOMERS = 909_091  # about 1.1 events each: ~1,000,000 events

# Same-time tie-break, highest wins (the rule in docs, restated here independently).
PRECEDENCE = ["targeted", "sent", "delivered", "failed", "bounced", "opened", "replied", "opted_out"]
DELIVERED = ("delivered", "opened", "replied", "opted_out")
UNREACHED = ("bounced", "failed")


def _independent_figures(path) -> dict:
    """Each customer's latest status per channel for the phase, straight from the file."""
    precedence = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(PRECEDENCE))
    with duckdb.connect() as db:
        db.execute(f"""CREATE TABLE latest AS
            SELECT customer_id, channel, status FROM (
                SELECT customer_id, channel, status, row_number() OVER (
                    PARTITION BY customer_id, channel
                    ORDER BY CAST(event_time AS TIMESTAMPTZ) DESC, CASE status {precedence} END DESC) AS n
                FROM read_parquet(?) WHERE phase = '{PHASE}')
            WHERE n = 1""", [str(path)])
        events = db.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        delivered = db.execute(f"SELECT count(*) FROM latest WHERE status IN {DELIVERED}").fetchone()[0]
        unreached = dict(db.execute(f"SELECT customer_id, status FROM latest WHERE status IN {UNREACHED}").fetchall())
        # A customer with two events of different statuses, for the lookup.
        customer, statuses, refs = db.execute("""
            SELECT customer_id, list(status ORDER BY event_time), list(vendor_ref ORDER BY event_time)
            FROM read_parquet(?) GROUP BY customer_id
            HAVING count(*) = 2 AND count(DISTINCT status) = 2 AND bool_or(status = 'delivered')
            ORDER BY customer_id LIMIT 1""", [str(path)]).fetchone()
    return {"events": events, "delivered": delivered, "unreached": unreached,
            "lookup": (customer, statuses, refs)}


def _metric(page, label):
    return (page.get_by_test_id("stMetric")
            .filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
            .get_by_test_id("stMetricValue"))


def _import(page, path):
    page.get_by_role("tab", name="Import & entry").click()
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Delivery-status report")
    uploader.locator("input[type=file]").set_input_files(str(path))
    expect(uploader.get_by_role("button", name=f"Remove {path.name}")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Import report").click()
    expect(page.get_by_test_id("stProgress")).to_be_visible(timeout=60_000)


def _settled(page):
    """The rerun has drawn the whole page (the last form on it is there)."""
    expect(page.get_by_role("button", name="Save counts")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(500)


def _expect_figures(page, expected):
    expect(_metric(page, "Delivered")).to_have_text(f"{expected['delivered']:,}", timeout=IMPORT_TIMEOUT)
    expect(_metric(page, "Bounced or failed")).to_have_text(f"{len(expected['unreached']):,}",
                                                            timeout=IMPORT_TIMEOUT)


def test_pr_imports_a_million_events_sees_the_funnel_exports_bounces_looks_up_and_cannot_reimport(
        page, demo_server, artifacts, tmp_path):
    write_synthetic(customers=CUSTOMERS, out_dir=tmp_path, seed=31, formats=["parquet"], phase=PHASE)
    path = tmp_path / "delivery_status.parquet"
    expected = _independent_figures(path)
    assert 990_000 <= expected["events"] <= 1_010_000

    _sign_in(page, demo_server.url, *PR)
    expect(page.get_by_role("heading", name="Loyalty database breach")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Outreach").click()
    expect(page.get_by_role("heading", name="Outreach")).to_be_visible(timeout=TIMEOUT)

    # Import with a visible progress bar.
    _import(page, path)
    page.screenshot(path=str(artifacts / "outreach-0-import-progress.png"), full_page=True)
    expect(page.get_by_text(f"Imported {path.name}: {expected['events']:,} events")).to_be_visible(
        timeout=IMPORT_TIMEOUT)
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    _expect_figures(page, expected)
    _settled(page)
    page.screenshot(path=str(artifacts / "outreach-1-imported.png"), full_page=True)

    # The funnel: headline figures and the chart.
    page.get_by_role("tab", name="Funnel & progress").click()
    funnel = page.get_by_test_id("stPlotlyChart").filter(has_text="outreach funnel")
    expect(funnel).to_be_visible(timeout=TIMEOUT)
    bounced = sum(status == "bounced" for status in expected["unreached"].values())
    expect(funnel).to_contain_text(f"Bounced: {bounced:,}")
    expect(funnel).to_contain_text(f"Failed to send: {len(expected['unreached']) - bounced:,}")
    _expect_figures(page, expected)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "outreach-2-funnel.png"), full_page=True)

    # The bounce follow-up list: exactly the independently counted customers.
    page.get_by_role("tab", name="Bounces").click()
    button = page.get_by_role("button", name="Download the bounce follow-up list (CSV)")
    expect(button).to_be_enabled(timeout=TIMEOUT)
    with page.expect_download(timeout=IMPORT_TIMEOUT) as download_info:
        button.click()
    saved = tmp_path / "bounces.csv"
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(saved.open(newline="", encoding="utf-8")))
    assert {"customer_id", "status"} <= set(rows[0])
    assert len(rows) == len(expected["unreached"])
    assert {r["customer_id"] for r in rows} == set(expected["unreached"])
    assert {r["customer_id"]: r["status"] for r in rows} == expected["unreached"]
    assert {r["phase"] for r in rows} == {PHASE}

    # Looking up one customer shows both of their events.
    customer, statuses, refs = expected["lookup"]
    page.get_by_role("tab", name="Customer lookup").click()
    page.get_by_role("textbox", name="Pseudonymous customer id").fill(customer)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_text("Current state per phase and channel")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Every event received")).to_be_visible()
    # The grids' cells are in an off-screen table (the canvas draws them): compare their text.
    report_column = page.locator("th", has_text=re.compile(r"^From report$"))
    events = page.get_by_test_id("stDataFrame").filter(has_text=refs[0], has=report_column)
    states = page.get_by_test_id("stDataFrame").filter(has_text=refs[-1], has_not=report_column)
    expect(events).to_be_visible(timeout=TIMEOUT)
    expect(states).to_be_visible()
    expect(states.locator("tbody td[aria-colindex='3']")).to_have_text([statuses[-1]])
    expect(events.locator("tbody td[aria-colindex='4']")).to_have_text(statuses)
    expect(events.locator("tbody td[aria-colindex='5']")).to_have_text(refs)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "outreach-3-lookup.png"), full_page=True)

    # The same file again: refused, figures unchanged.
    _import(page, path)
    expect(page.get_by_text("already imported")).to_be_visible(timeout=IMPORT_TIMEOUT)
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    _expect_figures(page, expected)
    reports = page.get_by_test_id("stDataFrame").filter(has=page.locator("th", has_text="States changed"))
    expect(reports.locator("tbody tr")).to_have_count(1)  # one report imported, not two
    expect(reports).to_contain_text(path.name)
    _settled(page)
    page.screenshot(path=str(artifacts / "outreach-4-reimport-refused.png"), full_page=True)

    # A fresh load reads the same figures back from the database (still signed in: sessions
    # survive a reload; sign in only if asked).
    page.goto(demo_server.url)
    email = page.get_by_role("textbox", name="Email")
    expect(email.or_(page.get_by_test_id("stSidebar"))).to_be_visible(timeout=TIMEOUT)
    if email.is_visible():
        _sign_in(page, demo_server.url, *PR)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Outreach").click()
    expect(page.get_by_role("heading", name="Outreach")).to_be_visible(timeout=TIMEOUT)
    _expect_figures(page, expected)
    assert page.external_requests == []
