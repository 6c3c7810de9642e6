"""Every write function of every service, called as every role (and signed out).

test_permissions_matrix.py checks one call per Action; this goes one level finer: each public
function that opens a write unit of work is found in the source, must be listed below with the
Action the specification gives it, and is called for real as each role: the roles the
specification allows succeed, every other role is refused with PermissionDenied and writes
nothing (the audit trail does not grow).
"""
from __future__ import annotations

import ast
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from breachdash.audit.models import AuditEvent
from breachdash.auth.models import Role
from breachdash.auth.rules import Action, system_actor
from breachdash.auth import service as auth
from breachdash.comms import service as comms
from breachdash.common import utcnow
from breachdash.errors import PermissionDenied
from breachdash.importers.affected import apply_affected_import, propose_affected_import
from breachdash.importers.delivery import import_delivery_report
from breachdash.incidents import service as incidents
from breachdash.obligations import service as obligations
from breachdash.outreach import service as outreach
from breachdash.remediation import service as remediation
from breachdash.reviews.service import start_review
from breachdash.scope import service as scope
from breachdash.scope.service import record_revision
from breachdash.timeline import service as timeline
from breachdash.transfer import export_incident, import_incident
from tests.conftest import actor_with
from tests.integration.test_permissions_matrix import EXPECTED, _context, _phase_version

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = system_actor()


def discover_write_functions() -> set[str]:
    """Public functions in breachdash/ that open write_session, and public service functions that
    only delegate to such a function of their own module."""
    direct, delegating = set(), set()
    for path in sorted((ROOT / "breachdash").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        functions = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)]
        calls = {n.name: {getattr(c.func, "id", getattr(c.func, "attr", None))
                          for c in ast.walk(n) if isinstance(c, ast.Call)} for n in functions}
        # Private writers count for delegation (a public service calling its module's `_record_x`).
        writers = {name for name, called in calls.items()
                   if "write_session" in called and name not in {"write_session", "record_audit"}}
        direct |= {f"{module}.{name}" for name in writers if not name.startswith("_")}
        if path.name == "service.py":
            delegating |= {f"{module}.{name}" for name, called in calls.items()
                           if called & writers and not name.startswith("_")}
    return direct | delegating


