"""Issue 19.3: values from imported files are shown as typed text on the Outreach page — a
segment or region that looks like Markdown (an image that would make the browser fetch an
address, a link) stays inert."""
from sqlalchemy import text

from breachdash.auth.models import Role
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.importers.affected import import_affected_file
from breachdash.incidents.service import find_incident
from tests.app.test_pages import _app
from tests.conftest import actor_with

HOSTILE_SEGMENT = "![t](http://198.51.100.7/p.png)"


def test_outreach_lookup__an_imported_segment_is_shown_as_typed(demo_url, tmp_path):
    engine = make_engine(demo_url)
    incident = find_incident(engine, DEMO_SLUG)
    path = tmp_path / "affected.csv"
    path.write_text("customer_id,region,segment,system,data_types\n"
                    f'cus_hostile,DE,"{HOSTILE_SEGMENT}",crm,email\n')
    import_affected_file(engine, actor=actor_with(Role.architect), incident_id=incident.id, path=path,
                         reason="inert text check")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM scope_revisions")).scalar()
    engine.dispose()
    at = _app("pr@demo.example")
    at.switch_page("pages/outreach.py").run()
    at.text_input(key="lookup_id").input("cus_hostile")
    [b for b in at.button if b.label == "Look up"][0].click().run()
    assert not at.exception
    shown = next(s.value for s in at.success if "In the affected-customers list" in s.value)
    assert "\\!\\[t\\]\\(" in shown and "![t](" not in shown
