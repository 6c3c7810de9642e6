"""Communication rules through the services: exact-text approvals, stale approvals, races,
placeholders, and no customer contact before internal alignment."""
import threading

import pytest

from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.comms import service as comms
from breachdash.errors import Conflict, InvalidInput, PermissionDenied, PolicyRefused
from breachdash.incidents.service import create_incident
from breachdash.scope.service import record_revision
from tests.conftest import actor_with

PR = actor_with(Role.pr, email="sam@x.example")
LEGAL = actor_with(Role.legal, email="priya@x.example")
EXEC = actor_with(Role.executive, email="dana@x.example")
ARCH = actor_with(Role.architect, email="lena@x.example")
NOTICE = ("Dear customer, we found an unauthorised access to our systems on 18 November. About 2,000 customers "
          "are affected. Your name and email address may be involved. We have stopped the access. Please watch "
          "your statements. Call us on 0800 000 0000.")


@pytest.fixture
def setup(engine):
    incident = create_incident(engine, actor=system_actor(), incident_in={"slug": "comms", "title": "T", "company": "Acme"})
    record_revision(engine, actor=ARCH, incident_id=incident.id, revision_in={
        "low": 1900, "best": 2000, "high": 2100,
        "data_types": [{"data_type": "name", "count": 2000}, {"data_type": "email", "count": 2000}]})
    phases = {r.key: r for r in comms.phase_progress(engine, actor=PR, incident_id=incident.id).itertuples()}
    return incident, phases


def _version(engine, incident, key):
    progress = comms.phase_progress(engine, actor=PR, incident_id=incident.id)
    return int(progress.loc[progress["key"] == key, "version"].iloc[0])


def _approve_all(engine, version, roles=(("legal", LEGAL), ("pr", PR), ("executive", EXEC))):
    for role, actor in roles:
        comms.sign_off(engine, actor=actor, message_version_id=version.id, role=role, decision="approve")


def _align(engine, incident, phases):
    text = comms.save_message(engine, actor=PR, phase_id=phases["internal_alignment"].phase_id, subject="facts",
                              body="Agreed facts.", base_number=None)
    _approve_all(engine, text, (("legal", LEGAL), ("pr", PR)))
    for status in ("in review", "approved"):
        comms.transition_phase(engine, actor=PR, phase_id=phases["internal_alignment"].phase_id, to_status=status,
                               expected_version=_version(engine, incident, "internal_alignment"))


def test_checks_are_recorded_with_each_version(engine, setup):
    incident, phases = setup
    version = comms.save_message(engine, actor=PR, phase_id=phases["initial_notice"].phase_id, subject="Notice",
                                 body=NOTICE.replace("About 2,000", "About 1,500") + " Exfiltration happened.",
                                 base_number=None)
    warnings = version.checks["warnings"]
    assert any("exfiltration" in w for w in warnings)
    assert any("1,500 is outside the current figures" in w for w in warnings)


def test_new_version_voids_approvals_and_stale_facts_block_approval(engine, setup):
    incident, phases = setup
    phase_id = phases["initial_notice"].phase_id
    v1 = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="Notice", body=NOTICE, base_number=None)
    _approve_all(engine, v1)
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["missing"] == []
    record_revision(engine, actor=ARCH, incident_id=incident.id, revision_in={
        "low": 2900, "best": 3000, "high": 3100,
        "data_types": [{"data_type": "name", "count": 3000}, {"data_type": "email", "count": 3000}]})
    detail = comms.phase_detail(engine, actor=PR, phase_id=phase_id)
    assert set(detail["missing"]) == {"Legal", "PR", "Executive"}
    assert detail["sign_offs"]["standing"].str.contains(
        "All affected changed from 1,900–2,100 individuals (best 2,000) to 2,900–3,100 individuals (best 3,000)",
        regex=False).all()
    v2 = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="Notice",
                            body=NOTICE.replace("2,000", "3,000"), base_number=v1.number)
    with pytest.raises(Conflict, match="superseded by version 2"):
        comms.sign_off(engine, actor=LEGAL, message_version_id=v1.id, role="legal", decision="approve")
    _approve_all(engine, v2)
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["missing"] == []


