"""Incident JSON: exact round trip, and bad documents refused whole with every problem's path."""
import json
import subprocess
import sys

import pytest
from sqlalchemy import inspect, text

from breachdash.auth.rules import system_actor
from breachdash.db import make_engine, migrate
from breachdash.errors import InvalidInput
from breachdash.incidents.service import find_incident
from breachdash.transfer import dumps, export_incident, import_incident, parse_document


def _demo_document(engine) -> dict:
    incident = find_incident(engine, "kestrel-loyalty-breach")
    return export_incident(engine, actor=system_actor(), incident_id=incident.id)


def database_dump(engine) -> dict:
    """Every row of every table, for 'nothing changed' checks."""
    dump = {}
    with engine.connect() as connection:
        for table in sorted(inspect(engine).get_table_names()):
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            dump[table] = sorted(repr(tuple(row)) for row in rows)
    return dump


def test_round_trip__export_import_export_is_identical(demo_engine, databases, backend):
    document = _demo_document(demo_engine)
    target = make_engine(databases.fresh_url(backend))
    incident = import_incident(target, actor=system_actor(), document=parse_document(dumps(document).encode()))
    again = export_incident(target, actor=system_actor(), incident_id=incident.id)
    assert dumps(again) == dumps(document)
    target.dispose()


def test_round_trip__across_backends(databases):
    if "postgres" not in databases.templates and not __import__("os").environ.get("BREACHDASH_TEST_POSTGRES_URL"):
        pytest.skip("PostgreSQL tests skipped: set BREACHDASH_TEST_POSTGRES_URL")
    source = make_engine(databases.fresh_url("sqlite", demo=True))
    target = make_engine(databases.fresh_url("postgres"))
    document = _demo_document(source)
    incident = import_incident(target, actor=system_actor(), document=document)
    assert dumps(export_incident(target, actor=system_actor(), incident_id=incident.id)) == dumps(document)
    source.dispose()
    target.dispose()


def test_demo_document_covers_every_collection(demo_engine):
    document = _demo_document(demo_engine)
    phases = document["phases"]
    assert len(document["scope_revisions"]) == 7
    assert len(document["timeline_events"]) >= 25
    assert any(p["messages"] for p in phases) and any(m["sign_offs"] for p in phases for m in p["messages"])
    assert any(p["sends"] for p in phases) and any(p["outreach"] for p in phases)
    assert any(o["filings"] for o in document["obligations"])


@pytest.mark.parametrize("raw, message", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "this file is UTF-16; save it as UTF-8"),  # a UTF-16 byte-order mark
    (b"\x80garbage", "not UTF-8"),
    ('{"format_version": 2}'.encode("utf-16-le"), "this file is UTF-16; save it as UTF-8"),
    ('{"format_version": 2}'.encode("utf-32"), "this file is UTF-32; save it as UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"format": NaN}', "not valid JSON"),
])
def test_parse_document__malformed_bytes_get_a_clear_error(raw, message):
    with pytest.raises(InvalidInput, match=message):
        parse_document(raw)


def test_import__every_problem_is_reported_with_its_path_and_nothing_is_written(demo_engine):
    document = _demo_document(demo_engine)
    document["incident"]["slug"] = "another-one"
    document["scope_revisions"][2]["low"] = -1
    document["scope_revisions"][3]["data_types"][0]["data_type"] = 42
    document["timeline_events"][4]["title"] = ""
    document["phases"][0]["extra"] = "field"
    before = database_dump(demo_engine)
    with pytest.raises(InvalidInput) as caught:
        import_incident(demo_engine, actor=system_actor(), document=document)
    locations = {location for location, _ in caught.value.problems}
    assert {"$.scope_revisions[2].low", "$.scope_revisions[3].data_types[0].data_type",
            "$.timeline_events[4].title", "$.phases[0]"} <= locations
    assert database_dump(demo_engine) == before


def test_import__semantic_problems_are_found_after_the_schema_passes(demo_engine):
    document = _demo_document(demo_engine)
    document["incident"]["slug"] = "another-one"
    document["scope_revisions"][0]["low"] = document["scope_revisions"][0]["high"] + 1
    document["scope_revisions"][1]["regions"][0]["region"] = "US-XX"
    document["phases"][1]["messages"][0]["body"] += " (edited after signing)"
    document["incident"]["display_timezone"] = "Mars/Olympus"
    with pytest.raises(InvalidInput) as caught:
        import_incident(demo_engine, actor=system_actor(), document=document)
    locations = {location for location, _ in caught.value.problems}
    assert {"$.scope_revisions[0].low", "$.scope_revisions[1].regions[0].region",
            "$.phases[1].messages[0].content_sha256", "$.incident.display_timezone"} <= locations


def test_import__existing_slug_is_refused(demo_engine):
    with pytest.raises(InvalidInput, match="already exists"):
        import_incident(demo_engine, actor=system_actor(), document=_demo_document(demo_engine))


def test_import__hostile_text_is_stored_as_text(demo_engine, databases, backend):
    document = _demo_document(demo_engine)
    payload = "<script>alert(1)</script>![x](http://evil.example/p.png)\u202e\u200b"
    document["timeline_events"][0]["title"] = payload
    target = make_engine(databases.fresh_url(backend))
    incident = import_incident(target, actor=system_actor(), document=document)
    again = export_incident(target, actor=system_actor(), incident_id=incident.id)
    assert again["timeline_events"][0]["title"] == payload
    target.dispose()


