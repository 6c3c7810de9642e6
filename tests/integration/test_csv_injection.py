"""CSV downloads open safely in a spreadsheet: text that would start a formula is shown as text."""
import csv
import io
from datetime import timedelta

from breachdash.auth.models import Role
from breachdash.common import spreadsheet_safe, utcnow
from breachdash.exports import export_timeline
from breachdash.outreach import service as outreach
from tests.conftest import actor_with
from tests.integration.test_outreach_import import _at, _import, _rows, _write, incident  # noqa: F401 - fixture

FORMULAS = ["=HYPERLINK(\"http://evil.example/\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]


def test_rule__formula_starts_get_an_apostrophe_and_the_rest_is_unchanged():
    assert [spreadsheet_safe(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    assert [spreadsheet_safe(v) for v in ("plain", "", "a=b", 42, -3, None)] == ["plain", "", "a=b", 42, -3, None]


def test_timeline_csv__a_formula_title_is_text(demo_engine, incident):
    from breachdash.timeline.service import add_event

    legal = actor_with(Role.legal)
    add_event(demo_engine, actor=legal, incident_id=incident.id, event_in={
        "occurred_at": utcnow() - timedelta(hours=1), "kind": "other", "title": FORMULAS[0], "detail": FORMULAS[1]})
    data = export_timeline(demo_engine, actor=legal, incident_id=incident.id, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    mine = [row for row in rows if FORMULAS[0] in row["title"]]
    assert len(mine) == 1
    assert mine[0]["title"] == "'" + FORMULAS[0] and mine[0]["detail"] == "'" + FORMULAS[1]
    assert not any(value.startswith(("=", "+", "@")) for row in rows for value in row.values() if value)


def test_bounce_list_csv__a_formula_customer_id_is_text(demo_engine, incident, tmp_path):
    pr = actor_with(Role.pr)
    _import(demo_engine, incident, _write(tmp_path, _rows((FORMULAS[4], "initial_notice", "email", "bounced", _at(2), "v1"))))
    rows = list(csv.DictReader(io.StringIO(outreach.bounce_list_csv(
        demo_engine, actor=pr, incident_id=incident.id).decode("utf-8"))))
    assert [row["customer_id"] for row in rows if "cmd" in row["customer_id"]] == ["'" + FORMULAS[4]]
