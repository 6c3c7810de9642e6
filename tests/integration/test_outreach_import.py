"""Delivery-report import: exact figures against an independent count, latest event wins in any
file order, bad files refused whole (nothing written), re-imports refused, crash safety."""
import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from breachdash.audit.service import verify_chain
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.errors import Conflict, InvalidInput, PermissionDenied, StaleUpdate
from breachdash.importers.affected import import_affected_file
from breachdash.importers.delivery import import_delivery_report
from breachdash.incidents.service import find_incident
from breachdash.outreach import service as outreach
from breachdash.outreach.rules import STATUS_PRECEDENCE
from breachdash.demo import DEMO_SLUG
from breachdash.synth import write_synthetic
from tests.conftest import DEMO_ANCHOR, actor_with
from tests.integration.test_transfer import database_dump

PR = actor_with(Role.pr)
ARCHITECT = actor_with(Role.architect)
ROOT = Path(__file__).resolve().parents[2]
# The demo incident (anchored at DEMO_ANCHOR) sent its initial notice about three days in.
SENT_AT = DEMO_ANCHOR + timedelta(days=4)
HEADER = "customer_id,phase,channel,status,event_time,vendor_ref\n"
DELIVERED = {"delivered", "opened", "replied", "opted_out"}


@pytest.fixture
def incident(demo_engine):
    return find_incident(demo_engine, DEMO_SLUG)


def _write(tmp_path, text: str, name="report.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(*rows) -> str:
    return HEADER + "".join(",".join(row) + "\n" for row in rows)


def _at(hours: float) -> str:
    return (SENT_AT + timedelta(hours=hours)).isoformat()


def _import(engine, incident, path, actor=PR, **kwargs):
    return import_delivery_report(engine, actor=actor, incident_id=incident.id, path=path, **kwargs)


def _report_counts(engine, incident) -> dict:
    cells = outreach.outreach_cells(engine, actor=PR, incident_id=incident.id)
    cells = cells[cells["source"] == "report"]
    return {m: int(cells[m].sum()) for m in ("targeted", "sent", "delivered", "bounced", "failed", "opened",
                                             "replied", "opted_out")}


def independent_states(paths: list[Path]) -> dict[tuple, tuple]:
    """Latest (time, status) per customer x phase x channel, the way a reviewer would by hand."""
    latest: dict[tuple, tuple] = {}
    for path in paths:
        table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={"event_time": "string"}))
        for row in table.to_pylist():
            key = (row["customer_id"], row["phase"], row["channel"])
            candidate = (datetime.fromisoformat(row["event_time"]), STATUS_PRECEDENCE[row["status"]], row["status"])
            if key not in latest or candidate[:2] > latest[key][:2]:
                latest[key] = candidate
    return latest