def test_only_holders_sign_and_one_person_with_two_roles_cannot_sign_for_both(engine, setup):
    incident, phases = setup
    version = comms.save_message(engine, actor=PR, phase_id=phases["initial_notice"].phase_id, subject="N",
                                 body=NOTICE, base_number=None)
    with pytest.raises(PermissionDenied, match="does not hold the role Legal"):
        comms.sign_off(engine, actor=PR, message_version_id=version.id, role="legal", decision="approve")
    both = actor_with(Role.legal, Role.pr, email="both@x.example")
    comms.sign_off(engine, actor=both, message_version_id=version.id, role="legal", decision="approve")
    with pytest.raises(PolicyRefused, match="Legal and PR sign-offs must come from different people"):
        comms.sign_off(engine, actor=both, message_version_id=version.id, role="pr", decision="approve")
    with pytest.raises(Conflict, match="already signed"):
        comms.sign_off(engine, actor=both, message_version_id=version.id, role="legal", decision="approve")
    assert comms.phase_detail(engine, actor=PR, phase_id=phases["initial_notice"].phase_id)["missing"] == [
        "PR", "Executive"]


def test_no_customer_contact_before_alignment_and_placeholders_block_sending(engine, setup):
    incident, phases = setup
    phase_id = phases["initial_notice"].phase_id
    version = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="N", body=NOTICE + " {{contact_line}}",
                                 base_number=None)
    _approve_all(engine, version)
    for status in ("in review", "approved"):
        comms.transition_phase(engine, actor=PR, phase_id=phase_id, to_status=status,
                               expected_version=_version(engine, incident, "initial_notice"))
    with pytest.raises(Conflict, match="placeholders"):
        comms.mark_sent(engine, actor=PR, phase_id=phase_id, channels=["email"],
                        expected_version=_version(engine, incident, "initial_notice"))
    clean = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="N", body=NOTICE,
                               base_number=version.number)
    _approve_all(engine, clean)
    with pytest.raises(Conflict, match="internal alignment"):
        comms.mark_sent(engine, actor=PR, phase_id=phase_id, channels=["email"],
                        expected_version=_version(engine, incident, "initial_notice"))
    _align(engine, incident, phases)
    records = comms.mark_sent(engine, actor=PR, phase_id=phase_id, channels=["email", "web notice"],
                              expected_version=_version(engine, incident, "initial_notice"))
    assert [r.channel for r in records] == ["email", "web notice"]


def test_two_people_approving_at_once_both_count_and_neither_is_lost(engine, setup):
    incident, phases = setup
    version = comms.save_message(engine, actor=PR, phase_id=phases["initial_notice"].phase_id, subject="N",
                                 body=NOTICE, base_number=None)
    errors = []

    def approve(role, actor):
        try:
            comms.sign_off(engine, actor=actor, message_version_id=version.id, role=role, decision="approve")
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=args) for args in (("legal", LEGAL), ("pr", PR))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert comms.phase_detail(engine, actor=PR, phase_id=phases["initial_notice"].phase_id)["missing"] == ["Executive"]


def test_large_message_and_markup_are_stored_as_text(engine, setup):
    incident, phases = setup
    body = NOTICE + " <script>alert(1)</script> ![x](http://evil.example/a.png) " + "a" * 100_000
    version = comms.save_message(engine, actor=PR, phase_id=phases["initial_notice"].phase_id, subject="N", body=body,
                                 base_number=None)
    assert version.body == body
    with pytest.raises(InvalidInput, match="200,000"):
        comms.save_message(engine, actor=PR, phase_id=phases["initial_notice"].phase_id, subject="N",
                           body="b" * 200_001, base_number=version.number)


def test_template_fills_live_facts_and_leaves_unknown_values_as_placeholders(engine, setup):
    incident, _ = setup
    subject, body = comms.fill_template(engine, actor=PR, incident_id=incident.id, template_key="follow_up")
    assert "2,000" in body and "{{contact_line}}" in body and "Acme incident" in subject
    _, filled = comms.fill_template(engine, actor=PR, incident_id=incident.id, template_key="follow_up",
                                    contact_line="call 0800 000 0000")
    assert "{{" not in filled.replace("{{detected_date}}", "")


def test_phase_plan_is_editable_per_incident_and_stale_edits_are_refused(engine, setup):
    from breachdash.errors import StaleUpdate

    incident, phases = setup
    phase_id = phases["initial_notice"].phase_id
    with pytest.raises(PolicyRefused, match="Executive must sign Initial notice"):
        comms.update_phase(engine, actor=LEGAL, phase_id=phase_id, expected_version=1,
                           phase_in={"required_roles": ["legal", "pr"], "channels": ["email", "postal letter"]})
    comms.update_phase(engine, actor=LEGAL, phase_id=phase_id, expected_version=1,
                       phase_in={"channels": ["email", "postal letter"]})
    with pytest.raises(StaleUpdate, match="priya@x.example"):
        comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=1, phase_in={"name": "First notice"})
    with pytest.raises(InvalidInput, match="at least one role"):
        comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=2, phase_in={"required_roles": []})
    version = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="N", body=NOTICE, base_number=None)
    _approve_all(engine, version, (("legal", LEGAL), ("pr", PR)))
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["missing"] == ["Executive"]


