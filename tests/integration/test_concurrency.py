"""Concurrency: N writers (threads sharing one engine, or processes each with its own) sign off,
tick checklist items, revise the estimate and import files on the same demo incident at once,
on SQLite and PostgreSQL.

Afterwards: no lost update (every successful write is in the database, versions and sequence
numbers count exactly the successful writes), no duplicate sign-off, the audit chain verifies
and holds one event per successful write, and every refused write was refused with a message a
person can act on ("changed by X at T — reload", "already signed", "already imported") — never a
driver error, "database is locked" or a deadlock. The figures (ops/s, refusals) go to the run's
summary; nothing here asserts on timing. Operations live in tests/concurrency_worker.py.
"""
from __future__ import annotations

import collections
import contextlib
import multiprocessing
import queue as queue_module
import re
import threading
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from breachdash.audit.models import AuditEvent
from breachdash.audit.service import verify_chain
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.comms import service as comms
from breachdash.comms.models import ChecklistItem, MessageVersion, SignOff
from breachdash import db
from breachdash.db import make_engine, read_session, write_session
from breachdash.demo import DEMO_SLUG
from breachdash.errors import DatabaseUnavailable
from breachdash.incidents.service import find_incident
from breachdash.outreach.models import DeliveryReport, OutreachState
from breachdash.scope.models import ScopeRevision
from tests.concurrency_worker import actor as actor_from, process_main, run_writer
from tests.conftest import DEMO_ANCHOR
from tests.figures import report

WRITERS = 4
# The demo incident sent its initial notice about three days in; delivery events come after it.
SENT_AT = DEMO_ANCHOR + timedelta(days=4)
STALE = re.compile(r"^This record was changed by (?P<email>\S+@\S+) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
                   r"— reload to see it before editing\.$")
ALREADY_SIGNED = re.compile(r"^(?P<email>\S+@\S+) already signed version \d+ as (?P<role>\w+) \(approve\)\.$")
AFFECTED_REPEAT = re.compile(r"^This file was already imported as revision \d+ on [\d\- :]+ UTC by \S+@\S+; "
                             r"nothing was changed\.$")
DELIVERY_REPEAT = re.compile(r"^This file was already imported on [\d\- :]+ UTC by \S+@\S+ \(as [\w.\-]+\); "
                             r"nothing was changed\.$")
SAME_TEXT = re.compile(r"^Version \d+ already has exactly this text\.$")
STALE_DRAFT = re.compile(r"^The message was changed by \S+@\S+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
                         r"\(version \d+; you started from version \d+\) — reload")
OUTREACH_MOVED = re.compile(r"^The outreach figures were changed by \S+@\S+ at [\d\- :]+ UTC while this was being "
                            r"processed; nothing was changed — run it again\.$")


def _person(name: str, *roles: str) -> dict:
    return {"email": f"{name}@conc.example", "roles": list(roles)}


# Several people per role, and one person who holds two roles (the approval policy lets them sign
# as one of them only: Legal and PR sign-offs come from different people).
SIGNERS = [(_person("legal-a", "legal"), "legal"), (_person("legal-b", "legal"), "legal"),
           (_person("pr-a", "pr"), "pr"), (_person("pr-b", "pr"), "pr"),
           (_person("counsel", "legal", "pr"), "legal"), (_person("pr-c", "pr"), "pr")]


def _affected_file(path: Path, tag: str, customers: int) -> str:
    regions = ["US-CA", "DE", "FR"]
    path.write_text("customer_id,region,segment,system,data_types\n" + "".join(
        f"{tag}-{i},{regions[i % 3]},retail,crm,name;email\n" for i in range(customers)), encoding="utf-8")
    return str(path)


def _delivery_file(path: Path, tag: str, customers: int) -> str:
    path.write_text("customer_id,phase,channel,status,event_time,vendor_ref\n" + "".join(
        f"{tag}-{i},initial_notice,email,{'bounced' if i % 4 == 0 else 'delivered'},"
        f"{(SENT_AT + timedelta(hours=1, minutes=i)).isoformat()},{tag}-ref-{i}\n" for i in range(customers)),
        encoding="utf-8")
    return str(path)


