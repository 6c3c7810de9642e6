"""One concurrent writer for tests/integration/test_concurrency.py.

A writer runs its list of operations against the database through the services, as a signed-in
person would, and records every attempt: what it wrote, or the exception's type and message.
Threads call `run_writer` with a shared engine (one server, many sessions); processes start
`process_main` with multiprocessing's spawn context and build their own engine (several servers).
Operations and outcomes are plain dicts, so they cross process boundaries as they are.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import Engine

from breachdash.auth.models import Role
from breachdash.auth.rules import Actor
from breachdash.comms import service as comms
from breachdash.comms.models import ChecklistItem
from breachdash.db import make_engine, read_session
from breachdash.importers.affected import import_affected_file
from breachdash.importers.delivery import import_delivery_report
from breachdash.scope.service import record_revision


def actor(spec: dict) -> Actor:
    return Actor(email=spec["email"], roles=frozenset(Role(r) for r in spec["roles"]))


def _sign_off(engine: Engine, op: dict) -> dict:
    record = comms.sign_off(engine, actor=actor(op["actor"]), message_version_id=op["version_id"],
                            role=op["role"], decision="approve", comment=op["comment"])
    return {"sign_off_id": record.id, "version_id": record.message_version_id, "signer": record.signer,
            "role": record.role, "facts_revision_seq": record.facts_revision_seq}


def _save_message(engine: Engine, op: dict) -> dict:
    """Save a draft from the version the person had open (`base_number`, all writers opened the
    page at the same moment); a version another writer saved meanwhile is refused as stale."""
    version = comms.save_message(engine, actor=actor(op["actor"]), phase_id=op["phase_id"], subject=op["subject"],
                                 body=op["body"], base_number=op["base_number"])
    return {"version_id": version.id, "number": version.number, "sha256": version.content_sha256}


def _checklist(engine: Engine, op: dict) -> dict:
    """Tick or untick an item with the version the person saw: the plan's (everyone opened the
    page at the same moment) or, without one, what a fresh read shows just before saving."""
    with read_session(engine) as session:
        item = session.get(ChecklistItem, op["item_id"])
        seen_version, seen_done = item.version, item.done_at is not None
    expected = op.get("expected_version") or seen_version
    done = op["done"] if "done" in op else not seen_done
    saved = comms.set_checklist_item(engine, actor=actor(op["actor"]), item_id=op["item_id"], done=done,
                                     expected_version=expected)
    return {"item_id": saved.id, "version": saved.version, "done": saved.done_at is not None,
            "done_by": saved.done_by, "expected_version": expected}


def _revision(engine: Engine, op: dict) -> dict:
    revision = record_revision(engine, actor=actor(op["actor"]), incident_id=op["incident_id"], revision_in={
        "low": op["best"] - 10, "best": op["best"], "high": op["best"] + 10, "reason": op["reason"]})
    return {"seq": revision.seq, "reason": revision.reason, "revision_id": revision.id}


def _affected_import(engine: Engine, op: dict) -> dict:
    revision, summary = import_affected_file(engine, actor=actor(op["actor"]), incident_id=op["incident_id"],
                                             path=Path(op["path"]), reason=op["reason"])
    return {"seq": revision.seq, "reason": revision.reason, "revision_id": revision.id,
            "sha256": summary.sha256, "customers": summary.customers}


def _delivery_import(engine: Engine, op: dict) -> dict:
    summary = import_delivery_report(engine, actor=actor(op["actor"]), incident_id=op["incident_id"],
                                     path=Path(op["path"]))
    return {"sha256": summary.sha256, "rows": summary.rows}


PERFORM: dict[str, Callable[[Engine, dict], dict]] = {
    "sign_off": _sign_off,
    "save_message": _save_message,
    "checklist": _checklist,
    "revision": _revision,
    "affected_import": _affected_import,
    "delivery_import": _delivery_import,
}


def attempt(engine: Engine, writer: str, op: dict) -> dict:
    started = time.perf_counter()
    try:
        outcome = {"ok": True, "wrote": PERFORM[op["kind"]](engine, op)}
    except Exception as exc:  # noqa: BLE001 - every refusal is recorded; the test judges each one
        outcome = {"ok": False, "error": type(exc).__name__, "error_module": type(exc).__module__,
                   "message": str(exc)}
    return {**outcome, "writer": writer, "op": op, "seconds": time.perf_counter() - started}


def run_writer(engine: Engine, writer: str, ops: list[dict], ready: Callable[[], object]) -> list[dict]:
    """Wait until every writer is ready, then attempt each operation in turn."""
    ready()
    return [attempt(engine, writer, op) for op in ops]


def process_main(url: str, writer: str, ops: list[dict], barrier, results) -> None:
    """Entry point of one writer process: its own engine, as a separate server would have."""
    engine = make_engine(url)
    try:
        outcomes = run_writer(engine, writer, ops, barrier.wait)
        results.put((writer, outcomes, time.time()))
    finally:
        engine.dispose()
