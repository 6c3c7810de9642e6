"""The documented timeline: corrections and retractions keep history; 'as known at' shows only
what had been recorded by then; exports carry who recorded what."""
import json
from datetime import timedelta

import pytest

from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.common import simulated_clock, utcnow
from breachdash.errors import Conflict, InvalidInput
from breachdash.exports import export_timeline
from breachdash.incidents.service import create_incident, get_incident, set_milestone
from breachdash.scope.service import record_revision, scope_state
from breachdash.timeline.service import (
    add_event,
    correct_event,
    milestones_as_known_at,
    retract_event,
    timeline_frame,
)
from tests.conftest import actor_with

ARCHITECT = actor_with(Role.architect, email="lena@x.example")
LEGAL = actor_with(Role.legal, email="priya@x.example")


@pytest.fixture
def incident(engine):
    return create_incident(engine, actor=system_actor(), incident_in={"slug": "tl", "title": "T", "company": "C"})


def _event(title, hours_ago=5, **extra):
    return {"occurred_at": utcnow() - timedelta(hours=hours_ago), "kind": "forensic finding", "title": title, **extra}


def test_correction_keeps_the_original_visible_as_superseded(engine, incident):
    original = add_event(engine, actor=ARCHITECT, incident_id=incident.id, event_in=_event("Exports began"))
    fixed = correct_event(engine, actor=LEGAL, event_id=original.id, event_in=_event("Exports began", 30),
                          reason="log timezone misread")
    frame = timeline_frame(engine, actor=LEGAL, incident_id=incident.id).set_index("id")
    assert frame.loc[original.id, "state"] == "superseded" and frame.loc[original.id, "superseded_by"] == fixed.id
    assert frame.loc[fixed.id, "state"] == "correction" and frame.loc[fixed.id, "supersedes"] == original.id
    with pytest.raises(Conflict, match="already corrected"):
        correct_event(engine, actor=LEGAL, event_id=original.id, event_in=_event("again"))


def test_retraction_is_kept_with_its_reason_and_is_final(engine, incident):
    event = add_event(engine, actor=ARCHITECT, incident_id=incident.id, event_in=_event("Wrong host"))
    with pytest.raises(InvalidInput, match="Reason: say why the entry is retracted"):
        retract_event(engine, actor=LEGAL, event_id=event.id, reason="  ")
    retract_event(engine, actor=LEGAL, event_id=event.id, reason="entered on the wrong incident")
    row = timeline_frame(engine, actor=LEGAL, incident_id=incident.id).set_index("id").loc[event.id]
    assert row["state"] == "retracted" and row["retraction_reason"] == "entered on the wrong incident"
    with pytest.raises(Conflict, match="retracted"):
        retract_event(engine, actor=LEGAL, event_id=event.id, reason="again")


def test_automatic_entries_cannot_be_edited_by_hand(engine, incident):
    record_revision(engine, actor=ARCHITECT, incident_id=incident.id, revision_in={"low": 1, "best": 2, "high": 3})
    automatic = timeline_frame(engine, actor=LEGAL, incident_id=incident.id).iloc[0]
    with pytest.raises(Conflict, match="written automatically"):
        retract_event(engine, actor=LEGAL, event_id=int(automatic["id"]), reason="no")


def test_entries_sort_by_when_they_happened_whatever_the_entry_order(engine, incident):
    add_event(engine, actor=ARCHITECT, incident_id=incident.id, event_in=_event("later", 1))
    add_event(engine, actor=ARCHITECT, incident_id=incident.id, event_in=_event("earlier", 10))
    assert timeline_frame(engine, actor=LEGAL, incident_id=incident.id)["title"].tolist() == ["earlier", "later"]


