"""Issue 19.6: timeline exports never emit NaN or "nan" — after a retraction the JSON parses
with a strict parser, and absent values are empty cells in the CSV, the Markdown and the PDF."""
import csv
import io
import json
from datetime import timedelta

import pytest

from breachdash.auth.rules import system_actor
from breachdash.common import utcnow
from breachdash.exports import _event_rows, _state_text, export_timeline, timeline_document, to_pdf
from breachdash.incidents.service import create_incident
from breachdash.timeline import service as timeline

SYSTEM = system_actor()


def _strict(_constant):
    raise ValueError(f"not JSON: {_constant}")


@pytest.fixture
def incident_id(engine):
    incident = create_incident(engine, actor=SYSTEM, incident_in={"slug": "nan-check", "title": "T", "company": "C"})
    kept = timeline.add_event(engine, actor=SYSTEM, incident_id=incident.id, event_in={
        "occurred_at": utcnow() - timedelta(hours=3), "kind": "other", "title": "kept"})
    gone = timeline.add_event(engine, actor=SYSTEM, incident_id=incident.id, event_in={
        "occurred_at": utcnow() - timedelta(hours=2), "kind": "other", "title": "entered twice"})
    timeline.retract_event(engine, actor=SYSTEM, event_id=gone.id, reason="duplicate")
    timeline.correct_event(engine, actor=SYSTEM, event_id=kept.id, reason="typo", event_in={
        "occurred_at": utcnow() - timedelta(hours=3), "kind": "other", "title": "kept (corrected)"})
    return incident.id


def test_json_export_after_a_retraction__parses_strictly_with_no_nan(engine, incident_id):
    raw = export_timeline(engine, actor=SYSTEM, incident_id=incident_id, fmt="json").decode("utf-8")
    document = json.loads(raw, parse_constant=_strict)
    rows = {e["title"]: e for e in document["events"]}
    assert rows["entered twice"]["retraction_reason"] == "duplicate"
    assert rows["kept (corrected)"]["retraction_reason"] == ""
    assert "nan" not in raw.lower().replace("nan-check", "")


def test_csv_and_markdown_after_a_retraction__empty_cells_never_nan(engine, incident_id):
    text = export_timeline(engine, actor=SYSTEM, incident_id=incident_id, fmt="csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["title"]: r["retraction_reason"] for r in rows}["kept (corrected)"] == ""
    assert all("nan" not in value.lower() for r in rows for value in r.values() if value != "nan-check")
    markdown = export_timeline(engine, actor=SYSTEM, incident_id=incident_id, fmt="md").decode("utf-8")
    assert "nan" not in markdown.lower().replace("nan-check", "")
    assert ": |" not in markdown and "retracted: duplicate" in markdown


def test_pdf_state_cells_after_a_retraction__no_nan(engine, incident_id):
    doc = timeline_document(engine, actor=SYSTEM, incident_id=incident_id)
    states = {row["title"]: _state_text(row) for row in _event_rows(doc)}
    assert states["kept (corrected)"] == "correction (corrects #1)" and "nan" not in " ".join(states.values())
    assert states["kept"].startswith("superseded by #") and not states["kept"].endswith(":")
    assert to_pdf(doc, chart=False).startswith(b"%PDF")
