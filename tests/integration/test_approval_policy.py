"""The approval rule as policy (issue 19.1) through the services, on SQLite and PostgreSQL: PR
alone can no longer remove Legal's sign-off and send; approver changes need a second person
from another role; one person holding two roles cannot sign for both; and a stale draft is
refused instead of silently overwriting someone's version (19.2)."""
import pytest
from sqlmodel import Session, select

from breachdash.audit.models import AuditEvent
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.comms import service as comms
from breachdash.comms.models import ApproverChange, CommsPhase
from breachdash.errors import Conflict, PermissionDenied, PolicyRefused, StaleUpdate
from breachdash.incidents.service import create_incident
from breachdash.timeline.models import TimelineEvent
from tests.conftest import actor_with

PR = actor_with(Role.pr, email="sam@x.example")
PR2 = actor_with(Role.pr, email="pat@x.example")
LEGAL = actor_with(Role.legal, email="priya@x.example")
EXEC = actor_with(Role.executive, email="dana@x.example")
ADMIN = actor_with(Role.admin, email="root@x.example")
BOTH = actor_with(Role.legal, Role.pr, email="both@x.example")


@pytest.fixture
def phases(engine):
    incident = create_incident(engine, actor=system_actor(), incident_in={"slug": "policy", "title": "T", "company": "C"})
    return {r.key: r for r in comms.phase_progress(engine, actor=PR, incident_id=incident.id).itertuples()}


def _phase(engine, phase_id) -> CommsPhase:
    with Session(engine) as session:
        return session.get(CommsPhase, phase_id)


def _audit_actions(engine) -> list[str]:
    with Session(engine) as session:
        return session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all()


def _titles(engine) -> list[str]:
    with Session(engine) as session:
        return session.exec(select(TimelineEvent.title).order_by(TimelineEvent.id)).all()


@pytest.mark.parametrize("who", [PR, LEGAL, BOTH, system_actor(), ADMIN], ids=["pr", "legal", "both", "system", "admin"])
def test_removing_legal_from_a_customer_phase__refused_with_the_reason_whoever_asks(engine, phases, who):
    phase_id = phases["detailed_follow_up"].phase_id
    before = _audit_actions(engine)
    with pytest.raises(PolicyRefused, match="Legal must sign Detailed follow-up .*no customer contact"):
        comms.update_phase(engine, actor=who, phase_id=phase_id, expected_version=1,
                           phase_in={"required_roles": ["pr"]})
    assert _phase(engine, phase_id).required_roles == ["legal", "pr"]
    assert _audit_actions(engine) == before


def test_removing_the_executive_from_the_initial_notice__refused(engine, phases):
    with pytest.raises(PolicyRefused, match="Executive must sign Initial notice"):
        comms.update_phase(engine, actor=PR, phase_id=phases["initial_notice"].phase_id, expected_version=1,
                           phase_in={"required_roles": ["legal", "pr"]})


def test_audience_change_cannot_shed_the_policy(engine, phases):
    """Changing the audience away from customers does not let the same edit drop Legal."""
    with pytest.raises(PolicyRefused):
        comms.update_phase(engine, actor=PR, phase_id=phases["detailed_follow_up"].phase_id, expected_version=1,
                           phase_in={"audience": "internal", "required_roles": ["pr"]})


def test_issue_19_scenario__pr_alone_cannot_approve_and_send_a_customer_notice(engine, phases):
    """The review's attack, step by step: PR only, on a customer phase."""
    phase_id = phases["initial_notice"].phase_id
    with pytest.raises(PolicyRefused):
        comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=1, phase_in={"required_roles": ["pr"]})
    version = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="N", body="Notice.", base_number=None)
    comms.sign_off(engine, actor=PR, message_version_id=version.id, role="pr", decision="approve")
    comms.transition_phase(engine, actor=PR, phase_id=phase_id, to_status="in review",
                           expected_version=_phase(engine, phase_id).version)
    with pytest.raises(Conflict, match="blocked: Legal, Executive have not approved version 1"):
        comms.transition_phase(engine, actor=PR, phase_id=phase_id, to_status="approved",
                               expected_version=_phase(engine, phase_id).version)