class Context:
    """One incident with something of everything to act on; fresh objects are made per call."""

    def __init__(self, engine, tmp_path: Path):
        base = _context(engine)
        self.engine, self.tmp_path = engine, tmp_path
        self.incident, self.phases, self.items = base["incident"], base["phases"], base["items"]
        self.notice_version = base["notice_version"]
        comms.mark_sent(engine, actor=SYSTEM, phase_id=self.phases["initial_notice"].phase_id, channels=["email"],
                        expected_version=_phase_version(engine, self.incident.id, "initial_notice"))
        self.obligation = obligations.add_obligation(engine, actor=SYSTEM, incident_id=self.incident.id, obligation_in={
            "rule_id": "matrix-rule", "jurisdiction": "EU", "regime": "GDPR", "recipient": "regulator"})
        self.counter = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def user(self, *roles: str) -> str:
        email = f"target-{self.next()}@x.example"
        auth.add_user(self.engine, actor=SYSTEM, user_in={"email": email, "roles": list(roles)})
        return email

    def event(self):
        return timeline.add_event(self.engine, actor=SYSTEM, incident_id=self.incident.id, event_in={
            "occurred_at": utcnow() - timedelta(hours=2), "kind": "other", "title": f"entry {self.next()}"})

    def file(self, text: str, name: str) -> Path:
        path = self.tmp_path / f"{self.next()}-{name}"
        path.write_text(text, encoding="utf-8")
        return path

    def fresh_phase(self):
        """A not-started phase of a new incident (each allowed call moves one)."""
        incident = incidents.create_incident(self.engine, actor=SYSTEM, incident_in={
            "slug": f"plan-{self.next()}", "title": "T", "company": "C"})
        progress = comms.phase_progress(self.engine, actor=SYSTEM, incident_id=incident.id)
        return next(progress.loc[progress["key"] == "remediation_update"].itertuples())

    def latest_number(self, key: str) -> int | None:
        latest = comms.phase_detail(self.engine, actor=SYSTEM, phase_id=self.phases[key].phase_id)["latest"]
        return latest.number if latest else None

    def proposal(self, proposer_role: str) -> int:
        """A pending proposal, by a person holding only `proposer_role`, to add the Architect to a
        fresh phase's approvers; returns its id."""
        phase = self.fresh_phase()
        comms.update_phase(self.engine, actor=actor_with(Role(proposer_role), email=f"proposer-{self.next()}@x.example"),
                           phase_id=phase.phase_id, expected_version=phase.version,
                           phase_in={"required_roles": ["legal", "pr", "architect"]})
        return comms.phase_detail(self.engine, actor=SYSTEM, phase_id=phase.phase_id)["approver_change"].id

    def version(self, key: str) -> int:
        return _phase_version(self.engine, self.incident.id, key)

    def stale_approvals(self) -> int:
        """A fresh incident's initial notice approved by the Legal, PR and Executive test actors, then
        made stale by a scope revision; returns the message version id."""
        incident = incidents.create_incident(self.engine, actor=SYSTEM, incident_in={
            "slug": f"stale-{self.next()}", "title": "T", "company": "C"})
        progress = comms.phase_progress(self.engine, actor=SYSTEM, incident_id=incident.id)
        phase_id = int(progress.loc[progress["key"] == "initial_notice", "phase_id"].iloc[0])
        version = comms.save_message(self.engine, actor=SYSTEM, phase_id=phase_id, subject="Notice",
                                     body="We are writing to tell you about an incident.", base_number=None)
        for role in (Role.legal, Role.pr, Role.executive):
            comms.sign_off(self.engine, actor=actor_with(role), message_version_id=version.id, role=role,
                           decision="approve")
        record_revision(self.engine, actor=SYSTEM, incident_id=incident.id,
                        revision_in={"low": 1, "best": 2, "high": 3})
        return version.id


def _event_in(title: str) -> dict:
    return {"occurred_at": utcnow() - timedelta(hours=3), "kind": "other", "title": title}


# function -> (the Action the specification gives it, prepare(context) -> call(actor), a call that
# succeeds when the role is allowed; whatever it needs is made by `prepare`, before the count)

def _apply_import(c: Context, actor, path: Path):
    """The file is checked by someone allowed to; recording it is the write each role tries."""
    with propose_affected_import(c.engine, actor=SYSTEM, incident_id=c.incident.id, path=path,
                                 reason="matrix") as proposal:
        return apply_affected_import(c.engine, actor=actor, proposal=proposal)

