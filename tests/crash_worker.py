"""A worker the crash-safety test SIGKILLs in flight: `python -m tests.crash_worker ...`.

It runs one write operation through the real service against a database, and stops at a chosen
point so the parent can kill it there. Test code only: the product is not changed; this module
wraps names *in the service modules' namespaces* for its own process.

`python -m tests.crash_worker serve` imports everything once, then forks one worker per line of
JSON read on standard input ({"argv": [...], "stderr": path, "tmpdir": path}) and answers each
with the worker's pid: a kill then costs a fork, not a Python start-up (the test makes two dozen).

Markers (files in --markers, each written whole, then renamed into place):
  ready   set up, the operation starts now (holds the monotonic time)
  txn     a write transaction (db.write_session) has opened
  paused  stopped at the chosen point, transaction open, rows flushed (JSON: where, evidence)
  done    the operation returned (JSON: its result)

Modes:
  after-write   after the service's last write helper (record_audit, or store_chunks for the
                affected-customers import): flush, count the rows this transaction sees, pause.
  gate          pause before the K-th statement inside the write transaction, or before its
                COMMIT, whichever comes first; the parent also kills at a random delay, so the
                kill lands wherever the operation is by then (often still reading the file).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func, select
from sqlmodel import Session

OPERATIONS = ("affected", "delivery", "json", "signoff")
PAUSE_SECONDS = 600  # the parent kills long before; if it died, do not linger for ever
SIGN_OFF_PHASE = "detailed_follow_up"


def _write_marker(directory: Path, name: str, payload: dict) -> None:
    temporary = directory / f".{name}.tmp"
    temporary.write_text(json.dumps(payload), encoding="utf-8")
    temporary.rename(directory / name)


class Stopper:
    """Where the operation stands, and the pause the parent kills us in."""

    def __init__(self, markers: Path, *, gate_statement: int | None):
        self.markers = markers
        self.gate_statement = gate_statement
        self.ready_at = time.monotonic()
        self.in_write = False
        self.statements = 0  # statements run inside write transactions

    def pause(self, where: str, **evidence) -> None:
        _write_marker(self.markers, "paused", {"where": where, "statements": self.statements,
                                                "elapsed": time.monotonic() - self.ready_at, **evidence})
        time.sleep(PAUSE_SECONDS)
        os._exit(99)  # never carry on: the parent meant to kill us here

    def tracked_write_session(self, original):
        @contextmanager
        def write_session(engine):
            with original(engine) as session:
                self.in_write = True
                if not (self.markers / "txn").exists():
                    _write_marker(self.markers, "txn", {"elapsed": time.monotonic() - self.ready_at})
                yield session
            self.in_write = False
        return write_session

    def install_gate(self, engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _before(_connection, _cursor, statement, _parameters, _context, _executemany):
            if not self.in_write:
                return
            self.statements += 1
            if self.gate_statement is not None and self.statements >= self.gate_statement:
                self.pause("statement", statement=" ".join(statement.split())[:80])

        @event.listens_for(engine, "commit")
        def _commit(_connection):
            if self.in_write and self.gate_statement is not None:
                self.pause("commit")


def _flush_and_pause(stopper: Stopper, session: Session, where: str) -> None:
    from breachdash.audit.models import AuditEvent
    from breachdash.outreach.models import CustomerChunk

    session.flush()
    audit_rows = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    chunk_rows = session.execute(select(func.coalesce(func.sum(CustomerChunk.rows), 0))).scalar_one()
    stopper.pause(where, audit_rows_in_transaction=audit_rows, chunk_customer_rows_in_transaction=int(chunk_rows))


def _pause_after(stopper: Stopper, module, name: str) -> None:
    """Replace module.name (a helper the service calls inside its transaction) by: call it,
    flush, pause."""
    original = getattr(module, name)

    def wrapper(session, *args, **kwargs):
        result = original(session, *args, **kwargs)
        _flush_and_pause(stopper, session, f"after {module.__name__}.{name}")
        return result

    setattr(module, name, wrapper)


def sign_off_target(engine, incident_id: int) -> int:
    """The demo's follow-up message: PR approved its latest version; Legal has not signed yet."""
    from breachdash.comms.models import CommsPhase, MessageVersion
    from breachdash.db import read_session

    with read_session(engine) as session:
        return session.execute(
            select(MessageVersion.id).join(CommsPhase, CommsPhase.id == MessageVersion.phase_id)
            .where(CommsPhase.incident_id == incident_id, CommsPhase.key == SIGN_OFF_PHASE)
            .order_by(MessageVersion.number.desc()).limit(1)).scalar_one()


