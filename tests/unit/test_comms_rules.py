from datetime import datetime, timedelta, timezone

from breachdash.comms.models import PhaseStatus as S
from breachdash.comms.rules import SignOffView, missing_sign_offs, transition_problem

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _sign(role, decision="approve", sha="h1", minutes=0):
    return SignOffView(role=role, signer=f"{role}@x.example", decision=decision, content_sha256=sha,
                       signed_at=T0 + timedelta(minutes=minutes))


def test_missing_sign_offs__approval_binds_to_exact_text():
    sign_offs = [_sign("legal", sha="old"), _sign("pr", sha="h1")]
    assert missing_sign_offs(content_sha256="h1", required_roles=["legal", "pr"], sign_offs=sign_offs) == ["legal"]


def test_missing_sign_offs__latest_decision_per_role_counts():
    sign_offs = [_sign("legal", minutes=0), _sign("legal", "request changes", minutes=5)]
    assert missing_sign_offs(content_sha256="h1", required_roles=["legal"], sign_offs=sign_offs) == ["legal"]


def _problem(current, target, *, version=1, missing=(), audience="customers", aligned=True):
    return transition_problem(current=current, target=target, latest_version_number=version,
                              missing_roles=list(missing), audience=audience, alignment_done=aligned)


def test_transition__skipping_a_step_is_refused_with_reason():
    assert "can move to drafting, not sent" in _problem(S.not_started, S.sent)


def test_transition__approval_needs_every_required_role():
    assert _problem(S.in_review, S.approved, version=3, missing=["legal"]) == \
        "blocked: Legal has not approved version 3"


def test_transition__no_customer_contact_before_internal_alignment():
    assert "internal alignment" in _problem(S.approved, S.sent, aligned=False)
    assert _problem(S.approved, S.sent, audience="internal", aligned=False) is None


def test_transition__review_needs_a_draft():
    assert "no message draft" in _problem(S.drafting, S.in_review, version=None)


def test_transition__allowed_moves_pass():
    assert _problem(S.in_review, S.approved) is None
    assert _problem(S.approved, S.drafting) is None