def test_a_plan_without_legal__still_needs_legal_to_approve(engine, phases):
    """A plan stored without a policy role (an older database, an imported document) cannot
    weaken the policy: the role is required anyway."""
    phase_id = phases["detailed_follow_up"].phase_id
    with Session(engine) as session, session.begin():
        session.get(CommsPhase, phase_id).required_roles = ["pr"]
    version = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="N", body="Follow-up.", base_number=None)
    comms.sign_off(engine, actor=PR, message_version_id=version.id, role="pr", decision="approve")
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["missing"] == ["Legal"]
    comms.sign_off(engine, actor=LEGAL, message_version_id=version.id, role="legal", decision="approve")
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["missing"] == []


def test_one_person_with_legal_and_pr__cannot_approve_for_both(engine, phases):
    phase_id = phases["detailed_follow_up"].phase_id
    version = comms.save_message(engine, actor=BOTH, phase_id=phase_id, subject="N", body="Text.", base_number=None)
    comms.sign_off(engine, actor=BOTH, message_version_id=version.id, role="pr", decision="approve")
    with pytest.raises(PolicyRefused, match="already signed this version as PR"):
        comms.sign_off(engine, actor=BOTH, message_version_id=version.id, role="legal", decision="approve")
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["missing"] == ["Legal"]
    # The system identity holds every role, and is held to the same rule.
    comms.sign_off(engine, actor=system_actor(), message_version_id=version.id, role="legal", decision="approve")
    with pytest.raises(PolicyRefused):
        comms.sign_off(engine, actor=system_actor(), message_version_id=version.id, role="pr", decision="approve")


def test_approver_change__proposed_by_one_applied_when_another_role_approves(engine, phases):
    phase_id = phases["detailed_follow_up"].phase_id
    phase = comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=1,
                               phase_in={"required_roles": ["legal", "pr", "executive"], "name": "Follow-up"},
                               reason="the board wants to see it")
    assert phase.name == "Follow-up" and phase.required_roles == ["legal", "pr"]  # other fields at once
    pending = comms.phase_detail(engine, actor=PR, phase_id=phase_id)["approver_change"]
    assert (pending.from_roles, pending.to_roles, pending.proposed_by) == (["legal", "pr"], ["legal", "pr", "executive"],
                                                                        PR.email)
    with pytest.raises(PolicyRefused, match="needs a second person"):
        comms.approve_approver_change(engine, actor=PR, change_id=pending.id)
    with pytest.raises(PolicyRefused, match="another role"):
        comms.approve_approver_change(engine, actor=PR2, change_id=pending.id)
    with pytest.raises(PermissionDenied):
        comms.approve_approver_change(engine, actor=ADMIN, change_id=pending.id)
    with pytest.raises(Conflict, match="already awaits a second person"):
        comms.update_phase(engine, actor=LEGAL, phase_id=phase_id, expected_version=2,
                           phase_in={"required_roles": ["legal", "pr", "architect"]})
    comms.approve_approver_change(engine, actor=LEGAL, change_id=pending.id)
    assert _phase(engine, phase_id).required_roles == ["legal", "pr", "executive"]
    assert comms.phase_detail(engine, actor=PR, phase_id=phase_id)["approver_change"] is None
    with pytest.raises(Conflict, match="already approved by priya@x.example"):
        comms.reject_approver_change(engine, actor=EXEC, change_id=pending.id)
    actions = _audit_actions(engine)
    assert "comms.approvers_proposed" in actions and actions[-1] == "comms.approvers_approved"
    titles = _titles(engine)
    assert "Follow-up: change of who must sign proposed (Legal, PR → Legal, PR, Executive), awaiting a second person" \
        in titles
    assert titles[-1] == "Follow-up: change of who must sign (Legal, PR → Legal, PR, Executive) approved"


