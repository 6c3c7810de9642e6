"""Every write service, called as each role: allowed roles succeed, the others are refused."""
from datetime import timedelta

import pytest

from breachdash.audit.service import audit_frame
from breachdash.auth.models import Role
from breachdash.auth.rules import Action, system_actor
from breachdash.auth.service import add_user
from breachdash.comms import service as comms
from breachdash.common import utcnow
from breachdash.errors import PermissionDenied
from breachdash.incidents.service import create_incident, get_incident, set_milestone, update_incident
from breachdash.obligations.service import add_obligation
from breachdash.outreach.service import customer_history, record_outreach
from breachdash.reviews.service import start_review
from breachdash.remediation.service import add_action, set_action_status
from breachdash.scope.service import record_revision
from breachdash.timeline.service import add_event
from breachdash.transfer import export_incident, import_incident
from tests.conftest import actor_with

# The specification, written out independently of breachdash.auth.rules.PERMISSIONS.
EXPECTED = {
    Action.manage_users: {"admin"},
    Action.create_incident: {"admin", "executive"},
    Action.update_incident: {"admin", "executive", "legal"},
    Action.import_incident: {"admin"},
    Action.export_incident: {"admin", "legal"},
    Action.revise_scope: {"architect"},
    Action.record_timeline_event: {"architect", "legal"},
    Action.set_milestone: {"architect", "legal"},
    Action.manage_actions: {"architect", "legal", "executive"},
    Action.edit_phase_plan: {"pr", "legal"},
    Action.decide_approver_change: {"executive", "pr", "legal"},
    Action.edit_checklist: {"executive", "pr", "legal", "architect"},
    Action.draft_message: {"pr", "legal"},
    Action.sign_off: {"executive", "pr", "legal"},
    Action.mark_sent: {"pr"},
    Action.record_outreach: {"pr"},
    Action.lookup_customer: {"pr"},
    Action.start_review: {"executive", "pr", "legal", "architect"},
    Action.manage_obligations: {"legal"},
    Action.view_audit: {"admin", "executive", "legal"},
}


def _context(engine):
    system = system_actor()
    incident = create_incident(engine, actor=system, incident_in={"slug": "matrix", "title": "T", "company": "C"})
    phases = {row.key: row for row in comms.phase_progress(engine, actor=system, incident_id=incident.id).itertuples()}
    for key in ("internal_alignment", "initial_notice"):
        version = comms.save_message(engine, actor=system, phase_id=phases[key].phase_id, subject="s", body=f"{key} text",
                                     base_number=None)
        # The policy wants Legal, PR (and Executive) sign-offs from different people.
        for role in ("legal", "pr", "executive") if key == "initial_notice" else ("legal", "pr"):
            comms.sign_off(engine, actor=actor_with(Role(role), email=f"matrix-{role}@x.example"),
                           message_version_id=version.id, role=role, decision="approve")
        for status in ("in review", "approved"):
            current = comms.phase_progress(engine, actor=system, incident_id=incident.id)
            phase_version = int(current.loc[current["key"] == key, "version"].iloc[0])
            comms.transition_phase(engine, actor=system, phase_id=phases[key].phase_id, to_status=status,
                                   expected_version=phase_version)
    from breachdash.comms.models import ChecklistItem
    from sqlmodel import Session, select

    with Session(engine) as session:
        items = session.exec(select(ChecklistItem).order_by(ChecklistItem.id)).all()
    return {"incident": incident, "phases": phases, "items": items, "notice_version": version}


def _phase_version(engine, incident_id, key):
    current = comms.phase_progress(engine, actor=system_actor(), incident_id=incident_id)
    return int(current.loc[current["key"] == key, "version"].iloc[0])


def _latest_number(engine, phase_id):
    latest = comms.phase_detail(engine, actor=system_actor(), phase_id=phase_id)["latest"]
    return latest.number if latest else None


def _propose_added_architect(engine, incident_id, key, phase_id) -> int:
    """A pending proposal (by a PR person) to add the Architect to a phase's approvers, or the one
    already pending; returns its id."""
    pending = comms.phase_detail(engine, actor=system_actor(), phase_id=phase_id)["approver_change"]
    if pending is None:
        comms.update_phase(engine, actor=actor_with(Role.pr, email="proposer@x.example"), phase_id=phase_id,
                           expected_version=_phase_version(engine, incident_id, key),
                           phase_in={"required_roles": ["legal", "pr", "architect"]})
        pending = comms.phase_detail(engine, actor=system_actor(), phase_id=phase_id)["approver_change"]
    return pending.id


