"""Recompute on the live record (SQLite and PostgreSQL): after an import, by Legal's command, and
a recompute that changes nothing writes nothing; a filing after its due time counts as late."""
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import select

from breachdash.audit.models import AuditEvent
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.common import utcnow
from breachdash.incidents.service import find_incident, set_milestone
from breachdash.obligations.service import (
    file_obligation,
    find_obligation,
    obligations_register,
    recompute_for,
    upcoming_obligations,
)
from breachdash.db import read_session
from breachdash.timeline.service import timeline_frame
from breachdash.transfer import export_incident, import_incident
from tests.conftest import actor_with
from tests.integration.test_obligations import _revision, incident  # noqa: F401 - the fixture

LEGAL = actor_with(Role.legal)


def _audit_count(engine) -> int:
    with read_session(engine) as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_import__obligations_recomputed_audited_and_on_the_timeline(engine, incident):
    # A document from before the engine knew these rules: no obligations at all. 800 Californians with card
    # numbers -> Cal. Civ. Code 1798.82(a) notice to residents, and (f) the AG for "more than 500".
    _revision(engine, incident, {"US-CA": 800})
    document = export_incident(engine, actor=system_actor(), incident_id=incident.id)
    document["incident"]["slug"] = "imported-clocks"
    document["obligations"] = []
    imported = import_incident(engine, actor=system_actor(), document=document)
    register = obligations_register(engine, actor=LEGAL, incident_id=imported.id)
    applicable = set(register[register["applicability"].isin(["applies", "may apply"])]["rule_id"])
    assert {"US-CA-IND", "US-CA-AG"} <= applicable
    events = timeline_frame(engine, actor=LEGAL, incident_id=imported.id)
    assert events["title"].str.startswith("Obligations after the import").any()
    with read_session(engine) as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.incident_id == imported.id)).all()
    assert "obligations.recomputed" in actions and "incident.imported" in actions


def test_recompute__that_changes_nothing_says_so_and_writes_nothing(engine, incident):
    _revision(engine, incident, {"US-CA": 800})
    before = _audit_count(engine)
    events_before = len(timeline_frame(engine, actor=LEGAL, incident_id=incident.id))
    changes = recompute_for(engine, actor=LEGAL, incident_id=incident.id)
    assert changes.nothing and changes.summary().startswith("Nothing changed:")
    assert _audit_count(engine) == before
    assert len(timeline_frame(engine, actor=LEGAL, incident_id=incident.id)) == events_before


def test_filed_one_minute_late__counts_as_late_everywhere(engine, incident):
    # Cal. Civ. Code 1798.82(a) (SB 446): "within 30 calendar days of discovery". Discovered 30 days and 2
    # minutes ago: due 2 minutes ago; the notice recorded 1 minute after the due time is "filed late by 1 min"
    # and stays among the late ones.
    due = (utcnow() - timedelta(minutes=2)).replace(microsecond=0)
    set_milestone(engine, actor=LEGAL, incident_id=incident.id, milestone="detected_at",
                  at=due - timedelta(days=30), expected_version=find_incident(engine, incident.slug).version)
    _revision(engine, incident, {"US-CA": 800})
    obligation = find_obligation(engine, incident.id, "US-CA-IND")
    assert obligation.due_at == due
    file_obligation(engine, actor=LEGAL, obligation_id=obligation.id, filed_at=due + timedelta(minutes=1))
    register = obligations_register(engine, actor=LEGAL, incident_id=incident.id)
    row = register[register["rule_id"] == "US-CA-IND"].iloc[0]
    assert row["status"] == "filed late" and row["timeliness"] == "filed late by 1 min"
    upcoming = upcoming_obligations(engine, actor=LEGAL, incident_id=incident.id)
    assert "US-CA-IND" in set(upcoming[upcoming["status"] == "filed late"]["rule_id"])


def test_cli__recompute_obligations(engine, incident):
    _revision(engine, incident, {"US-CA": 800})
    url = engine.url.render_as_string(hide_password=False)
    result = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url,
                             "recompute-obligations", incident.slug], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "'clocks': Nothing changed:" in result.stdout
