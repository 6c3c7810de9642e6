"""Issue 19, items 7 and 10: ids that look like direct identifiers and NUL characters are refused
by both per-customer importers (naming row and column, nothing written) unless the ids are
declared pseudonymous (audited); errors stay readable at any size. SQLite and PostgreSQL."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmodel import Session, select

from breachdash.audit.models import AuditEvent
from breachdash.auth.rules import system_actor
from breachdash.cli import main as cli_main
from breachdash.errors import InvalidInput
from breachdash.importers.affected import import_affected_file
from breachdash.importers.delivery import import_delivery_report
from breachdash.incidents.service import create_incident, find_incident
from breachdash.demo import DEMO_SLUG
from breachdash.transfer import dumps, export_incident
from tests.integration.test_affected_import import ARCHITECT
from tests.integration.test_outreach_import import HEADER as DELIVERY_HEADER
from tests.integration.test_outreach_import import PR, _at
from tests.integration.test_transfer import database_dump

AFFECTED_HEADER = "customer_id,region,segment,system,data_types\n"
DIRECT_IDS = {
    "person0@gmail.com": "looks like an email address",
    " Person.Zero+tag@example.co.uk ": "looks like an email address",
    "+1 415 555 0100": "looks like a phone number",
    "(415) 555-0100": "looks like a phone number",
    "+44 20 7946 0958": "looks like a phone number",
    "123-45-6789": "looks like a US social security number",
    "4111 1111 1111 1111": "looks like a payment card number",
    "4111-1111-1111-1111": "looks like a payment card number",
    "378282246310005": "looks like a payment card number",
}
PSEUDONYMOUS_IDS = ["cus_9e3779b97f4a7c15", "4111111111111112", "2024-01-0001", "12345", "c-415-555", "user@host",
                    "0000000000000"]


@pytest.fixture
def incident(engine):
    return create_incident(engine, actor=system_actor(), incident_in={"slug": "ids", "title": "T", "company": "C"})


@pytest.fixture
def demo_incident(demo_engine):
    return find_incident(demo_engine, DEMO_SLUG)


def _affected(engine, incident, path, **kwargs):
    return import_affected_file(engine, actor=ARCHITECT, incident_id=incident.id, path=path, **kwargs)


def _delivery(engine, incident, path, **kwargs):
    return import_delivery_report(engine, actor=PR, incident_id=incident.id, path=path, **kwargs)


def _affected_csv(ids: list[str]) -> str:
    return AFFECTED_HEADER + "".join(f'"{i}",DE,,db,name\n' for i in ids)


def _delivery_csv(ids: list[str], vendor_ref: str = "v") -> str:
    return DELIVERY_HEADER + "".join(f'"{i}",initial_notice,email,delivered,{_at(2)},{vendor_ref}\n' for i in ids)


def _audit_after(engine, action: str) -> dict:
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == action)
                             .order_by(AuditEvent.id.desc())).first()
    return json.loads(event.after_json)


def _refused(engine, run) -> InvalidInput:
    before = database_dump(engine)
    with pytest.raises(InvalidInput) as refused:
        run()
    assert database_dump(engine) == before
    return refused.value


# ------------------------------------------------------------------ item 7: identifiers

@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_affected__direct_identifiers_as_ids_are_refused_by_row_without_echoing_them(engine, incident, tmp_path,
                                                                                     suffix):
    ids = ["c1"] + list(DIRECT_IDS) + PSEUDONYMOUS_IDS
    path = tmp_path / f"affected{suffix}"
    if suffix == ".csv":
        path.write_text(_affected_csv(ids), encoding="utf-8")
    else:
        pq.write_table(pa.table({"customer_id": ids, "region": ["DE"] * len(ids), "data_types": ["name"] * len(ids)}),
                       path)
    refused = _refused(engine, lambda: _affected(engine, incident, path))
    expected = [(f"row {n}, column customer_id", f"{DIRECT_IDS[i]} — ids must be pseudonymous")
                for n, i in enumerate(ids, start=1) if i in DIRECT_IDS]
    assert refused.problems == expected
    assert "--ids-are-pseudonymous" in refused.hint and "audit" in refused.hint
    assert not any(i.strip() in str(refused) for i in DIRECT_IDS)  # never echoed back


def test_affected__the_override_imports_them_and_is_audited(engine, incident, tmp_path):
    path = tmp_path / "affected.csv"
    path.write_text(_affected_csv(list(DIRECT_IDS) + PSEUDONYMOUS_IDS), encoding="utf-8")
    revision, summary = _affected(engine, incident, path, ids_are_pseudonymous=True)
    assert revision.best == len(DIRECT_IDS) + len(PSEUDONYMOUS_IDS)
    assert _audit_after(engine, "scope.file_imported")["ids_are_pseudonymous"] is True
    other = tmp_path / "other.csv"
    other.write_text(_affected_csv(PSEUDONYMOUS_IDS), encoding="utf-8")
    _affected(engine, incident, other)  # pseudonymous-looking ids need no override
    assert _audit_after(engine, "scope.file_imported")["ids_are_pseudonymous"] is False


def test_affected__cli_refuses_then_imports_with_ids_are_pseudonymous(engine, incident, tmp_path, capsys):
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "affected.csv"
    path.write_text(_affected_csv(["c1", "person0@gmail.com"]), encoding="utf-8")
    assert cli_main(["--database-url", url, "import-affected", str(path), "--incident", "ids", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "row 2, column customer_id: looks like an email address — ids must be pseudonymous" in err
    assert "person0" not in err
    assert cli_main(["--database-url", url, "import-affected", str(path), "--incident", "ids", "--yes",
                     "--ids-are-pseudonymous"]) == 0
    out = capsys.readouterr().out
    assert "declared pseudonymous" in out and "Recorded scope revision 1" in out
    assert _audit_after(engine, "scope.file_imported")["ids_are_pseudonymous"] is True


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_delivery__direct_identifiers_as_ids_are_refused_then_imported_with_the_override(demo_engine, demo_incident,
                                                                                        tmp_path, suffix):
    ids = ["c1", "person0@gmail.com", "cus_2", "+1 415 555 0100", "123-45-6789", "5555 5555 5555 4444"]
    path = tmp_path / f"report{suffix}"
    if suffix == ".csv":
        path.write_text(_delivery_csv(ids), encoding="utf-8")
    else:
        n = len(ids)
        pq.write_table(pa.table({"customer_id": ids, "phase": ["initial_notice"] * n, "channel": ["email"] * n,
                                 "status": ["delivered"] * n, "event_time": [_at(2)] * n}), path)
    refused = _refused(demo_engine, lambda: _delivery(demo_engine, demo_incident, path))
    assert refused.problems == [
        ("row 2, column customer_id", "looks like an email address — ids must be pseudonymous"),
        ("row 4, column customer_id", "looks like a phone number — ids must be pseudonymous"),
        ("row 5, column customer_id", "looks like a US social security number — ids must be pseudonymous"),
        ("row 6, column customer_id", "looks like a payment card number — ids must be pseudonymous")]
    assert refused.hint
    summary = _delivery(demo_engine, demo_incident, path, ids_are_pseudonymous=True)
    assert summary.rows == len(ids)
    assert _audit_after(demo_engine, "outreach.report_imported")["ids_are_pseudonymous"] is True


# ------------------------------------------------------------------ item 7: NUL anywhere

@pytest.mark.parametrize("column", ["customer_id", "region", "segment", "system", "data_types"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_affected__nul_in_any_column_anywhere_is_refused_by_row_and_column(engine, incident, tmp_path, column,
                                                                           suffix):
    rows = [{"customer_id": f"cus_{i:06d}", "region": "DE", "segment": "gold", "system": "db", "data_types": "name"}
            for i in range(5_000)]  # the NUL lands well past the first 64 KiB
    rows[-2][column] = rows[-2][column][:1] + "\x00" + rows[-2][column][1:]
    path = tmp_path / f"affected{suffix}"
    if suffix == ".csv":
        path.write_text(AFFECTED_HEADER + "".join(",".join(r[c] for c in AFFECTED_HEADER.strip().split(",")) + "\n"
                                                  for r in rows), encoding="utf-8")
        assert path.stat().st_size > 64 * 1024
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    refused = _refused(engine, lambda: _affected(engine, incident, path))
    assert (f"row {len(rows) - 1}, column {column}", "contains a NUL character") in refused.problems


@pytest.mark.parametrize("column", ["customer_id", "phase", "channel", "status", "event_time", "vendor_ref"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_delivery__nul_in_any_column_anywhere_is_refused_by_row_and_column(demo_engine, demo_incident, tmp_path,
                                                                           column, suffix):
    rows = [{"customer_id": f"cus_{i:06d}", "phase": "initial_notice", "channel": "email", "status": "delivered",
             "event_time": _at(2), "vendor_ref": f"vnd-{i}"} for i in range(2_000)]
    rows[-2][column] = rows[-2][column][:1] + "\x00" + rows[-2][column][1:]
    path = tmp_path / f"report{suffix}"
    if suffix == ".csv":
        path.write_text(DELIVERY_HEADER + "".join(",".join(r[c] for c in DELIVERY_HEADER.strip().split(",")) + "\n"
                                                  for r in rows), encoding="utf-8")
        assert path.stat().st_size > 64 * 1024
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    refused = _refused(demo_engine, lambda: _delivery(demo_engine, demo_incident, path))
    assert refused.problems == [(f"row {len(rows) - 1}, column {column}", "contains a NUL character")]


# ------------------------------------------------------------------ item 10: readable at any size

def test_many_problems__twenty_listed_then_how_many_more(engine, incident, tmp_path):
    path = tmp_path / "affected.csv"
    path.write_text(AFFECTED_HEADER + "".join(f"c{i},XX,,db,name\n" for i in range(500)), encoding="utf-8")
    refused = _refused(engine, lambda: _affected(engine, incident, path))
    assert len(refused.problems) == 20 and refused.more == 480
    assert refused.lines()[-1] == "… and 480 more"


def test_a_huge_value__is_cut_and_its_reason_kept(demo_engine, demo_incident, tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(DELIVERY_HEADER + f"c1,initial_notice,email,{'z' * 100_000},{_at(2)},v\n", encoding="utf-8")
    refused = _refused(demo_engine, lambda: _delivery(demo_engine, demo_incident, path))
    location, message = refused.problems[0]
    assert location == "row 1, column status" and message.startswith("is not a delivery status")
    assert message.endswith("… (100,000 characters)") and len(message) <= 200


def test_50000_columns__named_by_count_and_first_few(engine, incident, tmp_path):
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({**{c: ["v"] for c in ("customer_id", "region", "data_types")},
                             **{f"extra_{i}": ["v"] for i in range(50_000)}}), path)
    refused = _refused(engine, lambda: _affected(engine, incident, path))
    assert str(refused) == ("Columns: 50,000 unknown columns: extra_0, extra_1, extra_2, extra_3, extra_4 and "
                            "49,995 more (the header has 50,003 columns)")


def test_a_header_over_64_kib__is_named_as_such(engine, incident, tmp_path):
    path = tmp_path / "affected.csv"
    header = "customer_id,region,data_types," + ",".join(f"c{i}" for i in range(20_000))
    path.write_text(header + "\nc1,DE,name\n", encoding="utf-8")
    refused = _refused(engine, lambda: _affected(engine, incident, path))
    (location, message), = refused.problems
    assert location == "line 1" and f"the header line is {len(header):,} bytes long; the limit is 65,536 bytes" in message
    assert "data_types" not in message


@pytest.mark.parametrize("length", [2_500_000, 1024 ** 3])
def test_an_over_long_line__is_named_with_its_length(engine, incident, tmp_path, length):
    path = tmp_path / "affected.csv"
    with path.open("wb") as handle:
        handle.write(AFFECTED_HEADER.encode() + b"c1,DE,,db,")
        remaining = length - len(b"c1,DE,,db,")
        while remaining:
            step = min(remaining, 64 * 1024 * 1024)
            handle.write(b"x" * step)
            remaining -= step
        handle.write(b"\nc2,DE,,db,name\n")
    try:
        refused = _refused(engine, lambda: _affected(engine, incident, path))
    finally:
        path.unlink()
    assert refused.problems == [("line 2", f"line 2 is {length:,} bytes long; the limit is 2,000,000 bytes (is a "
                                           "quote left open, or is this not a CSV file?)")]


@pytest.mark.parametrize("encoding, name", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"),
                                            ("utf-32", "UTF-32"), ("utf-32-le", "UTF-32")])
def test_utf16_and_utf32__are_named(demo_engine, demo_incident, tmp_path, encoding, name):
    path = tmp_path / "report.csv"
    path.write_bytes(_delivery_csv(["c1"]).encode(encoding))
    refused = _refused(demo_engine, lambda: _delivery(demo_engine, demo_incident, path))
    assert refused.problems == [("file", f"this file is {name}; save it as UTF-8 (CSV UTF-8) and import it again")]


def test_import_incident_cli__a_long_value_keeps_its_reason(demo_engine, demo_incident, tmp_path, capsys):
    document = json.loads(dumps(export_incident(demo_engine, actor=system_actor(), incident_id=demo_incident.id)))
    document["incident"]["slug"] = "another"
    document["incident"]["title"] = "T" * 50_000
    path = tmp_path / "incident.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    url = demo_engine.url.render_as_string(hide_password=False)
    assert cli_main(["--database-url", url, "import-incident", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "$.incident.title" in line)
    assert line.rstrip().endswith("is too long") and "(50,000 characters)" in line and len(line) < 300

    path.write_bytes(json.dumps(document).encode("utf-16"))
    assert cli_main(["--database-url", url, "import-incident", str(path)]) == 2
    assert "this file is UTF-16; save it as UTF-8" in capsys.readouterr().err