CALLS = {
    "breachdash.auth.service.add_user": (Action.manage_users, lambda c: lambda a: auth.add_user(
        c.engine, actor=a, user_in={"email": f"new-{c.next()}@x.example", "roles": ["pr"]})),
    "breachdash.auth.service.grant_role": (Action.manage_users, lambda c: (email := c.user("pr")) and (lambda a: auth.grant_role(
        c.engine, actor=a, email=email, role="legal"))),
    "breachdash.auth.service.revoke_role": (Action.manage_users, lambda c: (email := c.user("pr", "legal")) and (lambda a: auth.revoke_role(
        c.engine, actor=a, email=email, role="legal"))),
    "breachdash.auth.service.set_password": (Action.manage_users, lambda c: (email := c.user("pr")) and (lambda a: auth.set_password(
        c.engine, actor=a, email=email, password="a long enough passphrase"))),
    "breachdash.auth.service.deactivate_user": (Action.manage_users, lambda c: (email := c.user("pr")) and (lambda a: auth.deactivate_user(
        c.engine, actor=a, email=email))),
    "breachdash.auth.service.reactivate_user": (Action.manage_users, lambda c: (email := c.user("pr")) and (
        auth.deactivate_user(c.engine, actor=SYSTEM, email=email) or (lambda a: auth.reactivate_user(
            c.engine, actor=a, email=email)))),
    "breachdash.comms.service.save_message": (Action.draft_message, lambda c: lambda a: comms.save_message(
        c.engine, actor=a, phase_id=c.phases["closure_review"].phase_id, subject="s", body=f"draft {c.next()}",
        base_number=c.latest_number("closure_review"))),
    "breachdash.comms.service.approve_approver_change": (Action.decide_approver_change, lambda c: (
        changes := (c.proposal("pr"), c.proposal("legal"))) and (lambda a: comms.approve_approver_change(
            c.engine, actor=a, change_id=changes[1 if a is not None and a.holds(Role.pr) else 0]))),
    "breachdash.comms.service.reject_approver_change": (Action.decide_approver_change, lambda c: (
        change := c.proposal("pr")) and (lambda a: comms.reject_approver_change(c.engine, actor=a, change_id=change))),
    "breachdash.comms.service.sign_off": (Action.sign_off, lambda c: lambda a: comms.sign_off(
        c.engine, actor=a, message_version_id=c.notice_version.id, role=next(iter(a.roles)) if a else "legal", decision="approve")),
    "breachdash.comms.service.reconfirm_sign_off": (Action.sign_off, lambda c: (version_id := c.stale_approvals()) and (
        lambda a: comms.reconfirm_sign_off(c.engine, actor=a, message_version_id=version_id,
                                           role=next(iter(a.roles)) if a else "legal"))),
    "breachdash.comms.service.transition_phase": (Action.edit_phase_plan, lambda c: (phase := c.fresh_phase()) and (lambda a: comms.transition_phase(
        c.engine, actor=a, phase_id=phase.phase_id, to_status="drafting", expected_version=phase.version))),
    "breachdash.comms.service.mark_sent": (Action.mark_sent, lambda c: lambda a: comms.mark_sent(
        c.engine, actor=a, phase_id=c.phases["internal_alignment"].phase_id, channels=["meeting"],
        expected_version=c.version("internal_alignment"))),
    "breachdash.comms.service.set_checklist_item": (Action.edit_checklist, lambda c: lambda a: (
        item := c.items[c.next() % len(c.items)],
        comms.set_checklist_item(c.engine, actor=a, item_id=item.id, done=True,
                                 expected_version=_item_version(c.engine, item.id)))[1]),
    "breachdash.comms.service.save_checklist": (Action.edit_checklist, lambda c: lambda a: (
        item := c.items[c.next() % len(c.items)],
        comms.save_checklist(c.engine, actor=a, changes=[
            {"id": item.id, "done": False, "version": _item_version(c.engine, item.id)}]))[1]),
    "breachdash.comms.service.update_phase": (Action.edit_phase_plan, lambda c: lambda a: comms.update_phase(
        c.engine, actor=a, phase_id=c.phases["closure_review"].phase_id, expected_version=c.version("closure_review"),
        phase_in={"name": f"Closure review {c.next()}"})),
    "breachdash.importers.affected.apply_affected_import": (Action.revise_scope, lambda c: lambda a: _apply_import(
        c, a, c.file("customer_id,region,segment,system,data_types\n"
                     f"cus_{c.next()},DE,retail,crm,email\n", "affected.csv"))),
    "breachdash.importers.delivery.import_delivery_report": (Action.record_outreach, lambda c: lambda a: import_delivery_report(
        c.engine, actor=a, incident_id=c.incident.id,
        path=c.file("customer_id,phase,channel,status,event_time,vendor_ref\n"
                    f"cus_{c.next()},initial_notice,email,delivered,{utcnow().isoformat()},v\n", "report.csv"))),
    "breachdash.incidents.service.create_incident": (Action.create_incident, lambda c: lambda a: incidents.create_incident(
        c.engine, actor=a, incident_in={"slug": f"inc-{c.next()}", "title": "T", "company": "C"})),
    "breachdash.incidents.service.update_incident": (Action.update_incident, lambda c: lambda a: incidents.update_incident(
        c.engine, actor=a, incident_id=c.incident.id, incident_in={"summary": f"summary {c.next()}"},
        expected_version=incidents.get_incident(c.engine, actor=SYSTEM, incident_id=c.incident.id).version)),
    "breachdash.incidents.service.set_milestone": (Action.set_milestone, lambda c: lambda a: incidents.set_milestone(
        c.engine, actor=a, incident_id=c.incident.id, milestone="contained_at",
        at=utcnow() - timedelta(hours=c.next()),
        expected_version=incidents.get_incident(c.engine, actor=SYSTEM, incident_id=c.incident.id).version)),
    "breachdash.obligations.service.add_obligation": (Action.manage_obligations, lambda c: lambda a: obligations.add_obligation(
        c.engine, actor=a, incident_id=c.incident.id, obligation_in={
            "rule_id": f"rule-{c.next()}", "jurisdiction": "EU", "regime": "GDPR", "recipient": "regulator"})),
    "breachdash.obligations.service.file_obligation": (Action.manage_obligations, lambda c: lambda a: obligations.file_obligation(
        c.engine, actor=a, obligation_id=c.obligation.id, filed_at=utcnow() - timedelta(hours=1),
        reference=f"ref-{c.next()}")),
    "breachdash.obligations.service.recompute_for": (Action.manage_obligations, lambda c: lambda a: obligations.recompute_for(
        c.engine, actor=a, incident_id=c.incident.id)),
    "breachdash.obligations.service.set_obligation_status": (Action.manage_obligations, lambda c: (current := obligations.add_obligation(c.engine, actor=SYSTEM, incident_id=c.incident.id, obligation_in={
        "rule_id": f"status-{c.next()}", "jurisdiction": "EU", "regime": "GDPR", "recipient": "regulator"})) and (
        lambda a: obligations.set_obligation_status(c.engine, actor=a, obligation_id=current.id,
                                                    status="in preparation", expected_version=current.version))),
    "breachdash.outreach.service.record_outreach": (Action.record_outreach, lambda c: lambda a: outreach.record_outreach(
        c.engine, actor=a, phase_id=c.phases["initial_notice"].phase_id,
        counts_in={"channel": "email", "region": "DE", "segment": f"s{c.next()}", "targeted": 10, "sent": 5})),
    "breachdash.outreach.service.recompute_outreach": ((Action.record_outreach, Action.revise_scope), lambda c: lambda a: outreach.recompute_outreach(
        c.engine, actor=a, incident_id=c.incident.id)),
    "breachdash.outreach.service.save_inquiry_days": (Action.record_outreach, lambda c: lambda a: outreach.save_inquiry_days(
        c.engine, actor=a, incident_id=c.incident.id,
        rows=[{"day": date(2026, 11, 1) + timedelta(days=c.next()), "calls": 3}])),
    "breachdash.remediation.service.add_action": (Action.manage_actions, lambda c: lambda a: remediation.add_action(
        c.engine, actor=a, incident_id=c.incident.id, action_in={"action": f"Patch {c.next()}", "owner_role": "architect"})),
    "breachdash.remediation.service.set_action_status": (Action.manage_actions, lambda c: (item := remediation.add_action(c.engine, actor=SYSTEM, incident_id=c.incident.id, action_in={
        "action": f"Rotate {c.next()}", "owner_role": "architect"})) and (
        lambda a: remediation.set_action_status(c.engine, actor=a, action_id=item.id, status="done",
                                                expected_version=item.version))),
    "breachdash.reviews.service.start_review": (Action.start_review, lambda c: lambda a: start_review(
        c.engine, actor=a, incident_id=c.incident.id)),
    "breachdash.scope.service.record_revision": (Action.revise_scope, lambda c: lambda a: record_revision(
        c.engine, actor=a, incident_id=c.incident.id, revision_in={"low": 1, "best": 2 + c.next(), "high": 999})),
    "breachdash.scope.service.add_population": (Action.revise_scope, lambda c: lambda a: scope.add_population(
        c.engine, actor=a, incident_id=c.incident.id,
        population_in={"key": f"pop-{c.next()}", "label": "Canada", "jurisdictions": ["CA"]})),
    "breachdash.scope.service.update_population": (Action.revise_scope, lambda c: (population := scope.add_population(
        c.engine, actor=SYSTEM, incident_id=c.incident.id, population_in={"key": f"upd-{c.next()}", "label": "UK"})) and (
        lambda a: scope.update_population(c.engine, actor=a, population_id=population.id,
                                          changes={"jurisdictions": ["GB"]}, expected_version=population.version))),
    "breachdash.timeline.service.add_event": (Action.record_timeline_event, lambda c: lambda a: timeline.add_event(
        c.engine, actor=a, incident_id=c.incident.id, event_in=_event_in(f"added {c.next()}"))),
    "breachdash.timeline.service.correct_event": (Action.record_timeline_event, lambda c: (event := c.event()) and (lambda a: timeline.correct_event(
        c.engine, actor=a, event_id=event.id, event_in=_event_in(f"corrected {c.next()}"), reason="typo"))),
    "breachdash.timeline.service.retract_event": (Action.record_timeline_event, lambda c: (event := c.event()) and (lambda a: timeline.retract_event(
        c.engine, actor=a, event_id=event.id, reason="entered twice"))),
    "breachdash.transfer.import_incident": (Action.import_incident, lambda c: lambda a: import_incident(
        c.engine, actor=a, document=_renamed(export_incident(c.engine, actor=SYSTEM, incident_id=c.incident.id),
                                              f"imported-{c.next()}"))),
}


