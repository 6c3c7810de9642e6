"""No silent overwrite anywhere (issue 19.2): every write that starts from something a person was
shown refuses a stale base.

The write functions are found in the source the same way as the every-write × every-role test
(`discover_write_functions`). Each must be listed here: either with a scenario in which the
person read the record, someone else then changed it, and the person's write — carrying what they
saw — is refused with who changed it and when, nothing written; or with the reason it starts from
nothing a person edits (it creates, appends, or derives). A new write function fails the first
test until it is placed in one of the two. Runs on SQLite and PostgreSQL (`engine`).
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from breachdash.auth import service as auth
from breachdash.auth.models import Role, User
from breachdash.auth.rules import system_actor
from breachdash.comms import service as comms
from breachdash.comms.models import ChecklistItem
from breachdash.common import utcnow
from breachdash.errors import Conflict, StaleUpdate
from breachdash.importers.affected import apply_affected_import, propose_affected_import
from breachdash.incidents import service as incidents
from breachdash.obligations import service as obligations
from breachdash.outreach import service as outreach
from breachdash.remediation import service as remediation
from breachdash.scope import service as scope
from breachdash.timeline import service as timeline
from tests.conftest import actor_with
from tests.dbsnapshot import take_snapshot
from tests.figures import report
from tests.integration.test_permissions_every_write import NOT_ROLE_GUARDED, Context, discover_write_functions

SYSTEM = system_actor()
PERSON = actor_with(*Role, email="person@x.example")  # the one whose form went stale
OTHER = actor_with(*Role, email="other@x.example")  # who changed the record meanwhile
# "changed by other@… at 2026-… UTC", "superseded … saved by other@… at …", "already approved by other@…"
NAMES_WHO = re.compile(r"other@x\.example")

# Writes that start from nothing a person was shown, and so have no base to go stale.
NOTHING_SHOWN = {
    "breachdash.auth.service.add_user": "creates an account; an email already taken is refused",
    "breachdash.incidents.service.create_incident": "creates an incident; a slug already taken is refused",
    "breachdash.transfer.import_incident": "creates an incident from a document; a slug already taken is refused",
    "breachdash.importers.delivery.import_delivery_report": "appends a vendor's report; a file already imported "
                                                            "is refused and overlapping events never double-count",
    "breachdash.obligations.service.add_obligation": "adds an obligation",
    "breachdash.obligations.service.recompute_for": "derives obligations from the stored facts; no one's input",
    "breachdash.outreach.service.recompute_outreach": "derives outreach counts from the stored files",
    "breachdash.remediation.service.add_action": "adds an action",
    "breachdash.reviews.service.start_review": "marks a moment; edits nothing",
    "breachdash.scope.service.add_population": "adds a population; a key already taken is refused",
    "breachdash.timeline.service.add_event": "appends an entry; the timeline is append-only",
}


def _user_version(engine, email: str) -> int:
    with Session(engine) as session:
        return session.exec(select(User.version).where(User.email == email)).one()


def _incident_version(c: Context) -> int:
    return incidents.get_incident(c.engine, actor=SYSTEM, incident_id=c.incident.id).version


def _latest_message(c: Context, phase_id: int):
    return comms.phase_detail(c.engine, actor=SYSTEM, phase_id=phase_id)["latest"]


# name -> scenario(context) -> the person's stale call. Each scenario reads what the person was
# shown, lets OTHER change the record, and returns the person's write carrying the old base.

def _account(c: Context, write, *, deactivated: bool = False):
    email = c.user("pr", "legal")
    if deactivated:
        auth.deactivate_user(c.engine, actor=SYSTEM, email=email)
    seen = _user_version(c.engine, email)
    auth.grant_role(c.engine, actor=OTHER, email=email, role="architect")
    return lambda: write(email, seen)


def _save_message(c):
    phase_id = c.phases["closure_review"].phase_id
    seen = c.latest_number("closure_review")
    comms.save_message(c.engine, actor=OTHER, phase_id=phase_id, subject="s", body=f"other {c.next()}",
                       base_number=seen)
    return lambda: comms.save_message(c.engine, actor=PERSON, phase_id=phase_id, subject="s",
                                      body=f"person {c.next()}", base_number=seen)


def _decided_meanwhile(c, other_decides, person_decides):
    change = c.proposal("pr")
    other_decides(c.engine, actor=OTHER, change_id=change)
    return lambda: person_decides(c.engine, actor=PERSON, change_id=change)


def _sign_off(c):
    phase_id = c.phases["closure_review"].phase_id
    comms.save_message(c.engine, actor=SYSTEM, phase_id=phase_id, subject="s", body=f"base {c.next()}",
                       base_number=c.latest_number("closure_review"))
    shown = _latest_message(c, phase_id)
    comms.save_message(c.engine, actor=OTHER, phase_id=phase_id, subject="s", body=f"other {c.next()}",
                       base_number=shown.number)
    return lambda: comms.sign_off(c.engine, actor=PERSON, message_version_id=shown.id, role="legal",
                                  decision="approve", expected_sha256=shown.content_sha256)


def _reconfirm(c):
    version_id = c.stale_approvals()
    with Session(c.engine) as session:
        from breachdash.comms.models import MessageVersion

        shown = session.get(MessageVersion, version_id)
    comms.save_message(c.engine, actor=OTHER, phase_id=shown.phase_id, subject="s", body=f"other {c.next()}",
                       base_number=shown.number)
    legal = actor_with(Role.legal)  # the test actor whose approval went stale
    return lambda: comms.reconfirm_sign_off(c.engine, actor=legal, message_version_id=version_id, role="legal",
                                            expected_sha256=shown.content_sha256)


def _phase_renamed_meanwhile(c, key_or_phase):
    phase = c.fresh_phase() if key_or_phase is None else None
    phase_id = phase.phase_id if phase else c.phases[key_or_phase].phase_id
    seen = phase.version if phase else c.version(key_or_phase)
    comms.update_phase(c.engine, actor=OTHER, phase_id=phase_id, expected_version=seen,
                       phase_in={"name": f"Renamed {c.next()}"})
    return phase_id, seen


def _transition(c):
    phase_id, seen = _phase_renamed_meanwhile(c, None)
    return lambda: comms.transition_phase(c.engine, actor=PERSON, phase_id=phase_id, to_status="drafting",
                                          expected_version=seen)


def _mark_sent(c):
    phase_id, seen = _phase_renamed_meanwhile(c, "internal_alignment")
    return lambda: comms.mark_sent(c.engine, actor=PERSON, phase_id=phase_id, channels=["meeting"],
                                   expected_version=seen)


def _update_phase(c):
    phase_id, seen = _phase_renamed_meanwhile(c, None)
    return lambda: comms.update_phase(c.engine, actor=PERSON, phase_id=phase_id, expected_version=seen,
                                      phase_in={"name": f"Person's name {c.next()}"})


def _checklist(c, write):
    """OTHER ticks (or unticks) an item; the person, from the older version, asks for the other state."""
    item = c.items[c.next() % len(c.items)]
    with Session(c.engine) as session:
        shown = session.get(ChecklistItem, item.id)
    comms.set_checklist_item(c.engine, actor=OTHER, item_id=item.id, done=shown.done_at is None,
                             expected_version=shown.version)
    return lambda: write(item, shown.version, shown.done_at is not None)


def _apply_import(c):
    path = c.file("customer_id,region,segment,system,data_types\n" f"cus_{c.next()},DE,retail,crm,email\n",
                  "affected.csv")
    proposal = propose_affected_import(c.engine, actor=PERSON, incident_id=c.incident.id, path=path, reason="stale")
    scope.record_revision(c.engine, actor=OTHER, incident_id=c.incident.id,
                          revision_in={"low": 1, "best": 5 + c.next(), "high": 999})

    def call():
        try:
            apply_affected_import(c.engine, actor=PERSON, proposal=proposal, based_on_seq=proposal.based_on_seq)
        finally:
            proposal.discard()
    return call


def _incident(c, write):
    seen = _incident_version(c)
    incidents.update_incident(c.engine, actor=OTHER, incident_id=c.incident.id, expected_version=seen,
                              incident_in={"summary": f"other {c.next()}"})
    return lambda: write(seen)


def _obligation_status(c):
    current = obligations.add_obligation(c.engine, actor=SYSTEM, incident_id=c.incident.id, obligation_in={
        "rule_id": f"stale-{c.next()}", "jurisdiction": "EU", "regime": "GDPR", "recipient": "regulator"})
    obligations.set_obligation_status(c.engine, actor=OTHER, obligation_id=current.id, status="in preparation",
                                      expected_version=current.version)
    return lambda: obligations.set_obligation_status(c.engine, actor=PERSON, obligation_id=current.id,
                                                     status="not applicable", reason="below threshold",
                                                     expected_version=current.version)


def _filing_correction(c):
    filed = obligations.file_obligation(c.engine, actor=SYSTEM, obligation_id=c.obligation.id,
                                        filed_at=utcnow() - timedelta(hours=3), reference=f"ref-{c.next()}")
    obligations.file_obligation(c.engine, actor=OTHER, obligation_id=c.obligation.id, corrects_id=filed.id,
                                filed_at=utcnow() - timedelta(hours=2), reference="other's correction")
    return lambda: obligations.file_obligation(c.engine, actor=PERSON, obligation_id=c.obligation.id,
                                               corrects_id=filed.id, filed_at=utcnow() - timedelta(hours=1),
                                               reference="person's correction")


def _outreach_cell(c):
    phase_id = c.phases["initial_notice"].phase_id
    cell = {"channel": "email", "region": "DE", "segment": f"stale-{c.next()}", "targeted": 10, "sent": 5}
    shown = outreach.record_outreach(c.engine, actor=SYSTEM, phase_id=phase_id, counts_in=cell)
    outreach.record_outreach(c.engine, actor=OTHER, phase_id=phase_id, counts_in={**cell, "sent": 7},
                             expected_version=shown.version)
    return lambda: outreach.record_outreach(c.engine, actor=PERSON, phase_id=phase_id,
                                            counts_in={**cell, "sent": 9}, expected_version=shown.version)


def _inquiry_days(c):
    day = f"2026-10-{c.next() % 28 + 1:02d}"
    outreach.save_inquiry_days(c.engine, actor=SYSTEM, incident_id=c.incident.id, rows=[{"day": day, "calls": 1}])
    shown = outreach.inquiry_versions(outreach.inquiry_frame(c.engine, actor=SYSTEM, incident_id=c.incident.id))
    outreach.save_inquiry_days(c.engine, actor=OTHER, incident_id=c.incident.id, rows=[{"day": day, "calls": 2}],
                               shown_versions=shown)
    return lambda: outreach.save_inquiry_days(c.engine, actor=PERSON, incident_id=c.incident.id,
                                              rows=[{"day": day, "calls": 3}], shown_versions=shown)


def _action_status(c):
    item = remediation.add_action(c.engine, actor=SYSTEM, incident_id=c.incident.id, action_in={
        "action": f"Rotate {c.next()}", "owner_role": "architect"})
    remediation.set_action_status(c.engine, actor=OTHER, action_id=item.id, status="in progress",
                                  expected_version=item.version)
    return lambda: remediation.set_action_status(c.engine, actor=PERSON, action_id=item.id, status="done",
                                                 expected_version=item.version)


def _revision(c):
    seen = _latest_seq(c)
    scope.record_revision(c.engine, actor=OTHER, incident_id=c.incident.id,
                          revision_in={"low": 1, "best": 10 + c.next(), "high": 999, "based_on_seq": seen})
    return lambda: scope.record_revision(c.engine, actor=PERSON, incident_id=c.incident.id,
                                         revision_in={"low": 1, "best": 20 + c.next(), "high": 999,
                                                      "based_on_seq": seen})


def _latest_seq(c) -> int:
    from breachdash.scope.models import ScopeRevision

    with Session(c.engine) as session:
        seqs = session.exec(select(ScopeRevision.seq).where(ScopeRevision.incident_id == c.incident.id)).all()
    return max(seqs, default=0)


def _population(c):
    shown = scope.add_population(c.engine, actor=SYSTEM, incident_id=c.incident.id,
                                 population_in={"key": f"stale-{c.next()}", "label": "UK"})
    scope.update_population(c.engine, actor=OTHER, population_id=shown.id, changes={"label": "United Kingdom"},
                            expected_version=shown.version)
    return lambda: scope.update_population(c.engine, actor=PERSON, population_id=shown.id,
                                           changes={"jurisdictions": ["GB"]}, expected_version=shown.version)


def _event(c, other_writes, person_writes):
    shown = c.event()
    other_writes(shown)
    return lambda: person_writes(shown)


def _event_in(title: str) -> dict:
    return {"occurred_at": utcnow() - timedelta(hours=3), "kind": "other", "title": title}


STALE = {
    "breachdash.auth.service.grant_role": lambda c: _account(c, lambda email, seen: auth.grant_role(
        c.engine, actor=PERSON, email=email, role="executive", expected_version=seen)),
    "breachdash.auth.service.revoke_role": lambda c: _account(c, lambda email, seen: auth.revoke_role(
        c.engine, actor=PERSON, email=email, role="legal", expected_version=seen)),
    "breachdash.auth.service.set_password": lambda c: _account(c, lambda email, seen: auth.set_password(
        c.engine, actor=PERSON, email=email, password="a long enough passphrase", expected_version=seen)),
    "breachdash.auth.service.deactivate_user": lambda c: _account(c, lambda email, seen: auth.deactivate_user(
        c.engine, actor=PERSON, email=email, expected_version=seen)),
    "breachdash.auth.service.reactivate_user": lambda c: _account(c, lambda email, seen: (
        auth.reactivate_user(c.engine, actor=PERSON, email=email, expected_version=seen)), deactivated=True),
    "breachdash.comms.service.save_message": _save_message,
    "breachdash.comms.service.approve_approver_change": lambda c: _decided_meanwhile(
        c, comms.reject_approver_change, comms.approve_approver_change),
    "breachdash.comms.service.reject_approver_change": lambda c: _decided_meanwhile(
        c, comms.approve_approver_change, comms.reject_approver_change),
    "breachdash.comms.service.sign_off": _sign_off,
    "breachdash.comms.service.reconfirm_sign_off": _reconfirm,
    "breachdash.comms.service.transition_phase": _transition,
    "breachdash.comms.service.mark_sent": _mark_sent,
    "breachdash.comms.service.update_phase": _update_phase,
    "breachdash.comms.service.set_checklist_item": lambda c: _checklist(c, lambda item, seen, done: comms.set_checklist_item(
        c.engine, actor=PERSON, item_id=item.id, done=done, expected_version=seen)),
    "breachdash.comms.service.save_checklist": lambda c: _checklist(c, lambda item, seen, done: comms.save_checklist(
        c.engine, actor=PERSON, changes=[{"id": item.id, "done": done, "version": seen}])),
    "breachdash.importers.affected.apply_affected_import": _apply_import,
    "breachdash.incidents.service.update_incident": lambda c: _incident(c, lambda seen: incidents.update_incident(
        c.engine, actor=PERSON, incident_id=c.incident.id, expected_version=seen,
        incident_in={"summary": f"person {c.next()}"})),
    "breachdash.incidents.service.set_milestone": lambda c: _incident(c, lambda seen: incidents.set_milestone(
        c.engine, actor=PERSON, incident_id=c.incident.id, milestone="contained_at",
        at=utcnow() - timedelta(hours=c.next()), expected_version=seen)),
    "breachdash.obligations.service.set_obligation_status": _obligation_status,
    "breachdash.obligations.service.file_obligation": _filing_correction,
    "breachdash.outreach.service.record_outreach": _outreach_cell,
    "breachdash.outreach.service.save_inquiry_days": _inquiry_days,
    "breachdash.remediation.service.set_action_status": _action_status,
    "breachdash.scope.service.record_revision": _revision,
    "breachdash.scope.service.update_population": _population,
    "breachdash.timeline.service.correct_event": lambda c: _event(
        c, lambda shown: timeline.correct_event(c.engine, actor=OTHER, event_id=shown.id,
                                                event_in=_event_in("other's correction"), reason="typo"),
        lambda shown: timeline.correct_event(c.engine, actor=PERSON, event_id=shown.id,
                                             event_in=_event_in("person's correction"), reason="typo")),
    "breachdash.timeline.service.retract_event": lambda c: _event(
        c, lambda shown: timeline.retract_event(c.engine, actor=OTHER, event_id=shown.id, reason="entered twice"),
        lambda shown: timeline.retract_event(c.engine, actor=PERSON, event_id=shown.id, reason="wrong incident")),
}


def test_every_write_function_either_carries_what_the_person_saw_or_starts_from_nothing_shown():
    assert not set(STALE) & set(NOTHING_SHOWN)
    assert discover_write_functions() - NOT_ROLE_GUARDED == set(STALE) | set(NOTHING_SHOWN)


def test_every_write_from_a_stale_base_is_refused_naming_who_and_writes_nothing(engine, tmp_path):
    context = Context(engine, tmp_path)
    problems = []
    for name, scenario in STALE.items():
        call = scenario(context)
        before = take_snapshot(engine)
        try:
            call()
        except (StaleUpdate, Conflict) as refused:
            message = str(refused)
            if not NAMES_WHO.search(message) or "reload" not in message.lower():
                problems.append(f"{name}: refused without naming who changed it and asking to reload: {message}")
            report("stale-write sweep: write functions refusing a stale base", 1)
        else:
            problems.append(f"{name}: a stale write went through")
            continue
        if take_snapshot(engine) != before:
            problems.append(f"{name}: refused, yet something was written")
    assert problems == []
