"""Trust under attack in Chromium (issue 19, items 1, 2 and 3), against a real `streamlit run` on
the demo database:

1. PR alone, on a customer-facing phase, cannot take Legal off "Must sign": the page names the
   approval policy and nothing changes; adding an approver becomes a proposal that waits for a
   second person holding another role, and PR cannot approve it.
2. Two architects open "Record a revision" on the same revision; A records; B records from the
   stale form and is told who revised it and to reload, with B's typed reason still in the field
   and nothing of B's written.
3. Imported text stays inert: affected-customers and delivery-report files whose text fields carry
   markup are imported through the command line, then every page that shows imported values
   (Overview, Scope, Outreach with the customer lookup) is opened: no request leaves 127.0.0.1, no
   element from a payload is in the DOM, and the stored text shows literally. The pairs
   (imported field x payload) are counted ("imported text: field x payload pairs checked").

Every click waits for Streamlit to have taken the values first (the input shows them) and for the
run it starts to finish; no fixed sleeps. Screenshots: tests/artifacts/trust-*.png.
"""
from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from breachdash.db import make_engine
from tests.e2e.test_hostile_text import Journey, _alerts, _assert_clean, _choose, _settled, _stored, new_page  # noqa: F401
from tests.e2e.test_sign_in_journeys import TIMEOUT
from tests.figures import report

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SLUG = "kestrel-loyalty-breach"
PR = ("pr@demo.example", "demo-pr-lead")
ARCHITECT = ("architect@demo.example", "demo-architect")


def _query(url: str, sql: str, **params):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).all()
    finally:
        engine.dispose()


def _shot(page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"trust-{name}.png"), full_page=True)


