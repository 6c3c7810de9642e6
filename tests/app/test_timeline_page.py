"""AppTest for the Timeline page: entries, milestones, as-known-at, forms and exports."""

from sqlalchemy import text

from breachdash.db import make_engine
from tests.app.test_pages import _app


def _timeline(email):
    at = _app(email)
    at.switch_page("pages/timeline.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _event_count(url) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM timeline_events")).scalar()
    engine.dispose()
    return count


def test_timeline_page__lists_every_entry_with_milestones_and_durations(demo_url):
    at = _timeline("ceo@demo.example")
    entries = next(d.value for d in at.dataframe if "recorded_by" in d.value.columns)
    assert len(entries) == _event_count(demo_url)
    metrics = {m.label: m.value for m in at.metric}
    # The demo's intrusion start is known to the day: the dwell time is said as such.
    assert metrics["Dwell time"] == "about 41 days" and metrics["Detected"] != "—"
    assert [b.label for b in at.get("download_button")] == ["Download MD", "Download CSV", "Download JSON", "Download PDF"]
    assert "Add entry" not in [b.label for b in at.button]  # executives read; architects and Legal write


def test_timeline_page__architect_adds_an_entry_in_another_zone(demo_url):
    before = _event_count(demo_url)
    at = _timeline("architect@demo.example")
    at.text_input(key="add_title").input("Firewall rule added")
    at.text_input(key="add_zone").input("Europe/Berlin")
    [b for b in at.button if b.label == "Add entry"][0].click().run()
    assert not at.exception and _event_count(demo_url) == before + 1
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        recorded = connection.execute(text(
            "SELECT title, recorded_by FROM timeline_events ORDER BY id DESC LIMIT 1")).one()
    engine.dispose()
    assert tuple(recorded) == ("Firewall rule added", "architect@demo.example")


def test_timeline_page__skipped_local_time_is_refused_with_the_field(demo_url):
    import datetime as dt

    before = _event_count(demo_url)
    at = _timeline("legal@demo.example")
    at.date_input(key="add_day").set_value(dt.date(2026, 3, 8))
    at.time_input(key="add_time").set_value(dt.time(2, 30))
    at.text_input(key="add_zone").input("America/New_York")
    at.text_input(key="add_title").input("During the DST jump")
    [b for b in at.button if b.label == "Add entry"][0].click().run()
    assert any("does not exist in America" in e.value for e in at.error)  # shown escaped: New\\_York
    assert _event_count(demo_url) == before


def test_timeline_page__as_known_at_the_start_shows_nothing_recorded_later(demo_url):
    import datetime as dt

    at = _timeline("legal@demo.example")
    at.toggle(key="tl_known_toggle").set_value(True).run()
    at.date_input(key="tl_known_day").set_value(dt.date(2026, 11, 2))
    at.time_input(key="tl_known_time").set_value(dt.time(6, 0)).run()
    assert not at.exception
    entries = next(d.value for d in at.dataframe if "recorded_by" in d.value.columns)
    assert 0 < len(entries) < _event_count(demo_url)
    assert "Add entry" not in [b.label for b in at.button]


def test_timeline_page__renders_an_incident_with_500_events(demo_url):
    from tests.conftest import add_synthetic_incident

    incident_id = add_synthetic_incident(demo_url, events=500)
    at = _app("legal@demo.example")
    at.session_state["breachdash_incident_id"] = incident_id
    at.switch_page("pages/timeline.py").run()
    assert not at.exception, [e.value for e in at.exception]
    entries = next(d.value for d in at.dataframe if "recorded_by" in d.value.columns)
    assert len(entries) == 500


def test_timeline_page__milestone_and_action_saves_over_a_newer_change_are_refused(demo_url):
    from breachdash.auth.models import Role
    from breachdash.demo import DEMO_SLUG
    from breachdash.incidents.service import find_incident, update_incident
    from breachdash.remediation.service import actions_frame, set_action_status
    from tests.conftest import actor_with

    at = _timeline("legal@demo.example")
    engine = make_engine(demo_url)
    incident = find_incident(engine, DEMO_SLUG)
    other = actor_with(Role.executive, email="other.exec@demo.example")
    update_incident(engine, actor=other, incident_id=incident.id, expected_version=incident.version,
                    incident_in={"summary": "changed while Legal had the timeline open"})
    [b for b in at.button if b.label == "Set milestone"][0].click().run()
    assert any("changed by other.exec@demo.example" in e.value.replace("\\", "") for e in at.error)

    chosen = at.selectbox(key="status_action").value
    action = actions_frame(engine, actor=other, incident_id=incident.id).set_index("id").loc[chosen]
    set_action_status(engine, actor=other, action_id=chosen, status="in progress", expected_version=int(action["version"]))
    at.radio(key="status_value").set_value("done")
    [b for b in at.button if b.label == "Save"][0].click().run()
    assert any("changed by other.exec@demo.example" in e.value.replace("\\", "") for e in at.error)
    after = actions_frame(engine, actor=other, incident_id=incident.id).set_index("id").loc[chosen]
    assert after["status"] == "in progress"
    engine.dispose()


def test_timeline_page__a_refused_entry_keeps_what_was_typed_a_saved_one_clears(demo_url):
    """Issue 16: a refused save keeps the form's text; only a saved entry empties the form."""
    before = _event_count(demo_url)
    at = _timeline("architect@demo.example")
    at.text_input(key="add_zone").input("Mars/Olympus_Mons")
    at.text_input(key="add_title").input("Attacker's VPN account disabled")
    at.text_area(key="add_detail").input("Disabled at the concentrator; sessions dropped.")
    [b for b in at.button if b.label == "Add entry"][0].click().run()
    assert any("When it happened: unknown IANA time zone" in e.value.replace("\\", "") for e in at.error) and _event_count(demo_url) == before
    assert at.text_input(key="add_title").value == "Attacker's VPN account disabled"
    assert at.text_area(key="add_detail").value == "Disabled at the concentrator; sessions dropped."
    at.text_input(key="add_zone").input("Europe/Berlin")
    [b for b in at.button if b.label == "Add entry"][0].click().run()
    assert not at.exception and _event_count(demo_url) == before + 1
    assert at.text_input(key="add_title").value == "" and at.text_area(key="add_detail").value == ""
