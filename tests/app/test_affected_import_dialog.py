"""AppTest for the affected-customers import on the Scope page (issue 14.7): a checked file opens a
dialog that says what it would change; only "Record this revision" records it, "Discard" records
nothing, and file names and labels are shown inert."""
from __future__ import annotations

from sqlalchemy import text

from breachdash.auth.models import Role
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.importers.affected import propose_affected_import
from breachdash.incidents.service import find_incident
from breachdash.scope.service import add_population, record_revision
from breachdash.ui.affected_import import PENDING_KEY
from tests.app.test_pages import _app
from tests.conftest import actor_with
from tests.dbsnapshot import take_snapshot

ARCHITECT = actor_with(Role.architect)
HEADER = "customer_id,region,segment,system,data_types\n"


def _scope_page_with_proposal(demo_url, tmp_path, *, name="batch-1.csv", mode="batch"):
    engine = make_engine(demo_url)
    incident = find_incident(engine, DEMO_SLUG)
    add_population(engine, actor=ARCHITECT, incident_id=incident.id, population_in={
        "key": "us", "label": "US *consumers* ![x](https://evil.example/x.png)", "jurisdictions": ["US"]})
    record_revision(engine, actor=ARCHITECT, incident_id=incident.id, revision_in={
        "population": "us", "figure_kind": "exact", "best": 2_460_000, "reason": "forensics",
        "data_types": [{"data_type": "name", "count": 2_460_000}, {"data_type": "ssn", "count": 2_000}],
        "regions": [{"region": "US-CA", "count": 2_460_000}]})
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"c{i},US-TX,,db,name;email\n" for i in range(5)), encoding="utf-8")
    proposal = propose_affected_import(engine, actor=ARCHITECT, incident_id=incident.id, path=path,
                                       population="us", mode=mode)
    at = _app("architect@demo.example")
    at.switch_page("pages/scope.py")
    at.session_state[PENDING_KEY] = proposal
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, engine, proposal


def test_import_dialog__shows_the_change_and_records_only_on_confirmation(demo_url, tmp_path):
    at, engine, proposal = _scope_page_with_proposal(demo_url, tmp_path)
    before = take_snapshot(engine)
    shown = [m.value for m in at.markdown]
    headline = next(v for v in shown if "This file would change" in v)
    # the label is escaped: no emphasis, no image
    assert "US \\*consumers\\* \\!\\[x\\]" in headline and "2,460,000 individuals to 5 individuals" in headline
    assert "\\(−2,459,995\\)" in headline
    assert any("First batch" in v for v in shown)
    tables = {tuple(d.value.columns)[0]: d.value for d in at.dataframe if "Change" in d.value.columns}
    types = dict(zip(tables["Data type"]["Change"], tables["Data type"]["Data type"]))
    assert set(tables["Data type"]["Change"]) == {"added", "dropped", "changed"} and "Email address" in str(types)
    assert set(tables["Region"]["Region"]) == {"US-TX", "US-CA"}
    assert take_snapshot(engine) == before  # showing the dialog writes nothing

    [b for b in at.button if b.label == "Record this revision"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.label == "Record this revision"]
    assert any("Recorded revision" in s.value and "\\(batch file\\)" in s.value for s in at.success)
    with engine.connect() as connection:
        best = connection.execute(text("SELECT best FROM scope_revisions ORDER BY seq DESC LIMIT 1")).scalar()
    assert best == 5 and not proposal.workdir.exists()
    engine.dispose()


def test_import_dialog__discard_records_nothing(demo_url, tmp_path):
    at, engine, proposal = _scope_page_with_proposal(demo_url, tmp_path, mode="complete")
    before = take_snapshot(engine)
    assert any("Complete file for" in m.value for m in at.markdown)
    [b for b in at.button if b.label == "Discard"][0].click().run()
    assert not at.exception and not [b for b in at.button if b.label == "Record this revision"]
    assert take_snapshot(engine) == before and not proposal.workdir.exists()
    engine.dispose()


def test_import_dialog__a_stale_proposal_is_refused_in_the_dialog(demo_url, tmp_path):
    at, engine, proposal = _scope_page_with_proposal(demo_url, tmp_path)
    record_revision(engine, actor=ARCHITECT, incident_id=find_incident(engine, DEMO_SLUG).id, revision_in={
        "population": "us", "figure_kind": "exact", "best": 2_500_000, "reason": "someone else"})
    before = take_snapshot(engine)
    [b for b in at.button if b.label == "Record this revision"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("after this file was analysed; nothing was recorded" in e.value for e in at.error)
    assert take_snapshot(engine) == before
    [b for b in at.button if b.label == "Close"][0].click().run()
    assert not [b for b in at.button if b.label == "Close"]
    assert not any("nothing was recorded" in e.value for e in at.error)
    engine.dispose()