def _allowed_roles(action: Action | tuple[Action, ...]) -> set[str]:
    """One Action, or several of which any suffices (a recount follows a new list or a report)."""
    actions = action if isinstance(action, tuple) else (action,)
    return set().union(*(EXPECTED[a] for a in actions))


def _item_version(engine, item_id: int) -> int:
    from breachdash.comms.models import ChecklistItem

    with Session(engine) as session:
        return session.get(ChecklistItem, item_id).version


def _renamed(document: dict, slug: str) -> dict:
    document["incident"]["slug"] = slug
    return document


def _audit_count(engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditEvent.id)).all())


# Writes no role guards: signing in is open to everyone (it records failed attempts to slow guessing),
# and so are the sign-in sessions it starts, resumes (recording their last use) and ends (sign-out);
# restoring a backup is an operator's command on the server, below the application's roles, and so is
# the recompute of every incident that follows it, and sealing an unkeyed audit chain after an upgrade.
NOT_ROLE_GUARDED = {"breachdash.auth.service.authenticate", "breachdash.auth.sessions.start_session",
                    "breachdash.auth.sessions.resume_session", "breachdash.auth.sessions.end_session",
                    "breachdash.backup.restore_database",
                    "breachdash.obligations.service.recompute_every_incident",
                    "breachdash.audit.service.rekey_audit"}


