"""Affected-customers file import: exact counts, idempotence, and bad files refused whole."""
import collections
import json
import os

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.errors import Conflict, InvalidInput, PermissionDenied, StaleUpdate
from breachdash.importers.affected import ImportMode, apply_affected_import, import_affected_file, propose_affected_import
from breachdash.incidents.service import create_incident
from breachdash.scope.service import scope_state
from breachdash.synth import write_synthetic
from tests.conftest import actor_with
from tests.integration.test_transfer import database_dump

ARCHITECT = actor_with(Role.architect)
HEADER = "customer_id,region,segment,system,data_types\n"


@pytest.fixture
def incident(engine):
    return create_incident(engine, actor=system_actor(), incident_in={"slug": "imp", "title": "T", "company": "C"})


def _write(tmp_path, content: bytes | str, name="affected.csv"):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _import(engine, incident, path, **kwargs):
    return import_affected_file(engine, actor=ARCHITECT, incident_id=incident.id, path=path, **kwargs)


def _independent_counts(path):
    """Count the file with plain Python, the way a reviewer would by hand."""
    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    people: dict[str, tuple[str, set]] = {}
    for row in table.to_pylist():
        region, types = people.get(row["customer_id"], (row["region"].strip().upper(), set()))
        types |= {t.strip() for t in row["data_types"].split(";") if t.strip()}
        people[row["customer_id"]] = (region, types)
    by_type, by_region = collections.Counter(), collections.Counter()
    for region, types in people.values():
        by_region[region] += 1
        by_type.update(types)
    return len(people), dict(by_type), dict(by_region)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_import__counts_match_an_independent_count(engine, incident, tmp_path, suffix):
    write_synthetic(customers=20_000, out_dir=tmp_path, seed=11)
    path = tmp_path / f"affected_customers{suffix}"
    progress = []
    revision, summary = _import(engine, incident, path, progress=lambda f, m: progress.append(f))
    customers, by_type, by_region = _independent_counts(path)
    assert revision.figure_kind == "exact" and revision.best == customers == 20_000
    scope = scope_state(engine, actor=ARCHITECT, incident_id=incident.id).populations[0]
    assert dict(zip(scope.data_types["data_type"], scope.data_types["count"])) == by_type
    assert dict(zip(scope.regions["region"], scope.regions["count"])) == by_region
    assert progress == sorted(progress) and progress[-1] == 1.0
    with engine.connect() as connection:
        cells = connection.execute(text("SELECT sum(count) FROM scope_cells WHERE revision_id = :r"),
                                   {"r": revision.id}).scalar()
    assert cells == sum(by_type.values())


def test_import__duplicate_ids_counted_once_and_reported(engine, incident, tmp_path):
    path = _write(tmp_path, HEADER + "c1,US-CA,,db,name;email\nc2,DE,,db,name\nc1,US-CA,,db,payment_card\n"
                                      "c3,FR,,db,email\nc3,DE,,db,email\n")
    revision, summary = _import(engine, incident, path)
    assert revision.best == 3 and summary.duplicate_rows == 2 and summary.duplicated_customers == 2
    assert summary.customers_in_several_regions == 1
    assert summary.data_types == {"name": 2, "email": 2, "payment_card": 1}
    assert summary.regions == {"US-CA": 1, "DE": 1, "FR": 1}
    assert "counted once" in revision.method


def test_import__same_file_again_even_renamed_is_refused(engine, incident, tmp_path):
    path = _write(tmp_path, HEADER + "c1,US-CA,,db,name\n")
    _import(engine, incident, path)
    renamed = _write(tmp_path, path.read_bytes(), name="renamed.csv")
    before = database_dump(engine)
    with pytest.raises(Conflict, match="already imported as revision 1"):
        _import(engine, incident, renamed)
    assert database_dump(engine) == before


def test_import__bom_and_crlf_are_accepted(engine, incident, tmp_path):
    path = _write(tmp_path, b"\xef\xbb\xbf" + (HEADER + "c1,US-CA,,db,name\nc2,DE,,db,email\n").replace("\n", "\r\n").encode())
    revision, _ = _import(engine, incident, path)
    assert revision.best == 2