# --- 1. The approval rule, as PR alone ---------------------------------------------------------------
def test_pr_alone_cannot_remove_legal_and_an_added_approver_waits_for_a_second_person(new_page, demo_server,
                                                                                         artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "pr")
    page = journey.page
    journey.sign_in(*PR)
    journey.open("Communications", "Communications")
    _choose(page, "Phase", re.compile(r"^3\. "))  # Detailed follow-up: customers, Legal and PR must sign
    ((phase_id, roles_before),) = _query(demo_server.database_url,
                                         "SELECT id, required_roles FROM comms_phases WHERE key = 'detailed_follow_up'")
    page.get_by_role("tab", name="Status & sending").click()  # tabs switch in the browser: no run
    page.get_by_text("Edit this phase of the plan").click()
    # Located by key and text, not by role: an open option list hides the rest of the page from the
    # accessibility tree.
    form = page.get_by_test_id("stForm").filter(has_text="Why change who must sign")
    must_sign = page.locator(f".st-key-plan_roles_{phase_id}")
    expect(must_sign).to_be_visible(timeout=TIMEOUT)

    # Take Legal off: refused, naming the policy and its reason; nothing written.
    legal_tag = _tag(must_sign, "Legal")
    must_sign.get_by_role("button", name="Remove Legal").click()
    expect(legal_tag).to_have_count(0)  # the widget holds the change before the save is clicked
    audit_before = _query(demo_server.database_url, "SELECT count(*) FROM audit_events")[0][0]
    _settled(page, lambda: form.get_by_role("button", name="Save plan").click())
    errors = _alerts(page, "Error").replace("\\", "")
    assert "refused by the approval policy: Legal must sign Detailed follow-up" in errors, errors
    assert "no customer contact before Legal and PR agree" in errors and "whoever asks" in errors, errors
    _assert_clean(page, "pr: approvers refused")
    _shot(page, artifacts, "approval-remove-legal-refused")
    assert _query(demo_server.database_url, "SELECT required_roles FROM comms_phases WHERE id = :p",
                  p=phase_id)[0][0] == roles_before
    assert _query(demo_server.database_url, "SELECT count(*) FROM audit_events")[0][0] == audit_before

    # Put Legal back and add the Executive: a proposal, not a change, that PR cannot approve.
    if not form.is_visible():
        page.get_by_text("Edit this phase of the plan").click()
    for role in ("Legal", "Executive"):
        if _tag(must_sign, role).count() == 0:
            must_sign.get_by_role("combobox").click()
            page.get_by_role("option", name=role, exact=True).click()
            expect(_tag(must_sign, role)).to_have_count(1)
    reason = form.get_by_label("Why change who must sign (shown to the second person)")
    reason.click()  # closes the option list (Esc would stop the app's run)
    reason.fill("The board wants to see the follow-up before it goes out")
    expect(reason).to_have_value("The board wants to see the follow-up before it goes out")
    expect(must_sign.locator("[data-tag]")).to_have_count(3)
    _settled(page, lambda: form.get_by_role("button", name="Save plan").click())
    if _alerts(page, "Error"):
        _shot(page, artifacts, "approval-add-executive-failure")
    assert not _alerts(page, "Error"), _alerts(page, "Error")
    assert "The change of who must sign awaits a second person holding another role" in _alerts(page, "Success")
    page.get_by_role("tab", name="Status & sending").click()
    _shot(page, artifacts, "approval-add-executive-proposed")
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text(re.compile(  # Legal was taken off and put back: it comes after PR now
        r"Change of who must sign, awaiting a second person: Legal, PR → (PR, Legal|Legal, PR), Executive"))
    expect(main).to_contain_text("Two-person rule: someone else, holding another role, approves it.")
    expect(main).to_contain_text("The board wants to see the follow-up before it goes out")
    expect(page.get_by_role("button", name="Withdraw my proposal")).to_be_visible()
    expect(page.get_by_role("button", name="Approve the change")).to_have_count(0)  # not by the proposer
    _assert_clean(page, "pr: approvers proposed")

    assert _query(demo_server.database_url, "SELECT required_roles FROM comms_phases WHERE id = :p",
                  p=phase_id)[0][0] == roles_before  # proposed, not applied
    rows = _query(demo_server.database_url, "SELECT proposed_by, status, to_roles FROM approver_changes "
                                            "WHERE phase_id = :p", p=phase_id)
    assert [(r[0], r[1], sorted(json.loads(r[2]) if isinstance(r[2], str) else r[2])) for r in rows] == [
        ("pr@demo.example", "pending", ["executive", "legal", "pr"])], rows
    actions = [a for (a,) in _query(demo_server.database_url, "SELECT action FROM audit_events WHERE id > (SELECT "
                                    "max(id) - 5 FROM audit_events) ORDER BY id")]
    assert "comms.approvers_proposed" in actions, actions


def _tag(multiselect, label: str):
    """A chosen value's tag in a multiselect."""
    return multiselect.locator(f'[data-tag][aria-label="{label}"]')


# --- 2. A stale scope form never wins ------------------------------------------------------------------
def _revision_form(journey):
    page = journey.page
    journey.sign_in(*ARCHITECT)
    journey.open("Scope & exposure", "Scope & exposure")
    page.get_by_role("tab", name="Record a revision").click()
    expect(page.get_by_role("button", name="Record revision")).to_be_visible(timeout=TIMEOUT)
    return page


def _type_revision(page, high: int, best: int, reason: str) -> None:
    for label, value in (("High", high), ("Best", best)):
        field = page.get_by_role("spinbutton", name=label, exact=True)
        field.fill(str(value))
        field.press("Tab")
        expect(field).to_have_value(re.compile(rf"^{value}$|^{value:,}$"))
    page.get_by_label("Method or source").fill("Replay of the staging-server exports")
    page.get_by_label("Why the estimate changed").fill(reason)
    expect(page.get_by_label("Why the estimate changed")).to_have_value(reason)