def build_plan(engine, workdir: Path) -> dict:
    """Two fresh message versions to sign, the checklist items to fight over, the files, and
    each writer's operations. Races are lined up at the same position in several writers' lists."""
    system = system_actor()
    incident = find_incident(engine, DEMO_SLUG)
    phases = {row.key: int(row.phase_id) for row in
              comms.phase_progress(engine, actor=system, incident_id=incident.id).itertuples()}
    versions = {key: comms.save_message(engine, actor=system, phase_id=phases[key], subject=f"{key} update",
                                        body=f"Text of the {key} message for the concurrency run.",
                                        base_number=None).id  # the demo has no draft for these yet
                for key in ("remediation_update", "closure_review")}
    draft_base = comms.phase_detail(engine, actor=system, phase_id=phases["detailed_follow_up"])["latest"].number
    with read_session(engine) as session:
        items = session.exec(select(ChecklistItem).where(col(ChecklistItem.phase_id).in_(
            [phases["detailed_follow_up"], phases["remediation_update"]])).order_by(col(ChecklistItem.id))).all()
    race_item, hot_items = items[0], [item.id for item in items[1:4]]
    same_affected = _affected_file(workdir / "affected-shared.csv", "shared", 30)
    same_delivery = _delivery_file(workdir / "delivery-shared.csv", "shared", 20)
    base = {"incident_id": incident.id}
    editors = [_person(f"editor-{w}", "pr") for w in range(WRITERS)]
    architects = [_person(f"architect-{w}", "architect") for w in range(WRITERS)]
    outreach = [_person(f"outreach-{w}", "pr") for w in range(WRITERS)]
    ops: list[list[dict]] = [[] for _ in range(WRITERS)]
    for w in range(WRITERS):
        # Everyone opened the page at the same moment and ticks the same item: one wins.
        ops[w].append({"kind": "checklist", "item_id": race_item.id, "expected_version": race_item.version,
                       "done": True, "actor": editors[w], "race": True})
        # Writers 0 and 1 import the same affected file at once; 2 and 3 import their own.
        path = same_affected if w < 2 else _affected_file(workdir / f"affected-{w}.csv", f"own{w}", 10 + w)
        ops[w].append({**base, "kind": "affected_import", "path": path, "reason": f"affected list by writer {w}",
                       "actor": architects[w], "shared_file": w < 2})
    for round_ in range(3):
        # The same person signs the same version as the same role from two writers at once.
        for pair, key in enumerate((2 * round_, 2 * round_ + 1)):
            signer, role = SIGNERS[key]
            for w in (2 * pair, 2 * pair + 1):
                ops[w].append({"kind": "sign_off", "version_id": versions["remediation_update"], "role": role,
                               "actor": signer, "comment": f"writer {w}"})
        for w in range(WRITERS):
            if round_ < 2:
                ops[w].append({**base, "kind": "revision", "best": 1000 * (w + 1) + round_, "actor": architects[w],
                               "reason": f"estimate revision {round_} by writer {w}"})
                ops[w].append({"kind": "checklist", "item_id": hot_items[(w + round_) % len(hot_items)],
                               "actor": editors[w]})
    for w in range(WRITERS):
        # Drafts of one phase's message; writers 0 and 1 save the very same text.
        ops[w].append({"kind": "save_message", "phase_id": phases["detailed_follow_up"], "subject": "Follow-up",
                       "body": "Shared draft." if w < 2 else f"Draft by writer {w}.",
                       "actor": _person(f"drafter-{w}", "pr"), "shared_text": w < 2, "base_number": draft_base})
        path = same_delivery if w < 2 else _delivery_file(workdir / f"delivery-{w}.csv", f"own{w}", 15 + w)
        ops[w].append({**base, "kind": "delivery_import", "path": path, "actor": outreach[w],
                       "shared_file": w < 2})
    for key, (signer, role) in enumerate(SIGNERS):
        ops[(key + 1) % WRITERS].append({"kind": "sign_off", "version_id": versions["closure_review"],
                                         "role": role, "actor": signer, "comment": "second version"})
    return {"incident_id": incident.id, "versions": versions, "draft_phase": phases["detailed_follow_up"],
            "items": [race_item.id, *hot_items], "ops": ops}


