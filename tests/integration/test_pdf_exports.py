"""The briefing and timeline PDFs for the people who receive them (issue 16.9): a marking line on
every page, 'Page N of M', decisions first, dated file names, the chart heading kept with its
chart, automatic obligation entries summarised (kept whole in CSV and JSON), and one kept-alive
Chromium for every chart after the first."""
import json
import re
import subprocess
from datetime import datetime, timezone

import pytest

from breachdash.auth.models import Role
from breachdash.briefing import export_briefing
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.exports import export_file_name, export_timeline, obligation_update
from breachdash.incidents.service import find_incident
from tests.conftest import actor_with

LEGAL = actor_with(Role.legal, email="counsel@x.example")
MARKING = "Privileged & Confidential — prepared at the direction of counsel (test)"


@pytest.fixture(scope="module")
def demo(databases):
    engine = make_engine(databases.fresh_url("sqlite", demo=True))
    yield engine, find_incident(engine, DEMO_SLUG)
    engine.dispose()


def _pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "export.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def test_briefing_pdf__marking_page_numbers_and_decisions_first(demo, tmp_path, monkeypatch):
    engine, incident = demo
    monkeypatch.setenv("BREACHDASH_EXPORT_MARKING", MARKING)
    pdf, _, name = export_briefing(engine, actor=LEGAL, incident_id=incident.id, fmt="pdf")
    assert re.fullmatch(rf"{DEMO_SLUG}-briefing-\d{{4}}-\d\d-\d\d-\d{{4}}\.pdf", name)
    pages = _pages(pdf, tmp_path)
    for number, page in enumerate(pages, start=1):
        assert MARKING in page and f"Page {number} of {len(pages)}" in page
    first = pages[0]
    assert first.index("Decisions needed") < first.index("Where we stand") < first.index("Next deadlines")
    assert "re-confirm version 1 on the Communications page" in re.sub(r"\s+", " ", first)
    markdown = export_briefing(engine, actor=LEGAL, incident_id=incident.id, fmt="md")[0].decode()
    assert "Confidential — prepared at the direction of counsel" in markdown.splitlines()[2]
    assert markdown.index("## Decisions needed") < markdown.index("## Where we stand")


def test_pdf_marking__empty_setting_prints_none(demo, tmp_path, monkeypatch):
    engine, incident = demo
    monkeypatch.setenv("BREACHDASH_EXPORT_MARKING", "")
    pages = _pages(export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="pdf"), tmp_path)
    assert not any("Privileged" in page for page in pages)
    assert f"Page 1 of {len(pages)}" in pages[0]


def test_timeline_pdf__chart_heading_on_the_chart_page_and_obligation_entries_summarised(demo, tmp_path):
    engine, incident = demo
    pdf = export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="pdf")
    pages = _pages(pdf, tmp_path)
    (tmp_path / "t.pdf").write_bytes(pdf)
    images = subprocess.run(["pdfimages", "-list", str(tmp_path / "t.pdf")], capture_output=True, text=True,
                            check=True).stdout.splitlines()[2:]
    chart_page = int(images[0].split()[0])
    heading_page = next(i for i, page in enumerate(pages, start=1) if "Timeline chart" in page)
    assert heading_page == chart_page
    assert not pages[heading_page - 1].strip().splitlines()[-1].strip().startswith("Timeline chart")

    text = "\n".join(pages)
    assert "Automatic obligation updates" in text
    # The chronology shows one short line; the rules' reasons are not repeated there.
    markdown = export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="md").decode()
    chronology, updates = markdown.split("## Automatic obligation updates")
    automatic = [line for line in chronology.splitlines() if "Obligations after" in line]
    assert automatic and all(len(line) < 400 and "EU-GDPR-33-SA" not in line for line in automatic)
    assert "EU-GDPR-33-SA" in updates
    # CSV and JSON keep every automatic entry whole, reasons included.
    events = json.loads(export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="json"))["events"]
    whole = [e for e in events if obligation_update(e) is not None]
    assert len(whole) == len(automatic) and any("EU-GDPR-33-SA: " in e["detail"] for e in whole)
    assert "EU-GDPR-33-SA: " in export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="csv").decode()


def test_pdf_charts__one_kept_alive_renderer_after_the_first_export(demo):
    from kaleido._sync_server import GlobalKaleidoServer

    engine, incident = demo
    export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="pdf")
    server = GlobalKaleidoServer()
    assert server.is_running()
    renderer = server._thread  # noqa: SLF001
    export_briefing(engine, actor=LEGAL, incident_id=incident.id, fmt="pdf")
    export_timeline(engine, actor=LEGAL, incident_id=incident.id, fmt="pdf")
    assert server._thread is renderer and renderer.is_alive()  # noqa: SLF001


def test_export_file_name__dated_in_the_incidents_zone():
    at = datetime(2026, 12, 2, 3, 15, tzinfo=timezone.utc)
    assert export_file_name("kestrel", "briefing", "pdf", at=at, zone="America/New_York") == \
        "kestrel-briefing-2026-12-01-2215.pdf"
    known = datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc)
    assert export_file_name("kestrel", "timeline", "md", at=at, as_known_at=known, zone="UTC") == \
        "kestrel-timeline-as-known-2026-11-24-1300-2026-12-02-0315.md"