def run(args) -> dict:
    import breachdash.comms.service as comms
    import breachdash.importers.affected as affected
    import breachdash.importers.delivery as delivery
    import breachdash.outreach.service as outreach
    import breachdash.transfer as transfer
    from breachdash.auth.models import Role
    from breachdash.db import make_engine, write_session
    from breachdash.demo import DEMO_SLUG
    from breachdash.incidents.service import find_incident
    from tests.conftest import actor_with

    markers = Path(args.markers)
    engine = make_engine(args.url)
    incident = find_incident(engine, DEMO_SLUG)
    stopper = Stopper(markers, gate_statement=args.gate_statement if args.mode == "gate" else None)
    for module in (affected, delivery, transfer, comms, outreach):
        module.write_session = stopper.tracked_write_session(write_session)
    stopper.install_gate(engine)
    if args.mode == "after-write":
        if args.op == "affected":  # the revision and its audit event are written before the chunks
            _pause_after(stopper, affected, "store_chunks")
        else:
            _pause_after(stopper, {"delivery": delivery, "json": transfer, "signoff": comms}[args.op], "record_audit")

    if args.op == "signoff":
        version_id = sign_off_target(engine, incident.id)
    elif args.op == "json":
        document = transfer.parse_document(Path(args.file).read_bytes())

    stopper.ready_at = time.monotonic()
    _write_marker(markers, "ready", {"pid": os.getpid()})
    if args.op == "affected":
        revision, summary = affected.import_affected_file(
            engine, actor=actor_with(Role.architect), incident_id=incident.id, path=args.file,
            reason="crash-safety test")
        result = {"revision_id": revision.id, "best": revision.best, "customers": summary.customers}
    elif args.op == "delivery":
        summary = delivery.import_delivery_report(engine, actor=actor_with(Role.pr), incident_id=incident.id,
                                                  path=args.file)
        result = {"rows": summary.rows, "customers": summary.customers, "states_changed": summary.states_changed}
    elif args.op == "json":
        imported = transfer.import_incident(engine, actor=actor_with(Role.admin), document=document)
        result = {"incident_id": imported.id, "slug": imported.slug}
    else:
        record = comms.sign_off(engine, actor=actor_with(Role.legal, email="legal@crash.example"),
                                message_version_id=version_id, role=Role.legal, decision="approve",
                                comment="crash-safety test")
        result = {"sign_off_id": record.id, "message_version_id": version_id}
    engine.dispose()
    return result


def serve() -> int:
    import tempfile
    import traceback

    import breachdash.cli  # noqa: F401 - everything a worker needs, imported before forking
    import breachdash.comms.service  # noqa: F401
    import breachdash.demo  # noqa: F401
    import breachdash.importers.affected  # noqa: F401
    import breachdash.importers.delivery  # noqa: F401
    import breachdash.transfer  # noqa: F401
    import tests.conftest  # noqa: F401

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped as they end
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                with open(request["stderr"], "wb") as err, open(os.devnull, "wb") as out:
                    os.dup2(err.fileno(), 2)
                    os.dup2(out.fileno(), 1)
                os.environ["TMPDIR"] = tempfile.tempdir = request["tmpdir"]
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                code = main(request["argv"])
            except BaseException:  # noqa: BLE001 - the parent reads the reason from stderr
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        print(pid, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash_worker")
    parser.add_argument("--url", required=True)
    parser.add_argument("--op", choices=OPERATIONS, required=True)
    parser.add_argument("--file", help="the file to import (affected, delivery, json)")
    parser.add_argument("--markers", required=True, help="directory for the marker files")
    parser.add_argument("--mode", choices=("after-write", "gate"), required=True)
    parser.add_argument("--gate-statement", type=int, default=10**9)
    args = parser.parse_args(argv)
    result = run(args)
    _write_marker(Path(args.markers), "done", result)
    return 0


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["serve"] else main())
