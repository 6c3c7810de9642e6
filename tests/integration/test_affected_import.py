"""Affected-customers file import: exact counts, idempotence, and bad files refused whole."""
import collections
import os

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.errors import Conflict, InvalidInput, PermissionDenied
from breachdash.importers.affected import import_affected_file
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