def test_import__bare_carriage_returns_are_named_as_the_problem(engine, incident, tmp_path):
    path = _write(tmp_path, (HEADER + "c1,US-CA,,db,name\n").replace("\n", "\r"))
    before = database_dump(engine)
    with pytest.raises(InvalidInput, match="bare carriage return"):
        _import(engine, incident, path)
    assert database_dump(engine) == before


@pytest.mark.parametrize("content, location, message", [
    (b"", "file", "the file is empty"),
    (HEADER, "file", "header but no rows"),
    ("customer_id;region;data_types\nc1;DE;name\n", "line 1", "semicolon-separated"),
    ("c1,US-CA,,db,name\nc2,DE,,db,email\n", "columns", "is the first line the header"),
    (HEADER + "c1,US-CA,,db,name\nc2,DE,,db,em\xffail\n".encode("latin-1").decode("latin-1"), None, None),
    (HEADER + "c1,US-CA,,db,name\nc2,XX,,db,name\n", "row 2, column region", "not an ISO 3166 region code"),
    (HEADER + "c1,US-CA,,db,name\nc2,DE,,db,shoe_size\n", "row 2, column data_types", "unknown data type"),
    (HEADER + "c1,US-CA,,db,name\n,DE,,db,name\n", "row 2, column customer_id", "is empty"),
    (HEADER + "c1,US-CA,,db,name\nc2,DE,,db,\n", "row 2, column data_types", "is empty"),
    (HEADER + "c1,US-CA,,db,name\nc2,DE,db,name\n", "file", "wrong number of columns"),
    ("customer_id,region,data_types,email\nc1,DE,name,a@b.example\n", "columns", "direct-identifier column(s) email"),
    ("customer_id,region,data_types,shoe\nc1,DE,name,9\n", "columns", "unknown column(s) shoe"),
])
def test_import__bad_csv_is_refused_naming_the_problem_and_nothing_is_written(
        engine, incident, tmp_path, content, location, message):
    if location is None:  # a bad UTF-8 byte in the middle of the file
        content = (HEADER + "c1,US-CA,,db,name\n").encode() + b"c2,DE,,db,em\xffail\n"
        location, message = "file", "not valid UTF-8"
    path = _write(tmp_path, content)
    before = database_dump(engine)
    with pytest.raises(InvalidInput) as caught:
        _import(engine, incident, path)
    assert any(loc.startswith(location) and message in text_ for loc, text_ in caught.value.problems), \
        caught.value.problems
    assert database_dump(engine) == before


def test_import__parquet_with_wrong_column_types_is_refused(engine, incident, tmp_path):
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"customer_id": ["c1"], "region": [49], "data_types": ["name"]}), path)
    with pytest.raises(InvalidInput, match="column region: has type int64; expected text"):
        _import(engine, incident, path)