def expected_counts(states: dict) -> dict:
    statuses = [s for _t, _p, s in states.values()]
    return {
        "targeted": len(statuses),
        "sent": sum(s not in ("targeted", "failed") for s in statuses),
        "delivered": sum(s in DELIVERED for s in statuses),
        "bounced": statuses.count("bounced"), "failed": statuses.count("failed"),
        "opened": statuses.count("opened"), "replied": statuses.count("replied"),
        "opted_out": statuses.count("opted_out"),
    }


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_import__figures_match_an_independent_count(demo_engine, incident, tmp_path, suffix):
    write_synthetic(customers=4_000, out_dir=tmp_path, seed=5, sent_at=SENT_AT)
    import_affected_file(demo_engine, actor=ARCHITECT, incident_id=incident.id,
                         path=tmp_path / "affected_customers.csv")
    path = tmp_path / f"delivery_status{suffix}"
    progress = []
    summary = _import(demo_engine, incident, path, progress=lambda f, m: progress.append(f))
    states = independent_states([path])
    assert summary.rows == pq.read_metadata(tmp_path / "delivery_status.parquet").num_rows
    assert summary.customers == 4_000
    assert _report_counts(demo_engine, incident) == expected_counts(states)
    assert progress[-1] == 1.0 and progress == sorted(progress)

    funnel = outreach.funnel_frame(demo_engine, actor=PR, incident_id=incident.id, phase_key="initial_notice")
    assert dict(zip(funnel["step"], funnel["customers"]))["affected"] == 4_000
    counts = outreach.reconciliation(demo_engine, actor=PR, incident_id=incident.id).counts
    unreached = {k[0] for k, v in states.items() if v[2] in ("bounced", "failed")}
    assert counts["targeted"] == 4_000 and counts["never_targeted"] == 0 and counts["not_in_affected_list"] == 0
    assert counts["uncontactable"] == len(unreached) and counts["contactable"] == 4_000 - len(unreached)

    bounces = list(csv.DictReader(io.StringIO(outreach.bounce_list_csv(
        demo_engine, actor=PR, incident_id=incident.id).decode())))
    assert {row["customer_id"] for row in bounces} == unreached
    uncontactable = outreach.reconciliation_ids_csv(demo_engine, actor=PR, incident_id=incident.id,
                                                    key="uncontactable").decode().split()
    assert set(uncontactable[1:]) == unreached and uncontactable[0] == "customer_id"

    # A customer with two events: the lookup shows both and the state the count used.
    key, (_time, _rank, status) = next((k, v) for k, v in states.items()
                                       if sum(1 for r in pacsv.read_csv(tmp_path / "delivery_status.csv")
                                              .column("customer_id").to_pylist()[:500] if r == k[0]) == 2)
    history = outreach.customer_history(demo_engine, actor=PR, incident_id=incident.id, customer_id=key[0])
    assert len(history.events) == 2 and history.states["status"].tolist() == [status]
    assert history.affected is not None


def test_latest_event_wins_whatever_order_files_arrive_in(databases, backend, tmp_path):
    from breachdash.db import make_engine

    early = _rows(*[(f"c{i}", "initial_notice", "email", "sent", _at(1), f"v{i}") for i in range(50)])
    late = _rows(*[(f"c{i}", "initial_notice", "email", "delivered" if i % 5 else "bounced", _at(5), f"w{i}")
                   for i in range(50)])
    results = []
    for order in (("early", "late"), ("late", "early")):
        engine = make_engine(databases.fresh_url(backend, demo=True))
        incident = find_incident(engine, DEMO_SLUG)
        for name in order:
            _import(engine, incident, _write(tmp_path, early if name == "early" else late, f"{name}.csv"))
        results.append(_report_counts(engine, incident))
        engine.dispose()
    assert results[0] == results[1]
    assert results[0]["delivered"] == 40 and results[0]["bounced"] == 10 and results[0]["targeted"] == 50


def test_overlapping_files_never_double_count(demo_engine, incident, tmp_path):
    first = [(f"c{i}", "initial_notice", "sms", "delivered", _at(2), f"v{i}") for i in range(30)]
    second = first[10:] + [(f"c{i}", "initial_notice", "sms", "delivered", _at(2), f"v{i}") for i in range(30, 40)]
    _import(demo_engine, incident, _write(tmp_path, _rows(*first), "a.csv"))
    summary = _import(demo_engine, incident, _write(tmp_path, _rows(*second), "b.csv"))
    assert _report_counts(demo_engine, incident)["delivered"] == 40
    assert summary.states_changed == 10


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("statuses, winner", [
    (("delivered", "bounced"), "bounced"),
    (("bounced", "opened"), "opened"),
    (("failed", "sent"), "failed"),
    (("opted_out", "replied"), "opted_out"),
])
def test_same_timestamp_conflict__the_defined_tie_break(demo_engine, incident, tmp_path, statuses, winner, reverse):
    rows = [("c1", "initial_notice", "email", status, _at(3), f"v-{status}") for status in statuses]
    _import(demo_engine, incident, _write(tmp_path, _rows(*(rows[::-1] if reverse else rows))))
    history = outreach.customer_history(demo_engine, actor=PR, incident_id=incident.id, customer_id="c1")
    assert history.states["status"].tolist() == [winner]
    assert _report_counts(demo_engine, incident)[winner] == 1


