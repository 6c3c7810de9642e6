"""The rules engine on the live record (SQLite and PostgreSQL): obligations appear and go with the
scope, filings are append-only and start chained clocks, Legal tracks status, the register exports."""
import csv
import io
import subprocess
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.common import simulated_clock, utcnow
from breachdash.demo import DEMO_SLUG
from breachdash.errors import InvalidInput, PermissionDenied
from breachdash.exports import export_obligations
from breachdash.incidents.service import create_incident, find_incident, set_milestone, update_incident
from breachdash.obligations.service import (
    file_obligation,
    filings_frame,
    find_obligation,
    obligations_register,
    set_obligation_status,
    upcoming_obligations,
)
from breachdash.scope.service import record_revision
from breachdash.timeline.service import timeline_frame
from tests.conftest import actor_with

LEGAL = actor_with(Role.legal)
ARCHITECT = actor_with(Role.architect)


def _revision(engine, incident, regions: dict, types=(("payment_card", "confirmed"),), best=None):
    total = best or sum(regions.values())
    return record_revision(engine, actor=ARCHITECT, incident_id=incident.id, revision_in={
        "low": total, "best": total, "high": total, "reason": "forensics",
        "regions": [{"region": r, "count": n} for r, n in regions.items()],
        "data_types": [{"data_type": t, "count": total, "status": s} for t, s in types]})


@pytest.fixture
def incident(engine):
    incident = create_incident(engine, actor=system_actor(), incident_in={"slug": "clocks", "title": "T", "company": "C"})
    now = utcnow()
    set_milestone(engine, actor=LEGAL, incident_id=incident.id, milestone="detected_at", at=now - timedelta(days=2),
                  expected_version=incident.version)
    return find_incident(engine, "clocks")


def _row(engine, incident, rule_id):
    register = obligations_register(engine, actor=LEGAL, incident_id=incident.id)
    return register[register["rule_id"] == rule_id].iloc[0]


def test_demo__legal_sees_every_applicable_clock_with_its_reason(demo_engine):
    incident = find_incident(demo_engine, DEMO_SLUG)
    register = obligations_register(demo_engine, actor=LEGAL, incident_id=incident.id)
    applicable = register[register["applicability"].isin(["applies", "may apply"])]
    assert len(applicable) >= 15
    assert applicable["reason"].str.len().min() > 20
    assert {"EU-GDPR-33-SA", "UK-GDPR-33-ICO", "US-CA-IND", "US-CA-AG", "US-TX-AG", "US-SEC-8K-105"} <= set(
        applicable["rule_id"])
    gdpr = applicable[applicable["rule_id"] == "EU-GDPR-33-SA"].iloc[0]
    assert gdpr["status"] == "filed" and "affected residents of the EU/EEA" in gdpr["reason"]
    assert gdpr["due_at"] - gdpr["clock_started_at"] == timedelta(hours=72)
    sec = applicable[applicable["rule_id"] == "US-SEC-8K-105"].iloc[0]
    assert sec["applicability"] == "may apply" and "materiality" in sec["clock_note"]
    ca_ag = applicable[applicable["rule_id"] == "US-CA-AG"].iloc[0]  # chained on the CA notice the demo filed
    assert ca_ag["due_at"] - ca_ag["clock_started_at"] == timedelta(days=15)
    not_applicable = register[register["applicability"] == "not applicable"]
    assert not_applicable["reason"].str.len().min() > 10
    assert "HIPAA covered entity" in not_applicable[not_applicable["rule_id"] == "US-HIPAA-IND"].iloc[0]["reason"]


def test_crossing_a_state_threshold_adds_the_obligation_and_tells_the_timeline(engine, incident):
    _revision(engine, incident, {"US-WA": 500, "US-CA": 20})
    assert _row(engine, incident, "US-WA-AG")["applicability"] == "not applicable"
    assert "below the threshold of more than 500" in _row(engine, incident, "US-WA-AG")["reason"]
    _revision(engine, incident, {"US-WA": 501, "US-CA": 20})
    row = _row(engine, incident, "US-WA-AG")
    assert row["applicability"] == "applies" and not pd.isna(row["due_at"])
    titles = timeline_frame(engine, actor=LEGAL, incident_id=incident.id)["title"].tolist()
    assert any(t.startswith("Obligations after scope revision 2: 1 new: US-WA-AG") for t in titles)
    assert "US-WA-AG" in set(upcoming_obligations(engine, actor=LEGAL, incident_id=incident.id)["rule_id"])


def test_revision_removing_a_region__no_longer_applies_with_history_kept(engine, incident):
    _revision(engine, incident, {"US-WA": 900, "US-CA": 20})
    obligation = find_obligation(engine, incident.id, "US-WA-AG")
    _revision(engine, incident, {"US-CA": 20})
    row = _row(engine, incident, "US-WA-AG")
    assert row["applicability"] == "no longer applies" and row["status"] == "not applicable"
    assert "No affected residents of US-WA in revision 2" in row["reason"]
    titles = timeline_frame(engine, actor=LEGAL, incident_id=incident.id)["title"].tolist()
    assert any("no longer apply: " in t and "US-WA-AG" in t for t in titles)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version FROM obligations WHERE id = :id"),
                                      {"id": obligation.id}).scalar()
        audited = connection.execute(text("SELECT count(*) FROM audit_events WHERE action = 'obligations.recomputed' "
                                          "AND incident_id = :id"), {"id": incident.id}).scalar()
    assert versions == obligation.version + 1 and audited >= 3