def test_every_write_function_is_in_the_matrix():
    assert discover_write_functions() == set(CALLS) | NOT_ROLE_GUARDED


def test_every_write_function_as_every_role(engine, tmp_path):
    context = Context(engine, tmp_path)
    mismatches, calls = [], 0
    for name, (action, prepare) in CALLS.items():
        for role in [*Role, None]:
            actor = actor_with(role) if role is not None else None
            allowed = role is not None and role.value in _allowed_roles(action)
            call = prepare(context)
            before = _audit_count(engine)
            try:
                call(actor)
                outcome = "allowed"
            except PermissionDenied:
                outcome = "denied"
            calls += 1
            who = role.value if role else "signed out"
            if outcome != ("allowed" if allowed else "denied"):
                mismatches.append(f"{name} as {who}: {outcome}")
            elif outcome == "denied" and _audit_count(engine) != before:
                mismatches.append(f"{name} as {who}: refused, yet the audit trail grew")
    assert mismatches == []
    assert calls == len(CALLS) * (len(Role) + 1)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_function_checks_the_action_the_matrix_says(name):
    """The `require(actor, Action.x)` in the source names the same Action as the table above."""
    module, function = name.rsplit(".", 1)
    path = ROOT / (module.replace(".", "/") + ".py")
    node = next(n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == function)
    required = {ast.unparse(call.args[1]) for call in ast.walk(node)
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) in {"require", "may"}}
    action = CALLS[name][0]
    expected = {f"Action.{a.name}" for a in (action if isinstance(action, tuple) else (action,))}
    if name == "breachdash.comms.service.save_checklist":  # delegates to set_checklist_item, which checks
        assert required == set()
    else:
        assert required == expected