BAD_FILES = {
    "unknown status": (_rows(("c1", "initial_notice", "email", "delivered", _at(1), "v"),
                             ("c2", "initial_notice", "email", "evaporated", _at(1), "v")),
                       "row 2, column status"),
    "unknown channel": (_rows(("c1", "initial_notice", "carrier pigeon", "sent", _at(1), "v")),
                        "row 1, column channel"),
    "unknown phase": (_rows(("c1", "no_such_phase", "email", "sent", _at(1), "v")), "row 1, column phase"),
    "phase never sent": (_rows(("c1", "closure_review", "email", "sent", _at(1), "v")), "has not been sent"),
    "future event": (_rows(("c1", "initial_notice", "email", "sent", "2999-01-01T00:00:00Z", "v")),
                     "is in the future"),
    "before the incident": (_rows(("c1", "initial_notice", "email", "sent", "2020-01-01T00:00:00Z", "v")),
                            "before the incident began"),
    "not a time": (_rows(("c1", "initial_notice", "email", "sent", "yesterday-ish", "v")), "row 1, column event_time"),
    "empty id": (_rows(("c1", "initial_notice", "email", "sent", _at(1), "v"),
                       ("  ", "initial_notice", "email", "sent", _at(1), "v")), "row 2, column customer_id"),
    "huge id": (_rows(("x" * 5000, "initial_notice", "email", "sent", _at(1), "v")), "longer than 128"),
    "truncated file": (_rows(("c1", "initial_notice", "email", "sent", _at(1), "v"))
                       + "c2,initial_notice,em", "wrong number of columns"),
    "zero bytes": ("", "the file is empty"),
    "header only": (HEADER, "no rows"),
    "direct identifiers": ("customer_id,email,phase,channel,status,event_time\n"
                           f"c1,a@example.com,initial_notice,email,sent,{_at(1)}\n", "direct-identifier"),
    "missing column": ("customer_id,phase,channel,status\nc1,initial_notice,email,sent\n", "missing column"),
    "semicolons": ("customer_id;phase;channel;status;event_time\n", "semicolon"),
    "binary": ("\x00\x01\x02garbage", "NUL byte"),
    "hostile text": (_rows(("<script>alert(1)</script>", "initial_notice", "email", "'; DROP TABLE incidents; --",
                            _at(1), "v")), "row 1, column status"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file__refused_with_row_and_column_and_nothing_written(demo_engine, incident, tmp_path, case):
    content, expected = BAD_FILES[case]
    before = database_dump(demo_engine)
    with pytest.raises(InvalidInput) as refused:
        _import(demo_engine, incident, _write(tmp_path, content))
    assert expected in str(refused.value)
    assert database_dump(demo_engine) == before


def test_many_bad_rows__reports_the_first_ones_only(demo_engine, incident, tmp_path):
    rows = [(f"c{i}", "initial_notice", "email", "lost", _at(1), "v") for i in range(5_000)]
    with pytest.raises(InvalidInput) as refused:
        _import(demo_engine, incident, _write(tmp_path, _rows(*rows)))
    assert 1 <= len(refused.value.problems) <= 20 and refused.value.problems[0][0] == "row 1, column status"


def test_reimport__same_file_or_renamed_copy_refused_and_nothing_changes(demo_engine, incident, tmp_path):
    content = _rows(*[(f"c{i}", "initial_notice", "email", "delivered", _at(2), f"v{i}") for i in range(20)])
    _import(demo_engine, incident, _write(tmp_path, content, "report.csv"))
    before = database_dump(demo_engine)
    for name in ("report.csv", "renamed-copy.csv"):
        with pytest.raises(Conflict, match="already imported"):
            _import(demo_engine, incident, _write(tmp_path, content, name))
    assert database_dump(demo_engine) == before


def test_only_pr_imports_and_downloads(demo_engine, incident, tmp_path):
    path = _write(tmp_path, _rows(("c1", "initial_notice", "email", "sent", _at(1), "v")))
    for role in (Role.executive, Role.legal, Role.architect, Role.admin):
        actor = actor_with(role)
        with pytest.raises(PermissionDenied):
            _import(demo_engine, incident, path, actor=actor)
        with pytest.raises(PermissionDenied):
            outreach.bounce_list_csv(demo_engine, actor=actor, incident_id=incident.id)
        with pytest.raises(PermissionDenied):
            outreach.reconciliation_ids_csv(demo_engine, actor=actor, incident_id=incident.id, key="contactable")
        with pytest.raises(PermissionDenied):
            outreach.save_inquiry_days(demo_engine, actor=actor, incident_id=incident.id, rows=[])


def test_report_supersedes_hand_entered_counts_of_the_same_channel(demo_engine, incident, tmp_path):
    entered = outreach.outreach_totals(demo_engine, actor=PR, incident_id=incident.id)
    assert entered.loc[entered["key"] == "initial_notice", "delivered"].iloc[0] > 1000  # the demo's email counts
    _import(demo_engine, incident, _write(tmp_path, _rows(
        *[(f"c{i}", "initial_notice", "email", "delivered", _at(2), f"v{i}") for i in range(7)])))
    totals = outreach.outreach_totals(demo_engine, actor=PR, incident_id=incident.id)
    assert totals.loc[totals["key"] == "initial_notice", "delivered"].iloc[0] == 7


def test_new_affected_list_recounts_reconciliation(demo_engine, incident, tmp_path):
    _import(demo_engine, incident, _write(tmp_path, _rows(
        *[(f"c{i}", "initial_notice", "email", "delivered", _at(2), f"v{i}") for i in range(10)])))
    assert outreach.reconciliation(demo_engine, actor=PR, incident_id=incident.id).counts["affected_list"] is False
    affected = tmp_path / "affected.csv"
    affected.write_text("customer_id,region,segment,data_types\n"
                        + "".join(f"c{i},US-CA,gold,name;email\n" for i in range(5, 15))
                        + "c14,US-TX,gold,name\n")
    import_affected_file(demo_engine, actor=ARCHITECT, incident_id=incident.id, path=affected)
    recon = outreach.reconciliation(demo_engine, actor=PR, incident_id=incident.id)
    assert not recon.stale
    assert {k: recon.counts[k] for k in ("affected_customers", "never_targeted", "not_in_affected_list",
                                         "duplicate_ids", "affected_rows")} == {
        "affected_customers": 10, "never_targeted": 5, "not_in_affected_list": 5, "duplicate_ids": 1,
        "affected_rows": 11}
    never = outreach.reconciliation_ids_csv(demo_engine, actor=PR, incident_id=incident.id, key="never_targeted")
    assert never.decode().split() == ["customer_id", "c10", "c11", "c12", "c13", "c14"]
    regions = outreach.completion_frame(demo_engine, actor=PR, incident_id=incident.id, phase_key="initial_notice",
                                        by="region")
    assert dict(zip(regions["region"], regions["targeted"])) == {"US-CA": 5, "(not in affected list)": 5}
    assert verify_chain(demo_engine).ok


def test_inquiry_days__saved_versioned_and_bad_rows_named(demo_engine, incident):
    rows = [{"day": "2026-11-06", "calls": 1200, "mailbox": 300, "call_capacity": 1000},
            {"day": "2026-11-07", "calls": 800, "mailbox": 150, "call_capacity": 1000}]
    assert outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id, rows=rows) == 2
    assert outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id, rows=rows) == 0
    rows[0]["calls"] = 1500
    assert outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id, rows=rows) == 1
    days = outreach.inquiry_frame(demo_engine, actor=PR, incident_id=incident.id)
    assert days["calls"].tolist() == [1500, 800]
    before = database_dump(demo_engine)
    bad = [{"day": "2026-11-08", "calls": -1}, {"day": "not a day"}, {"day": "2026-11-08", "mailbox": "many"},
           {"day": "2026-11-09", "note": "x" * 501}, {"day": "2026-11-10", "surprise": 1}]
    with pytest.raises(InvalidInput) as refused:
        outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id, rows=bad)
    where = [loc for loc, _msg in refused.value.problems]
    assert any(w.startswith("row 1, calls") for w in where) and any(w.startswith("row 2, day") for w in where)
    assert any(w.startswith("row 3") for w in where) and any(w.startswith("row 4, note") for w in where)
    assert any(w.startswith("row 5") for w in where)
    with pytest.raises(InvalidInput, match="at most"):
        outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id,
                                   rows=[{"day": "2026-11-08"}] * 1001)
    assert database_dump(demo_engine) == before


