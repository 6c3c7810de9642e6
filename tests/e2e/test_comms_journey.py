"""The communications journey in Chromium: PR drafts the first notice, the checks flag jargon and
an outdated number, PR fixes both, Legal and PR approve, an architect revises the estimate and
the approvals go stale with the reason shown, PR re-issues, both re-approve, the phase is sent.
Screenshots at each step; the journey is then on the timeline and in the audit trail."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from breachdash.auth.models import Role
from breachdash.comms import service as comms
from breachdash.db import make_engine
from breachdash.incidents.service import create_incident
from breachdash.scope.service import record_revision
from tests.conftest import actor_with
from tests.e2e.test_sign_in_journeys import TIMEOUT, _sign_in

pytestmark = pytest.mark.e2e
PR = ("pr@demo.example", "demo-pr-lead")
LEGAL = ("legal@demo.example", "demo-legal-counsel")
ARCHITECT = ("architect@demo.example", "demo-architect")
DRAFT = ("Dear customer,\n\nOn 14 November we found that someone without permission accessed our rewards "
         "system. Our team saw exfiltration of records. About 1,200,000 customers may be affected. The "
         "information involved may include your name and email address, and payment card numbers.\n\n"
         "We have stopped the access. Please watch your card statements.\n\nCall us on 0800 000 0000.")


def _journey_incident(url: str) -> int:
    engine = make_engine(url)
    admin, architect, legal, pr = (actor_with(r) for r in (Role.admin, Role.architect, Role.legal, Role.pr))
    incident = create_incident(engine, actor=admin, incident_in={
        "slug": "rewards-journey", "title": "Rewards system breach", "company": "Journey Test Ltd"})
    types = [{"data_type": t, "count": 1_100_000} for t in ("name", "email", "payment_card")]
    for best in (1_200_000, 1_350_000):
        record_revision(engine, actor=architect, incident_id=incident.id, revision_in={
            "low": best - 100_000, "best": best, "high": best + 50_000, "data_types": types})
    phases = {r.key: r for r in comms.phase_progress(engine, actor=pr, incident_id=incident.id).itertuples()}
    alignment = comms.save_message(engine, actor=pr, phase_id=phases["internal_alignment"].phase_id,
                                   subject="Agreed facts", body="Agreed facts for the rewards incident.",
                                   base_number=None)
    for role in ("legal", "pr"):
        comms.sign_off(engine, actor=actor_with(Role(role)), message_version_id=alignment.id, role=role,
                       decision="approve")
    for status in ("in review", "approved"):
        current = comms.phase_progress(engine, actor=pr, incident_id=incident.id).set_index("key")
        comms.transition_phase(engine, actor=pr, phase_id=phases["internal_alignment"].phase_id, to_status=status,
                               expected_version=int(current.loc["internal_alignment", "version"]))
    engine.dispose()
    return incident.id


def _open_notice(page, base_url, who):
    """Open the notice as `who`: sign in, unless this browser is still signed in (sessions survive
    a fresh load)."""
    page.goto(base_url)
    email = page.get_by_role("textbox", name="Email")
    expect(email.or_(page.get_by_role("heading", name="Rewards system breach"))).to_be_visible(timeout=TIMEOUT)
    if email.is_visible():
        _sign_in(page, base_url, *who)
    expect(page.get_by_role("heading", name="Rewards system breach")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Communications").click()
    expect(page.get_by_role("heading", name="Communications")).to_be_visible(timeout=TIMEOUT)
    _choose_notice(page)


def _choose_notice(page):
    page.get_by_role("combobox", name="Phase").click()
    page.get_by_role("option", name="2. Initial notice").click()
    expect(page.get_by_role("combobox", name="Phase")).to_have_value(re.compile("Initial notice"), timeout=TIMEOUT)


def _sign(page, version):
    page.get_by_role("tab", name="Sign-offs").click()
    page.get_by_role("button", name=f"Sign version {version}").click()
    try:
        expect(page.get_by_text(f"Signed version {version}").first).to_be_visible(timeout=TIMEOUT)
    except AssertionError:
        page.screenshot(path="/tmp/sign-failure.png", full_page=True)
        raise


def _executive_signs(url: str, number: int) -> None:
    """The executive's sign-off (the approval policy keeps Executive on the initial notice),
    through the service: this journey is about PR and Legal in the browser."""
    engine = make_engine(url)
    with engine.connect() as connection:
        version_id = connection.execute(text(
            "SELECT m.id FROM message_versions m JOIN comms_phases p ON p.id = m.phase_id "
            "JOIN incidents i ON i.id = p.incident_id WHERE i.slug = 'rewards-journey' "
            "AND p.key = 'initial_notice' AND m.number = :n"), {"n": number}).scalar()
    comms.sign_off(engine, actor=actor_with(Role.executive), message_version_id=version_id, role="executive",
                   decision="approve")
    engine.dispose()


def _set_message(page, body):
    box = page.get_by_label("Message", exact=True)
    box.fill(body)
    box.press("Tab")
    page.wait_for_timeout(800)


def test_comms_journey(browser, demo_server, artifacts):
    incident_id = _journey_incident(demo_server.database_url)

    def new_page():
        context = browser.new_context(viewport={"width": 1400, "height": 2000})
        page = context.new_page()
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        return page

    pr = new_page()
    _open_notice(pr, demo_server.url, PR)
    pr.get_by_role("tab", name="Draft").click()
    pr.get_by_label("Subject", exact=True).fill("Important notice about your rewards account")
    _set_message(pr, DRAFT + "\n<script>alert('x')</script>")
    expect(pr.get_by_text("exfiltration").first).to_be_visible(timeout=TIMEOUT)
    expect(pr.get_by_text("matches revision 1").first).to_be_visible()
    pr.get_by_text("Preview (shown as plain text, exactly as saved)").click()
    expect(pr.get_by_text("<script>alert('x')</script>").first).to_be_visible(timeout=TIMEOUT)  # shown, not run
    pr.screenshot(path=str(artifacts / "e2e-comms-1-draft-flagged.png"), full_page=True)

    fixed = DRAFT.replace("Our team saw exfiltration of records.", "Records were copied out of our systems.") \
        .replace("1,200,000", "1,350,000")
    _set_message(pr, fixed)
    expect(pr.get_by_text("matches revision 1")).to_have_count(0, timeout=TIMEOUT)
    expect(pr.get_by_text("exfiltration")).to_have_count(0)
    pr.get_by_role("button", name="Save as new version").click()
    expect(pr.get_by_text("Saved version 1").first).to_be_visible(timeout=TIMEOUT)
    pr.screenshot(path=str(artifacts / "e2e-comms-2-fixed-saved.png"), full_page=True)

    legal = new_page()
    _open_notice(legal, demo_server.url, LEGAL)
    _sign(legal, 1)
    _executive_signs(demo_server.database_url, 1)
    _sign(pr, 1)
    expect(pr.get_by_text("Every required role has approved this exact text.")).to_be_visible(timeout=TIMEOUT)
    pr.screenshot(path=str(artifacts / "e2e-comms-3-approved.png"), full_page=True)

    architect = new_page()
    _sign_in(architect, demo_server.url, *ARCHITECT)
    architect.get_by_test_id("stSidebar").get_by_role("link", name="Scope & exposure").click()
    architect.get_by_role("tab", name="Record a revision").click()
    for label, value in (("High", 1_450_000), ("Best", 1_400_000)):
        field = architect.get_by_role("spinbutton", name=label, exact=True)
        field.fill(str(value))
        field.press("Tab")
    architect.get_by_label("Why the estimate changed").fill("More export batches decoded")
    architect.get_by_role("button", name="Record revision").click()
    expect(architect.get_by_text("Recorded revision 3").first).to_be_visible(timeout=TIMEOUT)

    _open_notice(pr, demo_server.url, PR)  # a fresh load, as a person would
    pr.get_by_role("tab", name="Sign-offs").click()
    expect(pr.get_by_text(re.compile(r"^Awaiting: Legal \(approval went stale: re-confirm\), "
                                     r"PR \(approval went stale: re-confirm\), Executive")).first).to_be_visible(
        timeout=TIMEOUT)
    expect(pr.get_by_role("tabpanel", name="Sign-offs").get_by_test_id("stDataFrame")).to_contain_text(
        re.compile(r"All affected changed from .*1,350,000.* to .*1,400,000"))
    pr.screenshot(path=str(artifacts / "e2e-comms-4-stale.png"), full_page=True)

    pr.get_by_role("tab", name="Draft").click()
    _set_message(pr, fixed.replace("1,350,000", "1,400,000"))
    pr.get_by_role("button", name="Save as new version").click()
    expect(pr.get_by_text("Saved version 2").first).to_be_visible(timeout=TIMEOUT)
    _open_notice(legal, demo_server.url, LEGAL)
    _sign(legal, 2)
    _executive_signs(demo_server.database_url, 2)
    _sign(pr, 2)
    pr.get_by_role("tab", name="Status & sending").click()
    for status in ("in review", "approved"):
        pr.get_by_role("button", name=f"Move to “{status}”").click()
        expect(pr.get_by_text(f"Initial notice is now {status}").first).to_be_visible(timeout=TIMEOUT)
        pr.get_by_role("tab", name="Status & sending").click()
    pr.get_by_role("button", name="Mark version 2 sent").click()
    expect(pr.get_by_text("Initial notice marked sent").first).to_be_visible(timeout=TIMEOUT)
    pr.get_by_role("tab", name="Status & sending").click()
    pr.screenshot(path=str(artifacts / "e2e-comms-5-sent.png"), full_page=True)
    assert pr.dialogs == [] and legal.dialogs == [], "markup in a message must not run"

    engine = make_engine(demo_server.database_url)
    with engine.connect() as connection:
        titles = connection.execute(text("SELECT title FROM timeline_events WHERE incident_id = :i ORDER BY id"),
                                    {"i": incident_id}).scalars().all()
        actions = connection.execute(text("SELECT action FROM audit_events WHERE incident_id = :i ORDER BY id"),
                                     {"i": incident_id}).scalars().all()
    engine.dispose()
    assert {"Legal approved Initial notice v1", "PR approved Initial notice v2",
            "Initial notice v2 sent to customers by email, web notice"} <= set(titles)
    assert actions.count("comms.signed_off") == 8 and actions.count("comms.message_saved") == 3
    assert actions[-1] == "comms.sent"
    for page in (pr, legal, architect):
        page.context.close()
