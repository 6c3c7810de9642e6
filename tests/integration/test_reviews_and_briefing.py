"""Review markers and the executive briefing on SQLite and PostgreSQL: what changed since the
last review, and a briefing (Markdown, PDF, command line) with the right figures and as-of times."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from breachdash.auth.models import Role
from breachdash.briefing import briefing_document, export_briefing
from breachdash.comms.service import phase_progress, transition_phase
from breachdash.demo import DEMO_SLUG
from breachdash.errors import InvalidInput, NotFound, PermissionDenied
from breachdash.incidents.service import find_incident
from breachdash.reviews.service import reviews_frame, since_last_review, since_review, start_review
from breachdash.scope.service import record_revision, revision_input_from_tables, scope_state
from tests.conftest import actor_with

EXEC, ARCHITECT, PR = actor_with(Role.executive), actor_with(Role.architect), actor_with(Role.pr)
ROOT = Path(__file__).resolve().parents[2]


def _revise(engine, incident, best):
    scope = scope_state(engine, actor=ARCHITECT, incident_id=incident.id).populations[0]
    return record_revision(engine, actor=ARCHITECT, incident_id=incident.id, revision_in=revision_input_from_tables(
        {"low": scope.figure.low, "best": best, "high": max(best, scope.figure.high), "unit": scope.unit,
         "confidence": scope.confidence, "method": "forensics",
         "reason": "Two more export batches found", "corrects_seq": None},
        data_types_table=scope.data_types[["data_type", "count", "status"]], regions_table=scope.regions,
        systems_table=pd.DataFrame({"system": [], "count": []})))


def test_since_last_review__lists_the_revision_and_the_phase_move(demo_engine):
    incident = find_incident(demo_engine, DEMO_SLUG)
    assert since_last_review(demo_engine, actor=EXEC, incident_id=incident.id).marker is None
    marker = start_review(demo_engine, actor=EXEC, incident_id=incident.id)
    assert since_last_review(demo_engine, actor=EXEC, incident_id=incident.id).changes == []
    before = scope_state(demo_engine, actor=EXEC, incident_id=incident.id).populations[0].figure.best
    _revise(demo_engine, incident, before + 12_345)
    phases = phase_progress(demo_engine, actor=PR, incident_id=incident.id)
    follow_up = phases[phases["key"] == "remediation_update"].iloc[0]
    transition_phase(demo_engine, actor=PR, phase_id=int(follow_up["phase_id"]), to_status="drafting",
                     expected_version=int(follow_up["version"]))
    since = since_last_review(demo_engine, actor=EXEC, incident_id=incident.id)
    assert since.marker.id == marker.id
    texts = [c.text for c in since.changes]
    assert any(t.startswith("All affected revised") and f"{before:,}" in t and f"{before + 12_345:,}" in t
               and "Two more export batches found" in t for t in texts)
    assert "Remediation update: not started → drafting" in texts
    assert any(c.kind == "timeline" for c in since.changes)
    assert reviews_frame(demo_engine, actor=EXEC, incident_id=incident.id)["by"].tolist() == [EXEC.email]
    with pytest.raises(PermissionDenied):
        start_review(demo_engine, actor=actor_with(Role.admin), incident_id=incident.id)


def test_since_review__compares_with_any_past_review(demo_engine):
    """Issue 16: the Overview can compare with an earlier review, not only the latest."""
    incident = find_incident(demo_engine, DEMO_SLUG)
    before = scope_state(demo_engine, actor=EXEC, incident_id=incident.id).populations[0].figure.best
    first = start_review(demo_engine, actor=EXEC, incident_id=incident.id)
    _revise(demo_engine, incident, before + 1_000)
    second = start_review(demo_engine, actor=actor_with(Role.legal), incident_id=incident.id)
    reviews = reviews_frame(demo_engine, actor=EXEC, incident_id=incident.id)
    assert reviews["review_id"].tolist() == [second.id, first.id]
    assert since_review(demo_engine, actor=EXEC, incident_id=incident.id).changes == []  # the latest
    earlier = since_review(demo_engine, actor=EXEC, incident_id=incident.id, review_id=first.id)
    assert earlier.marker.id == first.id
    assert any(c.kind == "estimate" and f"{before + 1_000:,}" in c.text for c in earlier.changes)
    with pytest.raises(NotFound):
        since_review(demo_engine, actor=EXEC, incident_id=incident.id + 999, review_id=first.id)


def test_briefing__figures_with_as_of_times_changes_and_decisions(demo_engine, tmp_path):
    incident = find_incident(demo_engine, DEMO_SLUG)
    start_review(demo_engine, actor=EXEC, incident_id=incident.id)
    before = scope_state(demo_engine, actor=EXEC, incident_id=incident.id).populations[0].figure.best
    _revise(demo_engine, incident, before + 1_000)
    doc = briefing_document(demo_engine, actor=EXEC, incident_id=incident.id)
    figures = {f.label: f for f in doc.figures}
    assert figures["All affected: affected individuals"].value == f"{before + 1_000:,}"
    assert figures["Change since the last review"].value == "changed"
    assert f"(best {before + 1_000:,})" in figures["Change since the last review"].note
    assert all(f.as_of is not None for f in doc.figures)
    assert "Payment card numbers (confirmed, " in figures["Exposed data types"].note
    assert any("US-SEC-8K-105" in d and "may apply" in d for d in doc.decisions)
    markdown = export_briefing(demo_engine, actor=EXEC, incident_id=incident.id, fmt="md")[0].decode()
    assert f"**{before + 1_000:,}**" in markdown and "## What changed since the review started" in markdown
    assert "## Decisions needed" in markdown and "## Next deadlines" in markdown
    pdf, mime, name = export_briefing(demo_engine, actor=EXEC, incident_id=incident.id, fmt="pdf")
    assert mime == "application/pdf" and name.endswith(".pdf")
    (tmp_path / name).write_bytes(pdf)
    pages = int(next(line.split()[-1] for line in subprocess.run(
        ["pdfinfo", str(tmp_path / name)], capture_output=True, text=True).stdout.splitlines() if line.startswith("Pages")))
    assert 1 <= pages <= 2
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / name), "-"], capture_output=True, text=True).stdout
    assert f"{before + 1_000:,}" in text and "+1,000" in text and "Decisions needed" in text
    with pytest.raises(InvalidInput):
        export_briefing(demo_engine, actor=EXEC, incident_id=incident.id, fmt="docx")


def test_briefing_cli__writes_markdown(databases, tmp_path):
    url = databases.fresh_url("sqlite", demo=True)
    out = tmp_path / "briefing.md"
    result = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "briefing", DEMO_SLUG,
                             "--format", "md", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("# Executive briefing: Loyalty database breach")