def test_two_architects_on_one_revision__the_stale_form_is_refused_and_keeps_the_typed_reason(new_page, demo_server,
                                                                                               artifacts):
    url = demo_server.database_url
    a = _revision_form(Journey(new_page(), demo_server, artifacts, "architect-a"))
    b = _revision_form(Journey(new_page(), demo_server, artifacts, "architect-b"))
    ((seq_before, count_before),) = _query(url, "SELECT max(seq), count(*) FROM scope_revisions")

    _type_revision(a, 2_400_000, 2_345_678, "A: two more export batches found")
    _settled(a, lambda: a.get_by_role("button", name="Record revision").click())
    assert f"Recorded revision {seq_before + 1}." in _alerts(a, "Success"), _alerts(a, "Error")
    _shot(a, artifacts, "stale-a-recorded")

    b_reason = "B: the vendor's count of loyalty accounts, typed while A was saving"
    _type_revision(b, 2_500_000, 2_456_789, b_reason)
    _settled(b, lambda: b.get_by_role("button", name="Record revision").click())
    errors = _alerts(b, "Error").replace("\\", "")
    assert re.search(r"was revised by architect@demo\.example at \d{4}-\d\d-\d\d \d\d:\d\d UTC "
                     rf"\(revision {seq_before + 1}\) after you opened the form — reload", errors), errors
    expect(b.get_by_label("Why the estimate changed")).to_have_value(b_reason)  # the typed reason stays
    _assert_clean(b, "architect b: stale revision refused")
    _shot(b, artifacts, "stale-b-refused")

    rows = _query(url, "SELECT seq, best, reason FROM scope_revisions WHERE seq > :s ORDER BY seq", s=seq_before)
    assert [(r[0], r[1]) for r in rows] == [(seq_before + 1, 2_345_678)], rows  # A's only
    assert _query(url, "SELECT count(*) FROM scope_revisions")[0][0] == count_before + 1
    assert not _stored(url, b_reason), "something of B's revision was written"


# --- 3. Imported text stays inert ----------------------------------------------------------------------
IMPORTED_PAYLOADS = {
    "markdown image": "![t](http://198.51.100.7/p.png)",
    "img onerror": "<img src=//198.51.100.7/i onerror=window.__pwned=1>",
    "hyperlink formula": '=HYPERLINK("http://evil.example")',
}
# (file, column): every free-text column of the two per-customer formats (the others are codes,
# enumerations and times, checked by the importers' own tests).
IMPORTED_FIELDS = (("affected", "customer_id"), ("affected", "region"), ("affected", "segment"),
                   ("affected", "system"), ("delivery", "customer_id"), ("delivery", "vendor_ref"))
CHECKED: dict[tuple[str, str, str], str] = {}  # (file, column, payload) -> outcome
# The imported fields the customer lookup shows as text: a segment in its answer, a vendor reference in its tables.
SHOWN_IN_LOOKUP = (("affected", "segment"), ("delivery", "vendor_ref"))
ROW_ID: dict[tuple[str, str, str], str] = {}   # (file, column, payload) -> the row's customer id
_IMPORTED_DOM = """() => {
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    for (const attr of el.attributes) {
      if (/198\\.51\\.100\\.7|evil\\.example/.test(attr.value) && !['value', 'aria-label', 'title'].includes(attr.name))
        found.push(el.tagName + ' ' + attr.name + '=' + attr.value.slice(0, 80));
      if (/^on/i.test(attr.name) && /pwned/.test(attr.value)) found.push(el.tagName + ' ' + attr.name);
    }
  }
  return found;
}"""


