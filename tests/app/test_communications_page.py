"""AppTest for the Communications page: phases, live checks while drafting, versions, sign-offs."""
from sqlalchemy import text

from breachdash.db import make_engine
from tests.app.test_pages import _app


def _page(email, phase_key=None, url=None):
    at = _app(email)
    at.switch_page("pages/communications.py").run()
    assert not at.exception, [e.value for e in at.exception]
    if phase_key:
        engine = make_engine(url)
        with engine.connect() as connection:
            phase_id = connection.execute(text("SELECT id FROM comms_phases WHERE key = :k"), {"k": phase_key}).scalar()
        engine.dispose()
        at.selectbox(key="comms_phase").set_value(phase_id).run()
        assert not at.exception
        return at, phase_id
    return at, None


def test_communications_page__phase_table_matches_the_record(demo_url):
    at, _ = _page("ceo@demo.example")
    table = next(d.value for d in at.dataframe if "approvals_missing" in d.value.columns)
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        statuses = dict(connection.execute(text("SELECT name, status FROM comms_phases")).all())
    engine.dispose()
    # The status as stored, with a note where an approved phase's approvals no longer all stand.
    assert {phase: status.split(" — ")[0] for phase, status in zip(table["phase"], table["status"])} == statuses


def test_communications_page__live_checks_flag_jargon_and_an_outdated_number(demo_url):
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        old_best = connection.execute(text("SELECT best FROM scope_revisions WHERE seq = 2")).scalar()
    engine.dispose()
    at, phase_id = _page("pr@demo.example", "detailed_follow_up", demo_url)
    at.text_area(key=f"body_{phase_id}").set_value(
        f"Dear customer, our SOC saw exfiltration on 18 November. About {old_best:,} customers are affected.").run()
    warnings = [w.value for w in at.warning]
    assert any("exfiltration" in w for w in warnings)
    assert any(f"{old_best:,} matches revision 2" in w for w in warnings)


def test_communications_page__save_version_then_legal_signs_it(demo_url):
    at, phase_id = _page("pr@demo.example", "detailed_follow_up", demo_url)
    at.text_area(key=f"body_{phase_id}").set_value(at.text_area(key=f"body_{phase_id}").value + "\nThank you.")
    at.button(key=f"save_version_{phase_id}").click().run()
    assert not at.exception and any("Saved version 2" in s.value for s in at.success)
    legal, _ = _page("legal@demo.example", "detailed_follow_up", demo_url)
    [b for b in legal.button if b.label == "Sign version 2"][0].click().run()
    assert not legal.exception
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT s.role, s.decision, m.number FROM sign_offs s JOIN message_versions m "
            "ON m.id = s.message_version_id ORDER BY s.id DESC LIMIT 1")).one()
    engine.dispose()
    assert tuple(row) == ("legal", "approve", 2)


def _items(url, phase_id):
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, done_by, version FROM checklist_items WHERE phase_id = :p ORDER BY id"),
                                  {"p": phase_id}).all()
    engine.dispose()
    return rows


def test_communications_page__checklist_ticks_save_and_a_stale_tick_is_refused(demo_url):
    from breachdash.auth.models import Role
    from breachdash.comms.service import set_checklist_item
    from tests.conftest import actor_with

    at, phase_id = _page("pr@demo.example", "remediation_update", demo_url)
    first, second = _items(demo_url, phase_id)[:2]
    at.checkbox(key=f"tick_{phase_id}_{first.id}").check()
    [b for b in at.button if b.label == "Save checklist"][0].click().run()
    assert not at.error
    assert _items(demo_url, phase_id)[0].done_by == "pr@demo.example"

    # Someone else ticks the second item while this page still shows it unticked.
    engine = make_engine(demo_url)
    set_checklist_item(engine, actor=actor_with(Role.legal, email="other.legal@demo.example"), item_id=second.id,
                       done=True, expected_version=second.version)
    engine.dispose()
    at.checkbox(key=f"tick_{phase_id}_{second.id}").check()
    [b for b in at.button if b.label == "Save checklist"][0].click().run()
    assert any("changed by other.legal@demo.example" in e.value.replace("\\", "") for e in at.error)
    assert _items(demo_url, phase_id)[1].done_by == "other.legal@demo.example"

    [b for b in at.button if b.label == "Save checklist"][0].click().run()
    assert any("Nothing to save" in i.value for i in at.info)


def _phase_roles(url, phase_id):
    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text("SELECT required_roles FROM comms_phases WHERE id = :p"), {"p": phase_id}).scalar()
    engine.dispose()
    return value if isinstance(value, list) else __import__("json").loads(value)


def _errors(at) -> str:
    return " ".join(e.value.replace("\\", "") for e in at.error)


def test_communications_page__removing_legal_is_refused_with_the_policy_reason(demo_url):
    """Issue 19.1: PR sets "Must sign" to PR only on a customer phase; the page says why not."""
    at, phase_id = _page("pr@demo.example", "detailed_follow_up", demo_url)
    at.multiselect(key=f"plan_roles_{phase_id}").set_value(["pr"])
    [b for b in at.button if b.label == "Save plan"][0].click().run()
    assert not at.exception
    assert "refused by the approval policy: Legal must sign Detailed follow-up" in _errors(at)
    assert _phase_roles(demo_url, phase_id) == ["legal", "pr"]