@pytest.mark.parametrize("data, expected", [
    (b"", "empty"), (b"\xff\xfe\x00bad", "UTF-8"), (b"when,calls\n2026-11-01,3\n", "expected day"),
    (b"day,calls\n2026-11-01,3,4\n", "row 1"),
])
def test_inquiry_csv__bad_files_named(data, expected):
    with pytest.raises(InvalidInput, match=expected):
        outreach.parse_inquiry_csv(data)


def test_inquiry_csv__parses_days():
    rows = outreach.parse_inquiry_csv(b"\xef\xbb\xbfday,calls,mailbox,call_capacity,note\n2026-11-06,10,2,8,launch\n"
                                      b"2026-11-07,,1,8,\n")
    assert rows == [{"day": "2026-11-06", "calls": "10", "mailbox": "2", "call_capacity": "8", "note": "launch"},
                    {"day": "2026-11-07", "mailbox": "1", "call_capacity": "8"}]


def test_killed_import__leaves_nothing_partial_and_a_retry_succeeds(databases, backend, tmp_path):
    """SIGKILL the CLI import while it writes (it prints 'saving' as the transaction opens)."""
    from breachdash.db import make_engine

    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    incident = find_incident(engine, DEMO_SLUG)
    write_synthetic(customers=150_000, out_dir=tmp_path, seed=9, formats=["csv"], sent_at=SENT_AT)
    path = tmp_path / "delivery_status.csv"
    before = database_dump(engine)
    env = {**os.environ, "DATABASE_URL": url}
    for stage in ("reading the file", "saving"):
        process = subprocess.Popen([sys.executable, "-m", "breachdash", "import-outreach", str(path), "--incident",
                                    incident.slug], cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        seen = b""
        deadline = time.monotonic() + 120
        while stage.encode() not in seen and process.poll() is None and time.monotonic() < deadline:
            seen += process.stderr.read1(256)
        assert process.poll() is None, f"the import finished before it could be killed at {stage!r}: {seen[-300:]}"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
        assert database_dump(engine) == before, f"partial data after a kill at {stage!r}"
    assert verify_chain(engine).ok
    summary = _import(engine, incident, path)
    assert summary.customers == 150_000
    assert _report_counts(engine, incident) == expected_counts(independent_states([path]))
    engine.dispose()


def test_inquiry_days__a_day_changed_since_it_was_shown_is_refused_and_nothing_written(demo_engine):
    """Issue 19.2: two PR people edit the inquiry table; the second save, from a stale table,
    names who changed the day and when, and writes nothing (not even its other days)."""
    incident = find_incident(demo_engine, DEMO_SLUG)
    outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id,
                               rows=[{"day": "2026-11-06", "calls": 100}, {"day": "2026-11-07", "calls": 200}])
    shown = outreach.inquiry_versions(outreach.inquiry_frame(demo_engine, actor=PR, incident_id=incident.id))
    other = actor_with(Role.pr, email="other-pr@x.example")
    outreach.save_inquiry_days(demo_engine, actor=other, incident_id=incident.id,
                               rows=[{"day": "2026-11-06", "calls": 150}], shown_versions=shown)
    before = database_dump(demo_engine)
    with pytest.raises(StaleUpdate, match=r"06 Nov 2026: This record was changed by other-pr@x.example at .* reload"):
        outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id, shown_versions=shown,
                                   rows=[{"day": "2026-11-06", "calls": 120}, {"day": "2026-11-08", "calls": 5}])
    assert database_dump(demo_engine) == before
    # A row the person left as the other person saved it is no overwrite; a file import replaces by design.
    assert outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id, shown_versions=shown,
                                      rows=[{"day": "2026-11-06", "calls": 150}, {"day": "2026-11-08", "calls": 5}]) == 1
    assert outreach.save_inquiry_days(demo_engine, actor=PR, incident_id=incident.id,
                                      rows=[{"day": "2026-11-06", "calls": 170}]) == 1