def _row(kind: str, index: int, column: str, payload: str) -> dict[str, str]:
    if kind == "affected":
        row = {"customer_id": f"cus_trust{index:04d}", "region": "US-CA", "segment": "rewards",
               "system": "loyalty-db-02", "data_types": "name;email"}
    else:
        at = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        row = {"customer_id": f"cus_trust{index:04d}", "phase": "initial_notice", "channel": "email",
               "status": "delivered", "event_time": at, "vendor_ref": f"ref-{index}"}
    row[column] = payload
    return row


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _import_every_pair(url: str, tmp_path: Path) -> dict[str, list[str]]:
    """One file per (field, payload), imported through the CLI; returns the customer ids to look up
    (the rows whose segment or vendor reference carries a payload, and every stored payload id)."""
    lookups: list[str] = []
    for index, ((kind, column), (name, payload)) in enumerate(
            (pair, item) for pair in IMPORTED_FIELDS for item in IMPORTED_PAYLOADS.items()):
        path = tmp_path / f"{kind}-{index:02d}.csv"
        row = _row(kind, index, column, payload)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
        revisions = _query(url, "SELECT count(*) FROM scope_revisions")[0][0]
        reports = _query(url, "SELECT count(*) FROM delivery_reports")[0][0]
        if kind == "affected":
            done = _cli(url, "import-affected", str(path), "--incident", SLUG, "--mode", "batch", "--yes")
        else:
            done = _cli(url, "import-outreach", str(path), "--incident", SLUG)
        if done.returncode == 0:
            assert _holds(url, kind, column, row), f"{kind}.{column} × {name}: imported, but not stored as written"
            CHECKED[(kind, column, name)] = "stored as written"
            ROW_ID[kind, column, name] = row["customer_id"]
            if column in ("customer_id", "segment", "vendor_ref"):
                lookups.append(row["customer_id"])
        else:
            problem = done.stderr + done.stdout
            assert f"column {column}" in problem, f"{kind}.{column} × {name}: refused without naming it: {problem}"
            assert _query(url, "SELECT count(*) FROM scope_revisions")[0][0] == revisions
            assert _query(url, "SELECT count(*) FROM delivery_reports")[0][0] == reports
            CHECKED[(kind, column, name)] = "refused by the importer, nothing written: " + re.sub(
                r"\s+", " ", problem.split(f"column {column}:", 1)[-1]).strip()[:60]
    return {"lookups": list(dict.fromkeys(lookups))}


def _holds(url: str, kind: str, column: str, row: dict[str, str]) -> bool:
    """Whether the imported value is stored exactly as written: the customer list and delivery
    states through the customer lookup's own service (they are stored in compressed chunks), the
    breakdowns as text."""
    from breachdash.auth.models import Role
    from breachdash.outreach.service import customer_history
    from tests.conftest import actor_with

    if column in ("region", "system"):
        return _stored(url, row[column])
    engine = make_engine(url)
    try:
        incident_id = _query(url, "SELECT id FROM incidents WHERE slug = :s", s=SLUG)[0][0]
        history = customer_history(engine, actor=actor_with(Role.pr), incident_id=incident_id,
                                   customer_id=row["customer_id"])
    finally:
        engine.dispose()
    if kind == "affected":
        return bool(history.affected) and history.affected.get(column, row["customer_id"]) == row[column]
    return not history.events.empty and row["vendor_ref"] in history.events["vendor_ref"].tolist()


def _inert(page, where: str) -> None:
    _assert_clean(page, where)
    found = page.evaluate(_IMPORTED_DOM)
    assert found == [], f"{where}: payload markup in the DOM: {found[:5]}"