def test_communications_page__approver_change_proposed_by_pr_approved_by_legal(demo_url):
    at, phase_id = _page("pr@demo.example", "detailed_follow_up", demo_url)
    at.multiselect(key=f"plan_roles_{phase_id}").set_value(["legal", "pr", "executive"])
    at.text_input(key=f"plan_roles_reason_{phase_id}").set_value("the board asked to see it")
    [b for b in at.button if b.label == "Save plan"][0].click().run()
    assert not at.exception and any("awaits a second person" in s.value for s in at.success)
    assert _phase_roles(demo_url, phase_id) == ["legal", "pr"]  # proposed, not applied
    assert [b for b in at.button if b.label == "Withdraw my proposal"]
    assert not [b for b in at.button if b.label == "Approve the change"]  # not by the proposer

    legal, _ = _page("legal@demo.example", "detailed_follow_up", demo_url)
    assert any("the board asked to see it" in t.value for t in legal.text)
    [b for b in legal.button if b.label == "Approve the change"][0].click().run()
    assert not legal.exception and not legal.error
    assert _phase_roles(demo_url, phase_id) == ["legal", "pr", "executive"]


def test_communications_page__a_stale_draft_is_refused_and_the_typed_text_kept(demo_url):
    """Issue 19.2: Legal saves a newer version while PR edits from version 1; PR's save is refused
    with who and when, PR's text stays in the box, and the page offers to reload or rebase."""
    from breachdash.auth.models import Role
    from breachdash.comms.service import save_message
    from tests.conftest import actor_with

    at, phase_id = _page("pr@demo.example", "detailed_follow_up", demo_url)
    mine = at.text_area(key=f"body_{phase_id}").value + "\nPR's addition."
    at.text_area(key=f"body_{phase_id}").set_value(mine).run()
    engine = make_engine(demo_url)
    save_message(engine, actor=actor_with(Role.legal, email="other.legal@demo.example"), phase_id=phase_id,
                 subject="Legal's subject", body="Legal's version 2.", base_number=1)
    engine.dispose()
    at.button(key=f"save_version_{phase_id}").click().run()
    assert not at.exception
    assert "changed by other.legal@demo.example at" in _errors(at) and "reload" in _errors(at)
    assert at.text_area(key=f"body_{phase_id}").value == mine
    assert {b.label for b in at.button} >= {"Reload version 2", "Keep my text, based on version 2"}
    at.button(key=f"rebase_draft_{phase_id}").click().run()
    at.button(key=f"save_version_{phase_id}").click().run()
    assert not at.exception and any("Saved version 3" in s.value for s in at.success)


def test_communications_page__stale_approvals_are_reconfirmed_then_the_phase_is_sent(demo_url):
    """Issue 16.1 in the demo: Internal alignment shows 'approved' but Legal's and PR's sign-offs went
    stale with a later revision. The page says so, offers each of them 'Re-confirm version 1',
    blocks 'Mark sent' until they have, and then PR marks it sent."""
    at, phase_id = _page("pr@demo.example", "internal_alignment", demo_url)
    table = next(d.value for d in at.dataframe if "approvals_missing" in d.value.columns)
    shown = dict(zip(table["phase"], table["status"]))["Internal alignment"]
    assert shown.startswith("approved — stale:") and "re-confirm" in shown
    send = [b for b in at.button if b.label == "Mark version 1 sent"][0]
    assert send.disabled
    assert any("approval went stale" in w.value for w in at.warning)

    for email in ("legal@demo.example", "pr@demo.example"):
        signer, _ = _page(email, "internal_alignment", demo_url)
        [b for b in signer.button if b.label == "Re-confirm version 1"][0].click().run()
        assert not signer.exception, [e.value for e in signer.exception]
        assert any("confirmed version 1" in s.value for s in signer.success), [e.value for e in signer.error]
        assert not [b for b in signer.button if b.label == "Re-confirm version 1"]

    at, phase_id = _page("pr@demo.example", "internal_alignment", demo_url)
    assert any("Every required role has approved this exact text" in s.value for s in at.success)
    send = [b for b in at.button if b.label == "Mark version 1 sent"][0]
    assert not send.disabled
    send.click().run()
    assert not at.exception, [e.value for e in at.exception]
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        status = connection.execute(text("SELECT status FROM comms_phases WHERE key = 'internal_alignment'")).scalar()
        reconfirmed = connection.execute(text(
            "SELECT count(*) FROM audit_events WHERE action = 'comms.sign_off_reconfirmed'")).scalar()
    engine.dispose()
    assert status == "sent" and reconfirmed == 2


def test_communications_page__versions_compare_as_a_word_level_redline(demo_url):
    """Issue 16: a redline, not a unified diff; message text escaped, never markup."""
    at, phase_id = _page("pr@demo.example", "detailed_follow_up", demo_url)
    at.text_area(key=f"body_{phase_id}").set_value(
        at.text_area(key=f"body_{phase_id}").value + "\nCall <b>us</b> [today](http://x.example).")
    at.button(key=f"save_version_{phase_id}").click().run()
    assert not at.exception
    at, _ = _page("legal@demo.example", "detailed_follow_up", demo_url)
    shown = "\n".join(h.proto.body for h in at.get("html"))
    assert "<ins " in shown and "&lt;b&gt;us&lt;/b&gt;" in shown and "<b>us</b>" not in shown
    assert "@@" not in shown and "+++" not in shown
    assert not any("@@" in c.value for c in at.code)
    assert any("0 words removed (struck through), 8 added (underlined)" in c.value for c in at.caption)