def snapshot(engine, plan: dict) -> dict:
    with read_session(engine) as session:
        items = {item.id: (item.version, item.done_at is not None, item.done_by) for item in session.exec(
            select(ChecklistItem).where(col(ChecklistItem.id).in_(plan["items"]))).all()}
        revisions = session.exec(select(ScopeRevision).where(ScopeRevision.incident_id == plan["incident_id"])
                                 .order_by(col(ScopeRevision.seq))).all()
        sign_offs = session.exec(select(SignOff.message_version_id, SignOff.signer, SignOff.role,
                                        SignOff.facts_revision_seq).where(
            col(SignOff.message_version_id).in_(plan["versions"].values()))).all()
        audit_head = session.exec(select(func.max(AuditEvent.id))).one()
        audit_count = session.exec(select(func.count()).select_from(AuditEvent)).one()
        audit_actions = session.exec(select(AuditEvent.action, AuditEvent.entity_id)
                                     .where(AuditEvent.id > (plan.get("audit_head") or 0))).all()
        drafts = session.exec(select(MessageVersion.number, MessageVersion.content_sha256).where(
            MessageVersion.phase_id == plan["draft_phase"]).order_by(col(MessageVersion.number))).all()
        reports = session.exec(select(DeliveryReport.sha256).where(
            DeliveryReport.incident_id == plan["incident_id"])).all()
        state = session.get(OutreachState, plan["incident_id"])
    return {"items": items, "revisions": revisions, "sign_offs": sign_offs, "audit_head": audit_head,
            "audit_count": audit_count, "audit_actions": audit_actions, "reports": reports, "drafts": drafts,
            "generation": state.generation if state else 0}


def run_threads(url: str, ops: list[list[dict]]) -> tuple[list[dict], float]:
    engine = make_engine(url)
    barrier = threading.Barrier(WRITERS + 1)
    results: dict[int, list[dict]] = {}

    def work(w: int) -> None:
        results[w] = run_writer(engine, f"thread-{w}", ops[w], lambda: barrier.wait(timeout=120))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert sorted(results) == list(range(WRITERS)), "a writer thread died without recording its outcomes"
    return [outcome for w in range(WRITERS) for outcome in results[w]], elapsed


