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


# ---------------------------------------------------------------- word-level redline (issue 16)

def test_word_redline__a_changed_word_is_struck_then_added():
    from breachdash.comms.rules import ADDED, REMOVED, SAME, word_redline

    runs = word_redline("We learned on 3 March that your name, email were exposed.",
                        "We learned on 4 March that your name and email address were exposed.")
    assert runs == [(SAME, "We learned on "), (REMOVED, "3"), (ADDED, "4"), (SAME, " March that your name"),
                    (REMOVED, ","), (ADDED, " and"), (SAME, " email"), (ADDED, " address"),
                    (SAME, " were exposed.")]


def test_word_redline__spells_both_texts_and_counts_words():
    from breachdash.comms.rules import ADDED, REMOVED, redline_counts, word_redline

    old, new = "Dear customer,\n\nWe are sorry.\nCall us.", "Dear customer,\n\nWe are very sorry.\n\nCall us today."
    runs = word_redline(old, new)
    assert "".join(t for k, t in runs if k != ADDED) == old
    assert "".join(t for k, t in runs if k != REMOVED) == new
    assert redline_counts(runs) == (0, 2)
    assert word_redline("same", "same") == [("same", "same")] and word_redline("", "") == []


def test_redline_html__text_is_escaped_never_markup():
    from breachdash.comms.rules import word_redline
    from breachdash.display import redline_html

    shown = redline_html(word_redline("Hello [link](http://x)", "Hello <img src=x onerror=alert(1)> **bold**"))
    assert "<img" not in shown and "&lt;img" in shown and "&gt;" in shown
    assert "<del " in shown and "<ins " in shown and "**bold**" in shown and "<a " not in shown
