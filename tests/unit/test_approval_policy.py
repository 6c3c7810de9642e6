"""The approval policy as pure rules: the shipped data, who must sign, removals, one person
signing for two roles, and the two-person rule for changes to approvers."""
from datetime import datetime, timedelta, timezone

from breachdash.comms.policy import (
    approver_change_problem,
    load_policy,
    removal_problem,
    second_signature_problem,
)
from breachdash.comms.rules import SignOffView, missing_sign_offs
from breachdash.comms.service import default_plan

POLICY = load_policy()
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_policy__every_customer_facing_phase_of_the_default_plan_needs_legal_and_pr():
    for phase in default_plan()["phases"]:
        required = POLICY.required(key=phase["key"], audiences=[phase["audience"]])
        assert {"legal", "pr"} <= set(required), phase["key"]
        assert {"legal", "pr"} <= set(phase["required_roles"]), phase["key"]


def test_policy__customer_audience_needs_legal_and_pr_whatever_the_key():
    assert set(POLICY.required(key="custom_phase", audiences=["customers"])) == {"legal", "pr"}
    assert POLICY.required(key="custom_phase", audiences=["internal"]) == {}


def test_policy__the_initial_notice_keeps_the_executive():
    assert set(POLICY.required(key="initial_notice", audiences=["customers"])) == {"legal", "pr", "executive"}


def test_effective_roles__plan_roles_plus_policy_roles():
    assert POLICY.effective_roles(key="custom", audience="customers", stored=["pr"]) == ["pr", "legal"]
    assert POLICY.effective_roles(key="custom", audience="internal", stored=["architect"]) == ["architect"]


def test_removal__refused_with_the_reason_and_adding_is_free():
    problem = removal_problem(POLICY, key="detailed_follow_up", name="Detailed follow-up", audiences=["customers"],
                              new_roles=["pr"])
    assert "Legal must sign Detailed follow-up" in problem and "no customer contact" in problem
    assert removal_problem(POLICY, key="detailed_follow_up", name="x", audiences=["customers"],
                           new_roles=["legal", "pr", "architect"]) is None


def test_removal__an_audience_change_is_judged_by_the_old_audience_too():
    assert removal_problem(POLICY, key="custom", name="Custom", audiences=["customers", "internal"],
                           new_roles=["architect"]) is not None


def test_second_signature__one_person_cannot_sign_as_legal_and_pr():
    problem = second_signature_problem(POLICY, role="pr", signer="both@x", earlier=[("both@x", "legal")])
    assert "must come from different people" in problem
    assert second_signature_problem(POLICY, role="pr", signer="pr@x", earlier=[("legal@x", "legal")]) is None


def _sign(role, signer, minutes=0):
    return SignOffView(role=role, signer=signer, decision="approve", content_sha256="h",
                       signed_at=T0 + timedelta(minutes=minutes))


def test_missing_sign_offs__one_persons_approval_counts_for_one_role_only():
    sign_offs = [_sign("legal", "both@x", 0), _sign("pr", "both@x", 1)]
    assert missing_sign_offs(content_sha256="h", required_roles=["legal", "pr"], sign_offs=sign_offs,
                             different_people=["legal", "pr"]) == ["pr"]
    assert missing_sign_offs(content_sha256="h", required_roles=["legal", "pr"], sign_offs=sign_offs) == []


def test_two_person_rule__the_decider_is_someone_else_holding_another_role():
    args = dict(proposer="p@x", proposer_roles=["pr"], deciding_roles=["executive", "pr", "legal"])
    assert "second person" in approver_change_problem(**args, decider="p@x", decider_roles=["legal"])
    assert "another role" in approver_change_problem(**args, decider="q@x", decider_roles=["pr"])
    assert approver_change_problem(**args, decider="q@x", decider_roles=["legal"]) is None
    assert "another role" in approver_change_problem(**args, decider="q@x", decider_roles=["admin", "architect"])