def test_imported_text_is_inert_on_every_page_that_shows_it(new_page, demo_server, artifacts, tmp_path):
    url = demo_server.database_url
    plan = _import_every_pair(url, tmp_path)
    stored = {payload for (_, _, name), outcome in CHECKED.items() if outcome == "stored as written"
              for payload in [IMPORTED_PAYLOADS[name]]}
    assert stored, "no payload was stored: nothing to show"
    seen: dict[str, set[str]] = {}  # where -> payloads shown there as written

    journey = Journey(new_page(), demo_server, artifacts, "pr")
    page = journey.page
    journey.sign_in(*PR)  # lands on the Overview

    def look(where: str) -> None:
        _inert(page, where)
        seen[where] = {p for p in stored if journey.shows_literal(p) or _grid_shows(page, p)}

    look("Overview")
    _shot(page, artifacts, "imported-overview")
    journey.open("Scope & exposure", "Scope & exposure")
    for tab in ("History", "Exposure", "Populations"):
        _tab(page, tab)
        look(f"Scope: {tab}")
        _shot(page, artifacts, f"imported-scope-{tab.lower()}")
    journey.open("Outreach", "Outreach")
    phase = page.get_by_role("combobox", name="Phase")
    if "Initial notice" not in phase.input_value():
        _choose(page, "Phase", re.compile(r"Initial notice"))  # the phase the delivery reports are for
    for tab in ("Funnel & progress", "By region & segment", "Reconciliation", "Bounces"):
        _tab(page, tab)
        look(f"Outreach: {tab}")
        _shot(page, artifacts, f"imported-outreach-{re.sub(r'[^a-z]+', '-', tab.lower())}")
    _tab(page, "Customer lookup")
    box = page.get_by_label("Pseudonymous customer id")
    for index, customer_id in enumerate(plan["lookups"]):
        box.fill(customer_id)
        expect(box).to_have_value(customer_id)
        _settled(page, lambda: page.get_by_role("button", name="Look up").click())
        assert not _alerts(page, "Error"), f"lookup of {customer_id!r}: {_alerts(page, 'Error')}"
        # The answer's tables draw on a canvas after the (fragment) run ends: on a busy machine, look
        # again for a while until this customer's own stored values are there (or give up and fail below).
        own = {IMPORTED_PAYLOADS[name] for (kind, column, name), outcome in CHECKED.items()
               if outcome == "stored as written" and (kind, column) in SHOWN_IN_LOOKUP
               and ROW_ID.get((kind, column, name)) == customer_id}
        for _ in range(30):
            look(f"Outreach: lookup of {customer_id!r}")
            if own <= seen[f"Outreach: lookup of {customer_id!r}"]:
                break
            page.wait_for_timeout(500)
        if index < 3:
            _shot(page, artifacts, f"imported-lookup-{index}")

    # Each stored value where its field is shown as text: a segment in the lookup's answer, a vendor
    # reference in the lookup's tables. (Customer ids are found by the lookup; no page lists them.
    # Systems are in the Scope page's systems table, drawn on a canvas: inert by construction, and
    # seen as written in trust-imported-scope-exposure.png.)
    shown_on = {field: "Outreach: lookup" for field in SHOWN_IN_LOOKUP}
    for (kind, column, name), outcome in CHECKED.items():
        if outcome == "stored as written" and (kind, column) in shown_on:
            places = [w for w, shown in seen.items()  # the lookup of that row's own customer
                      if w == f"{shown_on[kind, column]} of {ROW_ID[kind, column, name]!r}"
                      and IMPORTED_PAYLOADS[name] in shown]
            assert places, f"{kind}.{column} × {name}: not shown as written on {shown_on[kind, column]}"
            CHECKED[kind, column, name] = f"stored as written, shown literally on {places[0]}"
    pairs = len(CHECKED)
    assert pairs == len(IMPORTED_FIELDS) * len(IMPORTED_PAYLOADS)
    report("imported text: field x payload pairs checked", pairs)
    report("imported text: pairs stored as written and shown inertly", sum(o.startswith("stored") for o in CHECKED.values()))
    report("imported text: pairs refused by the importer", sum(o.startswith("refused") for o in CHECKED.values()))
    print("\nimported field x payload:")
    for (kind, column, name), outcome in sorted(CHECKED.items()):
        print(f"  {kind}.{column} x {name}: {outcome}")


def _grid_shows(page, text_: str) -> bool:
    """Whether a dataframe on the page holds the text in a cell (the grid draws on a canvas; its
    cells are read through the accessible table the grid keeps in the DOM)."""
    return page.evaluate("""(text) => Array.from(document.querySelectorAll('[role=gridcell]'))
        .some(cell => cell.textContent.replace(/[\\u2060\\u2068\\u2069]/g, '').includes(text))""", text_)


def _tab(page, name: str) -> None:
    """Open a tab (switched in the browser, no run) and wait until its panel is shown."""
    tab = page.get_by_role("tab", name=name)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    panel = page.get_by_role("tabpanel").filter(visible=True).first
    expect(panel).to_be_visible(timeout=TIMEOUT)