def test_sector_flag_and_milestone_start_the_sec_clock(engine, incident):
    assert _row(engine, incident, "US-SEC-8K-105")["applicability"] == "not applicable"
    update_incident(engine, actor=LEGAL, incident_id=incident.id, expected_version=incident.version,
                    incident_in={"sector_flags": ["sec_registrant"]})
    assert _row(engine, incident, "US-SEC-8K-105")["applicability"] == "may apply"
    current = find_incident(engine, "clocks")
    determined = utcnow() - timedelta(hours=1)
    set_milestone(engine, actor=LEGAL, incident_id=incident.id, milestone="materiality_determined_at",
                  at=determined, expected_version=current.version)
    row = _row(engine, incident, "US-SEC-8K-105")
    assert row["applicability"] == "applies" and row["clock_started_at"] == determined
    assert timedelta(days=4) <= row["due_at"] - determined <= timedelta(days=9)


def test_filing__append_only_correction_and_chained_clock(engine, incident):
    _revision(engine, incident, {"US-CA": 800})
    individuals = find_obligation(engine, incident.id, "US-CA-IND")
    assert pd.isna(_row(engine, incident, "US-CA-AG")["due_at"])
    sent = utcnow() - timedelta(hours=3)
    first = file_obligation(engine, actor=LEGAL, obligation_id=individuals.id, filed_at=sent, reference="mailing 1")
    ag = _row(engine, incident, "US-CA-AG")
    assert ag["clock_started_at"] == sent and ag["due_at"] == sent + timedelta(days=15)
    file_obligation(engine, actor=LEGAL, obligation_id=individuals.id, filed_at=sent, reference="mailing 1 (corrected)",
                    corrects_id=first.id)
    filings = filings_frame(engine, actor=LEGAL, obligation_id=individuals.id)
    assert filings["reference"].tolist() == ["mailing 1", "mailing 1 (corrected)"]
    assert filings["corrects"].tolist()[1] == first.id
    row = _row(engine, incident, "US-CA-IND")
    # The register judges the deadline by the first filing and lists the corrections after it.
    assert row["status"] == "filed" and row["filings"] == 2 and row["reference"] == "mailing 1"
    assert "mailing 1 (corrected)" in row["corrections"] and row["filed_at"] == sent
    with pytest.raises(InvalidInput, match="future"):
        file_obligation(engine, actor=LEGAL, obligation_id=individuals.id, filed_at=utcnow() + timedelta(days=1))
    other = find_obligation(engine, incident.id, "US-CA-AG")
    with pytest.raises(InvalidInput, match="not a filing of this obligation"):
        file_obligation(engine, actor=LEGAL, obligation_id=other.id, filed_at=sent, corrects_id=first.id)


def test_status_tracking__late_in_preparation_and_not_applicable(engine, incident):
    with simulated_clock(utcnow() - timedelta(days=40)):
        _revision(engine, incident, {"US-TX": 400})
    row = _row(engine, incident, "US-TX-AG")
    assert row["status"] == "not due"
    late = obligations_register(engine, actor=LEGAL, incident_id=incident.id, now=row["due_at"] + timedelta(hours=1))
    assert late[late["rule_id"] == "US-TX-AG"].iloc[0]["status"] == "late"
    set_obligation_status(engine, actor=LEGAL, obligation_id=int(row["obligation_id"]), status="in preparation",
                          expected_version=int(row["version"]))
    assert _row(engine, incident, "US-TX-AG")["status"] == "in preparation"
    with pytest.raises(InvalidInput, match="say why"):
        set_obligation_status(engine, actor=LEGAL, obligation_id=int(row["obligation_id"]), status="not applicable",
                              expected_version=int(row["version"]) + 1)
    with pytest.raises(InvalidInput, match="Record filing"):
        set_obligation_status(engine, actor=LEGAL, obligation_id=int(row["obligation_id"]), status="filed",
                              expected_version=int(row["version"]) + 1)
    for role in (Role.pr, Role.architect, Role.executive):
        with pytest.raises(PermissionDenied):
            set_obligation_status(engine, actor=actor_with(role), obligation_id=int(row["obligation_id"]),
                                  status="in preparation", expected_version=int(row["version"]) + 1)


def test_register_exports_csv_and_pdf(demo_engine, tmp_path):
    incident = find_incident(demo_engine, DEMO_SLUG)
    data, mime, name = export_obligations(demo_engine, actor=LEGAL, incident_id=incident.id, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    register = obligations_register(demo_engine, actor=LEGAL, incident_id=incident.id)
    assert mime == "text/csv" and name.endswith(".csv") and len(rows) == len(register)
    assert rows[0]["rule_id"] == register.iloc[0]["rule_id"] and rows[0]["reason"]
    pdf, mime, name = export_obligations(demo_engine, actor=LEGAL, incident_id=incident.id, fmt="pdf")
    assert mime == "application/pdf" and pdf.startswith(b"%PDF")
    (tmp_path / name).write_bytes(pdf)
    text_out = subprocess.run(["pdftotext", "-layout", str(tmp_path / name), "-"], capture_output=True,
                              text=True).stdout
    assert "Obligations register" in text_out and "EU-GDPR-33-SA" in text_out and "Does not apply" in text_out
    with pytest.raises(InvalidInput):
        export_obligations(demo_engine, actor=LEGAL, incident_id=incident.id, fmt="docx")