def test_import__huge_binary_file_is_refused_without_reading_it_all(engine, incident, tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:  # sparse: 5 GiB on paper, nothing on disk
        handle.truncate(5 * 1024 ** 3)
    assert os.path.getsize(path) == 5 * 1024 ** 3
    with pytest.raises(InvalidInput, match="NUL byte"):
        _import(engine, incident, path, progress=lambda f, m: pytest.fail("read past the format check"))


def test_import__only_architects(engine, incident, tmp_path):
    path = _write(tmp_path, HEADER + "c1,US-CA,,db,name\n")
    with pytest.raises(PermissionDenied):
        import_affected_file(engine, actor=actor_with(Role.pr), incident_id=incident.id, path=path)


# Found by the importer fuzz (tests/integration/test_import_fuzz.py).

def test_import__ids_differing_only_by_surrounding_spaces_are_one_customer(engine, incident, tmp_path):
    """The revision counted 'c1 ' and ' c1' as two customers; the stored list held one, listed twice."""
    path = _write(tmp_path, HEADER + "c1 ,US-CA,,db,name\n c1,DE,,db,email\nc2,DE,,db,name\n")
    revision, summary = _import(engine, incident, path)
    assert revision.best == 2 and summary.duplicate_rows == 1
    assert summary.regions == {"US-CA": 1, "DE": 1} and summary.data_types == {"name": 2, "email": 1}


@pytest.mark.parametrize("rows, location", [
    ("c1,US-CA," + "s" * 61 + ",db,name\n", "row 1, column segment"),
    ("c1,US-CA,gold," + "d" * 201 + ",name\n", "row 1, column system"),
    ("c1,\tDE,gold,db,name\n", "row 1, column region"),
    ("c1,DE,gold,db,name\t\n", "row 1, column data_types"),
])
def test_import__values_the_tables_cannot_hold_or_only_one_path_accepted_are_refused(
        engine, incident, tmp_path, rows, location):
    """A 61-character segment broke the outreach recount on PostgreSQL (varchar(60)) after the
    revision was committed; a long system was silently cut; a tab around a region or data type
    was accepted when the file took the fast path and refused when it took the slow one."""
    from tests.dbsnapshot import take_snapshot

    before = take_snapshot(engine)
    with pytest.raises(InvalidInput) as caught:
        _import(engine, incident, _write(tmp_path, HEADER + rows))
    assert [loc for loc, _ in caught.value.problems] == [location]
    assert take_snapshot(engine) == before


def test_import__nul_in_a_parquet_system_is_refused(engine, incident, tmp_path):
    path = tmp_path / "nul.parquet"
    pq.write_table(pa.table({"customer_id": ["c1"], "region": ["DE"], "system": ["db\x00x"], "data_types": ["name"]}),
                   path)
    with pytest.raises(InvalidInput, match="row 1, column system: contains a NUL character"):
        _import(engine, incident, path)


def test_import__a_huge_bad_value_is_quoted_short(engine, incident, tmp_path):
    with pytest.raises(InvalidInput) as caught:
        _import(engine, incident, _write(tmp_path, HEADER + "c1,DE,,db," + "w" * 70_000 + "\n"))
    assert caught.value.problems[0][0] == "row 1, column data_types" and len(str(caught.value)) < 200


# ------------------------------------------------------------------ proposal, confirmation, batches (issue 14.7)

def _population(engine, incident, key="us", label="US consumers"):
    from breachdash.scope.service import add_population

    return add_population(engine, actor=ARCHITECT, incident_id=incident.id,
                          population_in={"key": key, "label": label, "jurisdictions": ["US"]})


def _manual(engine, incident, best, population="us", **extra):
    from breachdash.scope.service import record_revision

    return record_revision(engine, actor=ARCHITECT, incident_id=incident.id, revision_in={
        "population": population, "figure_kind": "exact", "best": best, "reason": "forensics", **extra})


def _propose(engine, incident, path, **kwargs):
    return propose_affected_import(engine, actor=ARCHITECT, incident_id=incident.id, path=path, **kwargs)


def _audit_actions(engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT action FROM audit_events ORDER BY id"))]


def test_propose__writes_nothing_and_says_what_would_change(engine, incident, tmp_path):
    """A partial 'batch 1' file turned 2,460,000 into 50,000 without a word; now it says so first."""
    from tests.dbsnapshot import take_snapshot

    _population(engine, incident)
    _manual(engine, incident, 2_460_000, data_types=[{"data_type": "name", "count": 2_460_000},
                                                     {"data_type": "ssn", "count": 1_000}],
            regions=[{"region": "US-CA", "count": 2_000_000}, {"region": "US-TX", "count": 460_000}])
    path = _write(tmp_path, HEADER + "c1,US-CA,,db,name;email\nc2,US-NY,,db,name\nc3,US-CA,,db,name\n")
    before = take_snapshot(engine)
    proposal = _propose(engine, incident, path, population="us", mode="batch")
    assert take_snapshot(engine) == before
    assert proposal.headline() == "This file would change US consumers from 2,460,000 individuals to 3 individuals " \
                                  "(−2,459,997)."
    assert proposal.based_on_seq == 1 and proposal.customers == 3 and proposal.mode == ImportMode.batch
    kinds = {(c.code, c.kind) for c in proposal.type_changes + proposal.region_changes}
    assert kinds == {("name", "changed"), ("ssn", "dropped"), ("email", "added"), ("US-CA", "changed"),
                     ("US-TX", "dropped"), ("US-NY", "added")}
    details = "\n".join(proposal.details())
    assert "Data types added: Email address (1)." in details or "Data types added: Email" in details
    assert "Regions dropped: US-TX (was 460,000)." in details and "First batch:" in details
    assert proposal.workdir.is_dir()
    proposal.discard()
    assert not proposal.workdir.exists() and take_snapshot(engine) == before


def test_propose__refused_file_leaves_no_scratch_and_writes_nothing(engine, incident, tmp_path, monkeypatch):
    import tempfile

    from tests.dbsnapshot import take_snapshot

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    before = take_snapshot(engine)
    with pytest.raises(InvalidInput, match="not an ISO 3166"):
        _propose(engine, incident, _write(tmp_path, HEADER + "c1,XX,,db,name\n"))
    with pytest.raises(InvalidInput, match="no population 'nope'"):
        _propose(engine, incident, _write(tmp_path, HEADER + "c1,DE,,db,name\n"), population="nope")
    assert list((tmp_path / "scratch").iterdir()) == [] and take_snapshot(engine) == before


def test_propose__a_dropped_proposal_removes_its_scratch(engine, incident, tmp_path):
    import gc

    proposal = _propose(engine, incident, _write(tmp_path, HEADER + "c1,DE,,db,name\n"))
    workdir = proposal.workdir
    assert workdir.is_dir()
    del proposal
    gc.collect()
    assert not workdir.exists()


def test_apply__records_the_proposal_with_its_mode(engine, incident, tmp_path):
    _population(engine, incident)
    proposal = _propose(engine, incident, _write(tmp_path, HEADER + "c1,US-CA,,db,name\nc2,US-TX,,db,email\n"),
                        population="us", reason="first vendor file")
    assert proposal.headline() == "This file would give US consumers its first figure: 2 individuals."
    revision = apply_affected_import(engine, actor=ARCHITECT, proposal=proposal, based_on_seq=0)
    assert revision.best == 2 and revision.reason == "first vendor file"
    assert revision.method.startswith("Affected-customers file (complete) affected.csv")
    assert not proposal.workdir.exists()
    assert _audit_actions(engine)[-1] == "scope.file_imported"
    with engine.connect() as connection:
        after = json.loads(connection.execute(text("SELECT after_json FROM audit_events ORDER BY id DESC LIMIT 1"))
                           .scalar())
    assert after["mode"] == "complete" and after["population"] == "us" and after["customers"] == 2
    with pytest.raises(Conflict, match="already recorded or discarded"):
        apply_affected_import(engine, actor=ARCHITECT, proposal=proposal)


def test_apply__refused_when_the_population_changed_since_the_proposal(engine, incident, tmp_path):
    from tests.dbsnapshot import take_snapshot

    _population(engine, incident)
    _population(engine, incident, key="uk", label="UK customers")
    _manual(engine, incident, 100)
    proposal = _propose(engine, incident, _write(tmp_path, HEADER + "c1,US-CA,,db,name\n"), population="us")
    _manual(engine, incident, 50, population="uk")  # another population: not a reason to refuse
    other = _propose(engine, incident, _write(tmp_path, HEADER + "c9,US-CA,,db,name\n", name="b.csv"),
                     population="us")
    _manual(engine, incident, 120)  # someone revises US consumers meanwhile
    before = take_snapshot(engine)
    with pytest.raises(StaleUpdate, match=r"US consumers was revised by .* \(revision 3\) after this file was "
                                          r"analysed; nothing was recorded"):
        apply_affected_import(engine, actor=ARCHITECT, proposal=proposal, based_on_seq=1)
    assert take_snapshot(engine) == before and not proposal.workdir.exists()
    # the person saw an older figure than the one the proposal was computed against
    with pytest.raises(StaleUpdate):
        apply_affected_import(engine, actor=ARCHITECT, proposal=other, based_on_seq=0)
    assert take_snapshot(engine) == before


def _batch(engine, incident, tmp_path, name, rows, **kwargs):
    path = _write(tmp_path, HEADER + rows, name=name)
    return _import(engine, incident, path, population="us", **kwargs)


def test_batches__a_customer_in_two_batches_is_counted_once(engine, incident, tmp_path):
    _population(engine, incident)
    first, _ = _batch(engine, incident, tmp_path, "b1.csv", "c1,US-CA,gold,db1,name\nc2,US-TX,,db1,name\n", mode="batch")
    assert first.best == 2 and first.method.startswith("Affected-customers file (batch) b1.csv")
    # c2 again, with another region (the first batch's stands) and a new data type and system
    proposal = _propose(engine, incident, _write(tmp_path, HEADER + "c2,US-NY,,db2,ssn\nc3,US-NY,,db2,email\n",
                                                 name="b2.csv"), population="us", mode="batch")
    assert (proposal.customers, proposal.new_customers, proposal.batch_seqs) == (3, 1, (first.seq,))
    assert "1 of this file's 2 customers are new (1 were counted in an earlier batch)" in proposal.details()[1]
    second = apply_affected_import(engine, actor=ARCHITECT, proposal=proposal)
    assert second.best == 3 and "counted with the batches of revision 1" in second.method
    scope = scope_state(engine, actor=ARCHITECT, incident_id=incident.id).populations[0]
    assert dict(zip(scope.data_types["data_type"], scope.data_types["count"])) == {"name": 2, "ssn": 1, "email": 1}
    assert dict(zip(scope.regions["region"], scope.regions["count"])) == {"US-CA": 1, "US-TX": 1, "US-NY": 1}
    with engine.connect() as connection:
        cells = dict(((t, r), n) for t, r, n in connection.execute(text(
            "SELECT data_type, region, count FROM scope_cells WHERE revision_id = :r"), {"r": second.id}))
        systems = dict(connection.execute(text(
            "SELECT system, count FROM scope_system_counts WHERE revision_id = :r"), {"r": second.id}).all())
        stored = connection.execute(text("SELECT sum(rows) FROM customer_chunks WHERE kind = 'affected' "
                                         "AND source_id = :r"), {"r": second.id}).scalar()
    assert cells == {("name", "US-CA"): 1, ("name", "US-TX"): 1, ("ssn", "US-TX"): 1, ("email", "US-NY"): 1}
    assert systems == {"db1": 2, "db2": 2}
    assert stored == 3  # the batch revision keeps the whole list, so outreach reconciles against everyone

    # A manual revision between batches does not end the series; a third batch counts with both.
    _manual(engine, incident, 10)
    third, _ = _batch(engine, incident, tmp_path, "b3.csv", "c4,US-CA,,db3,name\nc1,US-CA,,db3,name\n", mode="batch")
    assert third.best == 4 and "revisions 1 and 2" in third.method

    # A complete file replaces the figure, and the next batch starts over from it.
    complete, _ = _batch(engine, incident, tmp_path, "all.csv", "c1,US-CA,,db,name\nc5,US-CA,,db,name\n")
    assert complete.best == 2
    restart = _propose(engine, incident, _write(tmp_path, HEADER + "c1,US-CA,,db,name\n", name="b4.csv"),
                       population="us", mode="batch")
    assert restart.customers == 1 and restart.batch_seqs == () and restart.complete_seq == complete.seq
    assert f"First batch since the complete file of revision {complete.seq}" in restart.details()[1]
    restart.discard()


def test_batches__a_batch_of_customers_all_seen_before_adds_nothing(engine, incident, tmp_path):
    from tests.dbsnapshot import take_snapshot

    _population(engine, incident)
    _batch(engine, incident, tmp_path, "b1.csv", "c1,US-CA,,db,name;email\nc2,US-TX,,db,name\n", mode="batch")
    before = take_snapshot(engine)
    proposal = _propose(engine, incident, _write(tmp_path, HEADER + "c2,US-TX,,db,name\n c1 ,US-CA,,db,email\n",
                                                 name="again.csv"), population="us", mode="batch")
    assert proposal.adds_nothing and proposal.customers == 2
    assert proposal.headline() == "This file would add nothing to US consumers: it stays at 2 individuals."
    assert "were already counted in the batches of revision 1: it adds no one." in proposal.details()[1]
    with pytest.raises(Conflict, match="adds no one. Nothing was recorded."):
        apply_affected_import(engine, actor=ARCHITECT, proposal=proposal)
    assert take_snapshot(engine) == before and not proposal.workdir.exists()
    # the same customers with a data type not listed before do add something
    more = _propose(engine, incident, _write(tmp_path, HEADER + "c2,US-TX,,db,ssn\n", name="more.csv"),
                    population="us", mode="batch")
    assert not more.adds_nothing and more.customers == 2 and "but adds data types" in more.details()[1]
    more.discard()


def test_cli__prints_the_proposal_and_records_only_with_yes_or_a_confirmation(engine, incident, tmp_path, capsys,
                                                                              monkeypatch):
    import sys

    from breachdash.cli import main as cli_main
    from tests.dbsnapshot import take_snapshot

    url = engine.url.render_as_string(hide_password=False)
    path = _write(tmp_path, HEADER + "c1,US-CA,,db,name\nc2,DE,,db,name\n")
    before = take_snapshot(engine)
    assert cli_main(["--database-url", url, "import-affected", str(path), "--incident", "imp"]) == 2
    out, err = capsys.readouterr()
    assert "This file would create the population All affected with 2 individuals." in out
    assert "--yes" in err and "not recorded" in err
    assert take_snapshot(engine) == before

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert cli_main(["--database-url", url, "import-affected", str(path), "--incident", "imp"]) == 1
    assert "Not recorded." in capsys.readouterr().out and take_snapshot(engine) == before

    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert cli_main(["--database-url", url, "import-affected", str(path), "--incident", "imp"]) == 0
    assert "Recorded scope revision 1 for 'imp' (complete file)" in capsys.readouterr().out

    batch = _write(tmp_path, HEADER + "c2,DE,,db,name\nc3,DE,,db,name\n", name="batch.csv")
    monkeypatch.undo()
    assert cli_main(["--database-url", url, "import-affected", str(batch), "--incident", "imp", "--mode", "batch",
                     "--yes"]) == 0
    out = capsys.readouterr().out
    assert "This file would change All affected from 2 individuals to 2 individuals" not in out
    assert "First batch since the complete file of revision 1" in out and "Recorded scope revision 2" in out


def test_apply__unseen_complete_file_records_after_a_revision_meanwhile_but_a_batch_does_not(engine, incident,
                                                                                            tmp_path):
    """A script that shows nobody the proposal (based_on_seq None): a complete file's figure does
    not depend on what was revised meanwhile; a batch's union does, so it is refused."""
    _population(engine, incident)
    complete = _propose(engine, incident, _write(tmp_path, HEADER + "c1,US-CA,,db,name\n"), population="us")
    batch = _propose(engine, incident, _write(tmp_path, HEADER + "c2,US-CA,,db,name\n", name="b.csv"),
                     population="us", mode="batch")
    _manual(engine, incident, 10)
    assert apply_affected_import(engine, actor=ARCHITECT, proposal=complete).best == 1
    with pytest.raises(StaleUpdate, match="after this file was analysed"):
        apply_affected_import(engine, actor=ARCHITECT, proposal=batch)


def test_customer_list_of_a_file_with_distinct_ids_is_what_grouping_by_id_would_give(tmp_path):
    """The fast path (ids proved distinct) writes the kept customer list row by row, normalising
    each distinct data-types text once; the slow path groups rows by id. Both must give the same
    list: ids and regions trimmed (regions upper-cased), data types trimmed, de-duplicated, sorted
    and without empties, systems trimmed, blanks dropped."""
    import duckdb

    from breachdash.importers.affected import analyse_affected_file

    rows = ["customer_id,region,segment,system,data_types",
            " c1 , us-ca ,  gold , crm ,name ; email;;name",
            "c2,DE,,  ,phone",
            "c3,FR,silver,,email",
            "c4,GB, , billing , email;name ; phone"]
    fast = tmp_path / "distinct.csv"
    fast.write_text("\n".join(rows) + "\n", encoding="utf-8")
    slow = tmp_path / "repeated.csv"  # one id twice sends the file down the grouping path
    slow.write_text("\n".join(rows + ["c3,FR,silver,,email"]) + "\n", encoding="utf-8")

    def kept(path):
        directory = tmp_path / f"{path.stem}-customers"
        analyse_affected_file(path, sha256="", customers_dir=directory)
        return sorted(duckdb.sql(f"SELECT customer_id, region, segment, data_types, systems FROM "
                                 f"read_parquet('{directory}/**/*.parquet')").fetchall())

    expected = [("c1", "US-CA", "gold", ["email", "name"], ["crm"]),
                ("c2", "DE", "", ["phone"], []),
                ("c3", "FR", "silver", ["email"], []),
                ("c4", "GB", "", ["email", "name", "phone"], ["billing"])]
    assert kept(fast) == expected
    assert kept(slow) == expected