def test_approver_change__removing_a_non_policy_role_needs_the_second_person_too(engine, phases):
    phase_id = phases["detailed_follow_up"].phase_id
    comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=1,
                       phase_in={"required_roles": ["legal", "pr", "executive"]})
    comms.approve_approver_change(engine, actor=EXEC, change_id=_pending_id(engine, phase_id))
    version = _phase(engine, phase_id).version
    comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=version,
                       phase_in={"required_roles": ["legal", "pr"]})
    assert _phase(engine, phase_id).required_roles == ["legal", "pr", "executive"]  # not yet
    comms.reject_approver_change(engine, actor=LEGAL, change_id=_pending_id(engine, phase_id))
    assert _phase(engine, phase_id).required_roles == ["legal", "pr", "executive"]
    # The proposer may withdraw their own proposal.
    comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=version,
                       phase_in={"required_roles": ["legal", "pr"]})
    change_id = _pending_id(engine, phase_id)
    comms.reject_approver_change(engine, actor=PR, change_id=change_id)
    with Session(engine) as session:
        assert session.get(ApproverChange, change_id).status == "withdrawn"


def test_approver_change__stale_when_the_roles_changed_meanwhile(engine, phases):
    phase_id = phases["remediation_update"].phase_id
    comms.update_phase(engine, actor=PR, phase_id=phase_id, expected_version=1,
                       phase_in={"required_roles": ["legal", "pr", "executive"]})
    change_id = _pending_id(engine, phase_id)
    with Session(engine) as session, session.begin():
        session.get(CommsPhase, phase_id).required_roles = ["legal", "pr", "architect"]
    with pytest.raises(StaleUpdate, match="since this was proposed"):
        comms.approve_approver_change(engine, actor=LEGAL, change_id=change_id)


def test_approver_change__a_proposer_holding_legal_and_pr_needs_an_executive(engine, phases):
    phase_id = phases["closure_review"].phase_id
    comms.update_phase(engine, actor=BOTH, phase_id=phase_id, expected_version=1,
                       phase_in={"required_roles": ["legal", "pr", "architect"]})
    change_id = _pending_id(engine, phase_id)
    for second in (LEGAL, PR):
        with pytest.raises(PolicyRefused, match=r"another role than the proposer's \(PR, Legal\)|another role"):
            comms.approve_approver_change(engine, actor=second, change_id=change_id)
    comms.approve_approver_change(engine, actor=EXEC, change_id=change_id)
    assert _phase(engine, phase_id).required_roles == ["legal", "pr", "architect"]


def _pending_id(engine, phase_id) -> int:
    return comms.phase_detail(engine, actor=PR, phase_id=phase_id)["approver_change"].id


def test_save_message__a_stale_base_is_refused_naming_who_and_when(engine, phases):
    phase_id = phases["detailed_follow_up"].phase_id
    v1 = comms.save_message(engine, actor=PR, phase_id=phase_id, subject="S", body="one", base_number=None)
    comms.save_message(engine, actor=PR, phase_id=phase_id, subject="S", body="two by PR", base_number=v1.number)
    with pytest.raises(StaleUpdate, match=r"changed by sam@x\.example at \d{4}-\d\d-\d\d .*UTC \(version 2; you "
                                          r"started from version 1\) — reload"):
        comms.save_message(engine, actor=LEGAL, phase_id=phase_id, subject="S", body="three by Legal", base_number=1)
    with pytest.raises(StaleUpdate, match="you started from no saved version"):
        comms.save_message(engine, actor=LEGAL, phase_id=phase_id, subject="S", body="fresh", base_number=None)
    v3 = comms.save_message(engine, actor=LEGAL, phase_id=phase_id, subject="S", body="three by Legal", base_number=2)
    assert v3.number == 3