def test_reapproval__stale_approvals_reconfirmed_on_the_same_text_then_sent(engine, setup):
    """Issue 16.1: a revision makes approved text stale; each approver re-confirms the same
    version (no new version), the re-confirmation is audited, and the phase can be sent."""
    from sqlalchemy import text

    incident, phases = setup
    phase_id = phases["initial_notice"].phase_id
    _align(engine, incident, phases)
    v1 = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="Notice", body=NOTICE, base_number=None)
    _approve_all(engine, v1)
    for status in ("in review", "approved"):
        comms.transition_phase(engine, actor=PR, phase_id=phase_id, to_status=status,
                               expected_version=_version(engine, incident, "initial_notice"))
    # The figures change, the data types do not: the text ("about 2,000") may still hold; approvers judge.
    record_revision(engine, actor=ARCH, incident_id=incident.id, revision_in={
        "low": 1950, "best": 2000, "high": 2300,
        "data_types": [{"data_type": "name", "count": 2000}, {"data_type": "email", "count": 2000}]})
    detail = comms.phase_detail(engine, actor=PR, phase_id=phase_id)
    assert set(detail["missing"]) == {"Legal", "PR", "Executive"}
    assert {r["role"] for r in detail["reconfirm"]} == {"legal", "pr", "executive"}
    assert detail["status_shown"].startswith("approved — stale:")
    progress = comms.phase_progress(engine, actor=PR, incident_id=incident.id).set_index("key")
    assert progress.loc["initial_notice", "status"] == "approved"
    assert "re-confirm" in progress.loc["initial_notice", "status_shown"]
    with pytest.raises(Conflict, match="went stale when the facts changed: each must re-confirm version 1"):
        comms.mark_sent(engine, actor=PR, phase_id=phase_id, channels=["email"],
                        expected_version=_version(engine, incident, "initial_notice"))

    # Nobody re-confirms what they never signed; a re-confirmation stands, so a second is refused.
    with pytest.raises(Conflict, match="no approval of version 1 as Legal to re-confirm"):
        comms.reconfirm_sign_off(engine, actor=actor_with(Role.legal, email="other@x.example"),
                                 message_version_id=v1.id, role="legal")
    for role, actor in (("legal", LEGAL), ("pr", PR)):
        comms.reconfirm_sign_off(engine, actor=actor, message_version_id=v1.id, role=role,
                                 expected_sha256=v1.content_sha256)
    with pytest.raises(Conflict, match="already signed version 1 as Legal"):
        comms.reconfirm_sign_off(engine, actor=LEGAL, message_version_id=v1.id, role="legal")
    detail = comms.phase_detail(engine, actor=PR, phase_id=phase_id)
    assert detail["missing"] == ["Executive"] and [r["role"] for r in detail["reconfirm"]] == ["executive"]
    # The executive re-confirms through the ordinary sign-off too (an approval of the same text).
    comms.sign_off(engine, actor=EXEC, message_version_id=v1.id, role="executive", decision="approve")
    detail = comms.phase_detail(engine, actor=PR, phase_id=phase_id)
    assert detail["missing"] == [] and detail["reconfirm"] == [] and detail["status_shown"] == "approved"
    standing = detail["sign_offs"]["standing"].tolist()
    assert standing.count("superseded: re-confirmed against newer facts") == 3 and standing.count("current") == 3

    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT role, content_sha256, facts_revision_seq FROM sign_offs WHERE message_version_id = :v "
            "ORDER BY id"), {"v": v1.id}).all()
        audited = connection.execute(text(
            "SELECT count(*) FROM audit_events WHERE action = 'comms.sign_off_reconfirmed'")).scalar()
        versions = connection.execute(text("SELECT count(*) FROM message_versions WHERE phase_id = :p"),
                                      {"p": phase_id}).scalar()
    assert versions == 1 and audited == 3
    assert {r.content_sha256 for r in rows} == {v1.content_sha256}
    assert sorted(r.facts_revision_seq for r in rows) == [1, 1, 1, 2, 2, 2]

    records = comms.mark_sent(engine, actor=PR, phase_id=phase_id, channels=["email"],
                              expected_version=_version(engine, incident, "initial_notice"))
    assert [r.message_version_id for r in records] == [v1.id]
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["phase"].status == "sent"