@pytest.mark.parametrize("raw, message", [
    (b'{"a": 1e400}', "out of range"),
    (b'{"a": -1e400}', "out of range"),
    (b'{"a": ' + b"1" * 5000 + b"}", "not valid JSON"),
])
def test_parse_document__numbers_python_cannot_hold_are_refused(raw, message):
    """Found by the importer fuzz: 1e400 parsed as infinity, a 5000-digit integer raised ValueError."""
    with pytest.raises(InvalidInput, match=message):
        parse_document(raw)


@pytest.mark.parametrize("mutate, location", [
    (lambda d: d["timeline_events"][0].update(occurred_at="9999-12-31T23:59:59-01:00"), "$.timeline_events[0].occurred_at"),
    (lambda d: d["timeline_events"][0].update(occurred_at="0001-01-01T00:00:00+01:00"), "$.timeline_events[0].occurred_at"),
    (lambda d: d["incident"].update(version=2**31), "$.incident.version"),
    (lambda d: d["phases"][0].update(position=10**30), "$.phases[0].position"),
    (lambda d: d["phases"][1]["messages"][0].update(facts_revision_seq=2**40), "$.phases[1].messages[0].facts_revision_seq"),
    (lambda d: d["phases"][1]["messages"][0].update(checks={"x": float("inf")}), "$.phases[1].messages[0].checks.x"),
    (lambda d: d["timeline_events"][0].update(title="a\x00b"), "$.timeline_events[0].title"),
])
def test_import__values_no_column_can_hold_are_refused_with_their_path(demo_engine, databases, backend, mutate, location):
    """Found by the importer fuzz: these crashed the import (OverflowError, DataError on PostgreSQL)."""
    from tests.dbsnapshot import take_snapshot

    document = _demo_document(demo_engine)
    document["incident"]["slug"] = "another-one"
    mutate(document)
    target = make_engine(databases.fresh_url(backend))
    before = take_snapshot(target)
    with pytest.raises(InvalidInput) as caught:
        import_incident(target, actor=system_actor(), document=document)
    assert location in {loc for loc, _ in caught.value.problems}
    assert take_snapshot(target) == before
    target.dispose()


def test_cli__export_then_import_into_an_empty_database(databases, tmp_path):
    source = databases.fresh_url("sqlite", demo=True)
    target = f"sqlite:///{tmp_path / 'empty.db'}"
    out = tmp_path / "incident.json"
    exported = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", source, "export-incident",
                               "kestrel-loyalty-breach", "--out", str(out)], capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    imported = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", target, "import-incident",
                               str(out)], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    again = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", target, "export-incident",
                            "kestrel-loyalty-breach"], capture_output=True, text=True)
    assert again.stdout == out.read_text()


def test_cli__invalid_document_lists_problems_and_exits_2(tmp_path):
    target = f"sqlite:///{tmp_path / 'empty.db'}"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "breachdash.incident", "format_version": 3}))
    result = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", target, "import-incident",
                             str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "$.format_version" in result.stderr and "'incident' is a required property" in result.stderr
    engine = make_engine(target)
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM incidents")).scalar() == 0


def _as_format_1(document: dict) -> dict:
    """The document as format 1 wrote it: one scope per incident (its label on every revision),
    three numbers per revision, exact plain breakdowns, only the intrusion's precision."""
    old = json.loads(json.dumps(document))
    old["format_version"] = 1
    label = old.pop("populations")[0]["label"]
    incident = old["incident"]
    precisions = incident.pop("milestone_precisions")
    incident.pop("public_announced_at"), incident.pop("regulator_first_notified_at")
    incident["intrusion_start_precision"] = precisions.get("intrusion_started_at", "exact")
    for revision in old["scope_revisions"]:
        for key in ("population", "figure_kind", "wording", "sources"):
            revision.pop(key)
        revision["low"] = revision["low"] if revision["low"] is not None else revision["best"]
        revision["high"] = revision["high"] if revision["high"] is not None else revision["best"]
        revision["scope_label"] = "all" if label == "All affected" else label
        for item in revision["data_types"]:
            item.pop("count_kind"), item.pop("protection")
        for item in revision["regions"]:
            item.pop("count_kind")
    return old


def test_import__a_format_1_document_still_imports_as_one_population(demo_engine, databases, backend):
    document = _demo_document(demo_engine)
    target = make_engine(databases.fresh_url(backend))
    incident = import_incident(target, actor=system_actor(), document=_as_format_1(document))
    again = export_incident(target, actor=system_actor(), incident_id=incident.id)
    # Format 1 held exactly what format 2 says of a single population: the upgrade loses nothing.
    assert again["populations"][0]["key"] == "all" and len(again["populations"]) == 1
    assert [r["figure_kind"] for r in again["scope_revisions"]] == [r["figure_kind"] for r in document["scope_revisions"]]
    assert [(r["low"], r["best"], r["high"]) for r in again["scope_revisions"]] == \
        [(r["low"], r["best"], r["high"]) for r in document["scope_revisions"]]
    assert again["incident"]["milestone_precisions"] == document["incident"]["milestone_precisions"]
    assert again["timeline_events"] == document["timeline_events"]
    target.dispose()