@contextlib.contextmanager
def _no_main_script():
    """Spawned children re-run the parent's __main__ script; after an AppTest in this process
    that is app.py (Streamlit runs scripts as __main__), which must not run in a writer. A bare
    __main__ while the children start gives them nothing to re-run."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def run_processes(url: str, ops: list[list[dict]]) -> tuple[list[dict], float]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS + 1)
    results = context.Queue()
    processes = [context.Process(target=process_main, args=(url, f"process-{w}", ops[w], barrier, results))
                 for w in range(WRITERS)]
    try:
        with _no_main_script():
            for process in processes:
                process.start()
        barrier.wait(timeout=180)  # every process has imported breachdash and built its engine
        started, started_wall = time.perf_counter(), time.time()
        collected, finished = {}, []
        for _ in range(WRITERS):
            try:
                writer, outcomes, finished_at = results.get(timeout=300)
            except queue_module.Empty:
                pytest.fail(f"writer processes did not report; exit codes {[p.exitcode for p in processes]}")
            collected[writer] = outcomes
            finished.append(finished_at)
        elapsed = max(time.perf_counter() - started, max(finished) - started_wall)
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
    return [outcome for w in range(WRITERS) for outcome in collected[f"process-{w}"]], elapsed


def describe_refusals(refused: list[dict]) -> str:
    kinds = collections.Counter(
        "stale save" if o["error"] == "StaleUpdate" else
        "already signed" if ALREADY_SIGNED.match(o["message"]) else
        "same text already saved" if SAME_TEXT.match(o["message"]) else
        "file already imported" if AFFECTED_REPEAT.match(o["message"]) or DELIVERY_REPEAT.match(o["message"]) else
        "outreach recounted meanwhile" if OUTREACH_MOVED.match(o["message"]) else "other" for o in refused)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) or "none"


def unexpected_refusals(outcomes: list[dict]) -> list[str]:
    """Every refusal must be one a person understands and can act on; name the ones that are not."""
    wrote_item = collections.defaultdict(set)
    for o in outcomes:
        if o["ok"] and o["op"]["kind"] == "checklist":
            wrote_item[o["op"]["item_id"]].add(o["op"]["actor"]["email"])
    bad = []
    for o in outcomes:
        if o["ok"]:
            continue
        op, error, message = o["op"], o["error"], o["message"]
        match op["kind"]:
            case "checklist":
                stale = STALE.match(message) if error == "StaleUpdate" else None
                # The person named is one who really saved that item.
                fine = stale is not None and stale["email"] in wrote_item[op["item_id"]]
            case "sign_off":
                signed = ALREADY_SIGNED.match(message) if error == "Conflict" else None
                fine = signed is not None and signed["email"] == op["actor"]["email"] and \
                    signed["role"] == Role(op["role"]).label
            case "save_message":
                # All drafters started from the same version: one wins, the others are told who won.
                fine = (error == "Conflict" and op["shared_text"] and SAME_TEXT.match(message) is not None) or (
                    error == "StaleUpdate" and STALE_DRAFT.match(message) is not None)
            case "affected_import":
                fine = error == "Conflict" and op["shared_file"] and AFFECTED_REPEAT.match(message) is not None
            case "delivery_import":
                fine = error == "Conflict" and (OUTREACH_MOVED.match(message) is not None or (
                    op["shared_file"] and DELIVERY_REPEAT.match(message) is not None))
            case _:
                fine = False
        if not fine:
            bad.append(f"{o['writer']} {op['kind']}: {o['error_module']}.{error}: {message[:300]}")
    return bad


def check_outcomes(engine, plan: dict, before: dict, outcomes: list[dict]) -> None:
    ok = collections.defaultdict(list)
    for o in outcomes:
        if o["ok"]:
            ok[o["op"]["kind"]].append(o)
    assert unexpected_refusals(outcomes) == []
    after = snapshot(engine, {**plan, "audit_head": before["audit_head"]})

    # No duplicate sign-off: one row per (version, signer, role, facts revision), exactly the
    # successful ones. Each key raced from two writers succeeded once — or twice when a scope
    # revision racing with them made the first approval stale in between (a re-confirmation).
    rows = collections.Counter(after["sign_offs"])
    assert rows.most_common(1)[0][1] == 1
    new_rows = set(rows) - set(before["sign_offs"])
    assert new_rows == {(o["wrote"]["version_id"], o["wrote"]["signer"], o["wrote"]["role"],
                         o["wrote"]["facts_revision_seq"]) for o in ok["sign_off"]}
    attempted = {(o["op"]["version_id"], o["op"]["actor"]["email"], o["op"]["role"])
                 for o in outcomes if o["op"]["kind"] == "sign_off"}
    assert {row[:3] for row in new_rows} == attempted and len(attempted) == 2 * len(SIGNERS)
    successes = collections.Counter(row[:3] for row in new_rows)
    assert all(1 <= n <= 2 for n in successes.values())
    for key, n in successes.items():
        if n == 2:  # the two succeeded only because the facts changed between them
            assert len({row[3] for row in new_rows if row[:3] == key}) == 2

    # No lost checklist update: each item's successful writes got consecutive versions, the
    # final version counts them, and the final state is the last one written.
    for item_id, (final_version, final_done, final_by) in after["items"].items():
        writes = sorted((o["wrote"] for o in ok["checklist"] if o["wrote"]["item_id"] == item_id),
                        key=lambda w: w["version"])
        start = before["items"][item_id][0]
        assert [w["version"] for w in writes] == list(range(start + 1, start + 1 + len(writes)))
        assert [w["expected_version"] for w in writes] == list(range(start, start + len(writes)))
        assert final_version == start + len(writes)
        if writes:
            assert (final_done, final_by) == (writes[-1]["done"], writes[-1]["done_by"])
    race = [o for o in outcomes if o["op"].get("race")]
    assert sum(o["ok"] for o in race) == 1, "everyone saved the same version of one item: exactly one wins"

    # No lost revision: consecutive sequence numbers after the demo's, each successful revision
    # and import present with the number and reason it was given.
    new = [r for r in after["revisions"] if r.seq > before["revisions"][-1].seq]
    first_seq = before["revisions"][-1].seq + 1
    assert [r.seq for r in new] == list(range(first_seq, first_seq + len(new)))
    written = ok["revision"] + ok["affected_import"]
    assert len(ok["revision"]) == sum(1 for o in outcomes if o["op"]["kind"] == "revision")
    assert sorted((r.seq, r.reason) for r in new) == sorted((o["wrote"]["seq"], o["wrote"]["reason"]) for o in written)
    shared = [o for o in outcomes if o["op"]["kind"] == "affected_import" and o["op"]["shared_file"]]
    assert sum(o["ok"] for o in shared) == 1, "the same affected file imported twice at once: exactly one wins"

    # Message versions: numbered on from the last one without a gap, each saved draft present; of
    # the two identical drafts at least one is saved.
    first = before["drafts"][-1][0] + 1
    new_drafts = after["drafts"][len(before["drafts"]):]
    assert after["drafts"][:len(before["drafts"])] == before["drafts"]
    assert [n for n, _sha in new_drafts] == list(range(first, first + len(new_drafts)))
    assert sorted(new_drafts) == sorted((o["wrote"]["number"], o["wrote"]["sha256"]) for o in ok["save_message"])
    # Every drafter started from the same version: exactly one draft is saved, none silently over another.
    assert len(ok["save_message"]) == 1

    # Delivery reports: each successful import stored once; the shared file at most once; the
    # first to commit always succeeds; every recount of the outreach state is audited.
    new_reports = collections.Counter(after["reports"]) - collections.Counter(before["reports"])
    assert sorted(new_reports.elements()) == sorted(o["wrote"]["sha256"] for o in ok["delivery_import"])
    # The demo has no outreach state (generation 0), so recounts after affected imports write
    # nothing until a report is in, and the first report to commit cannot have been overtaken.
    assert before["generation"] == 0 and len(ok["delivery_import"]) >= 1
    assert sum(o["ok"] for o in outcomes if o["op"]["kind"] == "delivery_import" and o["op"]["shared_file"]) <= 1

    # The audit chain verifies, and holds exactly one event per successful write.
    verification = verify_chain(engine)
    assert verification.ok, verification.broken
    actions = collections.Counter(action for action, _entity in after["audit_actions"])
    # A sign-off that renewed a stale approval is audited as a re-confirmation.
    signed = ("comms.signed_off", "comms.sign_off_reconfirmed")
    assert sum(actions[a] for a in signed) == len(ok["sign_off"])
    assert {int(e) for a, e in after["audit_actions"] if a in signed} == \
        {o["wrote"]["sign_off_id"] for o in ok["sign_off"]}
    assert actions["comms.checklist_item_set"] == len(ok["checklist"])
    assert actions["scope.revised"] == len(written)
    assert actions["scope.file_imported"] == len(ok["affected_import"])  # with the file's mode
    assert actions["comms.message_saved"] == len(ok["save_message"])
    assert actions["outreach.report_imported"] == len(ok["delivery_import"])
    assert actions["outreach.state_computed"] == after["generation"] - before["generation"]
    assert set(actions) <= {"comms.signed_off", "comms.sign_off_reconfirmed", "comms.checklist_item_set",
                            "comms.message_saved", "scope.revised", "scope.file_imported", "outreach.report_imported", "outreach.state_computed", "obligations.recomputed"}
    assert verification.checked == after["audit_count"] == before["audit_count"] + sum(actions.values())


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_concurrent_writers__no_lost_update_no_duplicate_and_clear_refusals(databases, backend, mode, tmp_path):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    try:
        plan = build_plan(engine, tmp_path)
        before = snapshot(engine, plan)
        assert verify_chain(engine).checked == before["audit_count"]
        runner = run_threads if mode == "threads" else run_processes
        outcomes, elapsed = runner(url, plan["ops"])
        assert len(outcomes) == sum(len(ops) for ops in plan["ops"])
        refused = [o for o in outcomes if not o["ok"]]
        label = f"concurrency {backend} {mode} ({WRITERS} writers)"
        report(f"{label}: ops/s", round(len(outcomes) / elapsed, 1))
        report(f"{label}: attempts", len(outcomes))
        report(f"{label}: seconds", round(elapsed, 1))
        report(f"{label}: conflicts (refused)", len(refused))
        report(f"{label}: refusals by kind", describe_refusals(refused))
        check_outcomes(engine, plan, before, outcomes)
    finally:
        engine.dispose()


def test_write_waiting_too_long_for_the_lock__clear_message_nothing_written(databases, backend, monkeypatch):
    """A write that cannot get the write lock within the timeout is refused with a message, not
    a driver error ("database is locked") nor an endless wait; the next try saves normally."""
    monkeypatch.setattr(db, "WRITE_LOCK_TIMEOUT_S", 0.5)
    url = databases.fresh_url(backend, demo=True)
    engine, holder = make_engine(url), make_engine(url)
    editor = actor_from(_person("editor", "pr"))
    try:
        with read_session(engine) as session:
            item = session.exec(select(ChecklistItem).order_by(col(ChecklistItem.id))).first()
        with write_session(holder):  # another unit of work holds the write lock for too long
            with pytest.raises(DatabaseUnavailable, match=r"^The database was busy saving other changes for over "
                                                          r"0\.5 seconds; this change was not saved — try again"):
                comms.set_checklist_item(engine, actor=editor, item_id=item.id, done=True,
                                         expected_version=item.version)
        saved = comms.set_checklist_item(engine, actor=editor, item_id=item.id, done=True,
                                         expected_version=item.version)
        assert saved.version == item.version + 1
        assert verify_chain(engine).ok
    finally:
        engine.dispose()
        holder.dispose()