def _call(action, engine, actor, role, ctx, index):
    incident_id = ctx["incident"].id
    phases = ctx["phases"]
    if action == Action.manage_users:
        add_user(engine, actor=actor, user_in={"email": f"new-{role}@x.example", "roles": ["pr"]})
    elif action == Action.create_incident:
        create_incident(engine, actor=actor, incident_in={"slug": f"inc-{role}", "title": "T", "company": "C"})
    elif action == Action.update_incident:
        current = get_incident(engine, actor=system_actor(), incident_id=incident_id)
        update_incident(engine, actor=actor, incident_id=incident_id, expected_version=current.version,
                        incident_in={"summary": f"by {role}"})
    elif action == Action.import_incident:
        document = export_incident(engine, actor=system_actor(), incident_id=incident_id)
        document["incident"]["slug"] = f"imported-{role}"
        import_incident(engine, actor=actor, document=document)
    elif action == Action.export_incident:
        export_incident(engine, actor=actor, incident_id=incident_id)
    elif action == Action.revise_scope:
        record_revision(engine, actor=actor, incident_id=incident_id, revision_in={"low": 1, "best": 2, "high": 3})
    elif action == Action.record_timeline_event:
        add_event(engine, actor=actor, incident_id=incident_id, event_in={
            "occurred_at": utcnow() - timedelta(hours=1), "kind": "other", "title": f"by {role}"})
    elif action == Action.set_milestone:
        current = get_incident(engine, actor=system_actor(), incident_id=incident_id)
        set_milestone(engine, actor=actor, incident_id=incident_id, milestone="contained_at",
                      at=utcnow() - timedelta(hours=index + 1), expected_version=current.version)
    elif action == Action.manage_actions:
        item = add_action(engine, actor=actor, incident_id=incident_id,
                          action_in={"action": f"Patch by {role}", "owner_role": "architect"})
        set_action_status(engine, actor=actor, action_id=item.id, status="done", expected_version=item.version)
    elif action == Action.edit_phase_plan:
        key = ["detailed_follow_up", "remediation_update", "closure_review", "detailed_follow_up",
               "remediation_update"][index]
        comms.transition_phase(engine, actor=actor, phase_id=phases[key].phase_id, to_status="drafting",
                               expected_version=_phase_version(engine, incident_id, key))
    elif action == Action.decide_approver_change:
        key = ["detailed_follow_up", "remediation_update", "closure_review"][index % 3]
        change = _propose_added_architect(engine, incident_id, key, phases[key].phase_id)
        comms.reject_approver_change(engine, actor=actor, change_id=change)
    elif action == Action.edit_checklist:
        item = ctx["items"][index]
        comms.set_checklist_item(engine, actor=actor, item_id=item.id, done=True, expected_version=item.version)
    elif action == Action.draft_message:
        comms.save_message(engine, actor=actor, phase_id=phases["closure_review"].phase_id, subject="s",
                           body=f"draft by {role}", base_number=_latest_number(engine, phases["closure_review"].phase_id))
    elif action == Action.sign_off:
        comms.sign_off(engine, actor=actor, message_version_id=ctx["notice_version"].id, role=role, decision="approve")
    elif action == Action.mark_sent:
        comms.mark_sent(engine, actor=actor, phase_id=phases["initial_notice"].phase_id, channels=["email"],
                        expected_version=_phase_version(engine, incident_id, "initial_notice"))
    elif action == Action.record_outreach:
        record_outreach(engine, actor=actor, phase_id=phases["initial_notice"].phase_id,
                        counts_in={"channel": "email", "region": "DE", "targeted": 10, "sent": 5})
    elif action == Action.lookup_customer:
        customer_history(engine, actor=actor, incident_id=incident_id, customer_id="cus_unknown")
    elif action == Action.start_review:
        start_review(engine, actor=actor, incident_id=incident_id)
    elif action == Action.manage_obligations:
        add_obligation(engine, actor=actor, incident_id=incident_id, obligation_in={
            "rule_id": f"rule-{role}", "jurisdiction": "EU", "regime": "GDPR", "recipient": "regulator"})
    elif action == Action.view_audit:
        audit_frame(engine, actor=actor)
    else:  # pragma: no cover - a new Action must be added here
        raise AssertionError(f"no call for {action}")


def test_expected_matrix_covers_every_action():
    assert set(EXPECTED) == set(Action)


def test_every_write_service_allows_exactly_the_expected_roles(engine):
    ctx = _context(engine)
    mismatches = []
    for action in EXPECTED:
        for index, role in enumerate(Role):
            actor = actor_with(role)
            try:
                _call(action, engine, actor, role.value, ctx, index)
                allowed = True
            except PermissionDenied:
                allowed = False
            if allowed != (role.value in EXPECTED[action]):
                mismatches.append(f"{action} as {role.value}: {'allowed' if allowed else 'denied'}")
    assert mismatches == []


def test_signed_out_actor_is_refused_everywhere(engine):
    ctx = _context(engine)
    for index, action in enumerate(EXPECTED):
        with pytest.raises(PermissionDenied):
            _call(action, engine, None, "none", ctx, 0)
