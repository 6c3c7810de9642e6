"""Issue 16: audit entries read as sentences; the code and JSON stay available elsewhere."""
from breachdash.audit.rules import ACTION_WORDS, action_words, describe_event


def test_describe_event__who_did_what_with_the_recorded_detail():
    assert describe_event(actor="architect@x.example", action="timeline.event_added",
                          after={"title": "VPN account disabled", "kind": "containment"}) == \
        "architect@x.example added a timeline entry (“VPN account disabled”)."
    assert describe_event(actor="admin@x.example", action="user.role_granted",
                          after={"email": "pat@x.example", "role": "legal"}) == \
        "admin@x.example granted a role (pat@x.example)."
    assert describe_event(actor="pr@x.example", action="comms.sent", after=None) == "pr@x.example marked a message as sent."


def test_describe_event__long_detail_is_cut_and_unknown_codes_read_as_words():
    sentence = describe_event(actor="a@x", action="timeline.event_added", after={"title": "t" * 500})
    assert len(sentence) < 160 and "…" in sentence
    assert action_words("reports.thing_done") == "reports: thing done"


def test_every_action_the_services_record_has_words():
    import pathlib
    import re

    recorded = set()
    for path in pathlib.Path("breachdash").rglob("*.py"):
        recorded |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    recorded |= {f"comms.approvers_{status}" for status in ("approved", "rejected", "withdrawn")}
    assert recorded - set(ACTION_WORDS) == set()