def test_as_known_at_hides_what_was_recorded_later(engine, incident):
    t0 = utcnow() - timedelta(days=3)
    with simulated_clock(t0):
        first = add_event(engine, actor=ARCHITECT, incident_id=incident.id,
                          event_in=_event("Known early", 0, occurred_at=t0 - timedelta(hours=1)))
        record_revision(engine, actor=ARCHITECT, incident_id=incident.id,
                        revision_in={"low": 100, "best": 200, "high": 300})
        set_milestone(engine, actor=ARCHITECT, incident_id=incident.id, milestone="detected_at",
                      at=t0 - timedelta(hours=2), expected_version=1)
    with simulated_clock(t0 + timedelta(days=1)):
        # Learned later about something that happened earlier still: recorded time decides.
        add_event(engine, actor=ARCHITECT, incident_id=incident.id,
                  event_in=_event("Learned late", 0, occurred_at=t0 - timedelta(days=5)))
        correct_event(engine, actor=LEGAL, event_id=first.id,
                      event_in=_event("Known early (corrected)", 0, occurred_at=t0 - timedelta(hours=1)))
        record_revision(engine, actor=ARCHITECT, incident_id=incident.id,
                        revision_in={"low": 400, "best": 500, "high": 600})
        set_milestone(engine, actor=ARCHITECT, incident_id=incident.id, milestone="contained_at",
                      at=t0 + timedelta(hours=20), expected_version=get_incident(engine, actor=LEGAL,
                                                                                  incident_id=incident.id).version)
    moment = t0 + timedelta(hours=12)
    then = timeline_frame(engine, actor=LEGAL, incident_id=incident.id, as_known_at=moment)
    assert "Learned late" not in set(then["title"]) and "Known early (corrected)" not in set(then["title"])
    assert then.set_index("title").loc["Known early", "state"] == "current"
    assert scope_state(engine, actor=LEGAL, incident_id=incident.id, as_known_at=moment).populations[0].figure.best == 200
    known = milestones_as_known_at(engine, actor=LEGAL, incident_id=incident.id, as_known_at=moment)
    assert known["detected_at"] is not None and known["contained_at"] is None
    now = timeline_frame(engine, actor=LEGAL, incident_id=incident.id)
    assert {"Learned late", "Known early (corrected)"} <= set(now["title"])
    assert now.set_index("title").loc["Known early", "state"] == "superseded"


@pytest.mark.parametrize("title", ["<script>alert(1)</script>", "**bold** [x](http://evil.example) | pipe"])
def test_exports_carry_who_recorded_each_entry_and_keep_markup_inert(engine, incident, title):
    event = add_event(engine, actor=ARCHITECT, incident_id=incident.id,
                      event_in=_event(title, detail="d" * 10_000, systems=["db-1"]))
    correct_event(engine, actor=LEGAL, event_id=event.id, event_in=_event("fixed", systems=["db-1"]))
    document = json.loads(export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="json"))
    rows = {row["id"]: row for row in document["events"]}
    assert rows[event.id]["recorded_by"] == "lena@x.example" and rows[event.id]["state"] == "superseded"
    assert rows[event.id]["title"] == title and document["systems_involved"] == ["db-1"]
    assert [d["name"] for d in document["durations"]][0] == "Dwell time"
    markdown = export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="md").decode()
    assert "<script>" not in markdown and "](http" not in markdown and "superseded by" in markdown
    csv_text = export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="csv").decode()
    assert csv_text.splitlines()[0].startswith("id,happened,precision,kind,title")


def test_long_detail_is_kept_whole(engine, incident):
    detail = "x" * 10_000
    event = add_event(engine, actor=ARCHITECT, incident_id=incident.id, event_in=_event("long", detail=detail))
    assert timeline_frame(engine, actor=LEGAL, incident_id=incident.id).set_index("id").loc[event.id, "detail"] == detail


def test_export_timeline_cli__pdf_and_markdown(databases, tmp_path):
    import subprocess
    import sys

    url = databases.fresh_url("sqlite", demo=True)
    for fmt in ("md", "pdf"):
        out = tmp_path / f"timeline.{fmt}"
        result = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "export-timeline",
                                 "kestrel-loyalty-breach", "--format", fmt, "--out", str(out)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "timeline.md").read_text().startswith("# Incident timeline: Loyalty database breach")
    assert (tmp_path / "timeline.pdf").read_bytes().startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "export-timeline", "nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "No incident" in bad.stderr
