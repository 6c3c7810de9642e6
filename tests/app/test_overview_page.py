"""AppTest for the Overview: start a review, 'since the last review', and the portfolio with its
click-through."""
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.incidents.service import create_incident, find_incident
from breachdash.reviews.service import reviews_frame
from breachdash.scope.service import record_revision
from tests.app.test_pages import _app, _texts
from tests.conftest import actor_with


def _click(at, label):
    [b for b in at.button if b.label == label][0].click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_overview__start_review_then_changes_since_it(demo_url):
    at = _app("ceo@demo.example")
    assert "No review started yet" in _texts(at)
    _click(at, "Start review")
    assert "No review started yet" in _texts(at)  # asked first: nothing recorded yet
    _click(at, "Start the review")
    assert any("Review started" in s.value for s in at.success)
    assert "Nothing has changed since." in _texts(at)
    engine = make_engine(demo_url)
    incident = find_incident(engine, DEMO_SLUG)
    record_revision(engine, actor=actor_with(Role.architect), incident_id=incident.id, revision_in={
        "low": 10, "best": 3_000_000, "high": 3_100_000, "reason": "New exports found"})
    engine.dispose()
    at.run()
    texts = _texts(at)
    assert "All affected revised" in texts and "3,000,000" in texts and "New exports found" in texts
    assert {m.label: m.value for m in at.metric}["Affected individuals"] == "3,000,000"


def test_overview__admin_cannot_start_a_review(demo_url):
    at = _app("admin@demo.example")
    assert "Start review" not in {b.label for b in at.button}


def test_overview__portfolio_lists_open_incidents_and_opens_one(demo_url):
    engine = make_engine(demo_url)
    create_incident(engine, actor=system_actor(), incident_in={"slug": "second", "title": "Payroll portal breach",
                                                               "company": "Kestrel"})
    engine.dispose()
    at = _app("ceo@demo.example")
    assert "All open incidents" in [s.value for s in at.subheader]
    texts = _texts(at)
    assert "Payroll portal breach" in texts and "Loyalty database breach" in texts
    target = [b for b in at.button if b.label == "Open" and not b.disabled]
    assert len(target) == 1
    before = at.title[0].value
    target[0].click().run()
    assert not at.exception
    assert at.title[0].value != before
    assert {before, at.title[0].value} == {"Payroll portal breach", "Loyalty database breach"}


def test_deep_link__the_incident_comes_from_the_address(demo_url):
    """Issue 16: a link pasted to a colleague (?incident=slug) opens the same incident."""
    from streamlit.testing.v1 import AppTest

    from tests.app.test_pages import APP
    from breachdash.ui import SIGNED_IN_KEY

    engine = make_engine(demo_url)
    create_incident(engine, actor=system_actor(), incident_in={"slug": "second", "title": "Payroll portal breach",
                                                               "company": "Kestrel"})
    engine.dispose()
    plain = _app("ceo@demo.example")
    assert plain.title[0].value == "Payroll portal breach"  # the newest incident is the default
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SIGNED_IN_KEY] = "architect@demo.example"
    at.query_params["incident"] = DEMO_SLUG
    at.run()
    assert not at.exception and at.title[0].value == "Loyalty database breach"
    assert at.selectbox(key="incident_selector").value == DEMO_SLUG
    at.switch_page("pages/scope.py").run()
    assert not at.exception and at.selectbox(key="incident_selector").value == DEMO_SLUG
    assert at.query_params["incident"] == DEMO_SLUG
    # Choosing another incident in the sidebar switches every page to it.
    at.selectbox(key="incident_selector").select("second").run()
    assert not at.exception and "Payroll portal breach" in _texts(at)


def test_overview__the_headline_comes_before_the_refresh_selector_and_buttons(demo_url):
    """Issue 16: on a phone the headline number is the first thing; the controls sit under it."""
    at = _app("ceo@demo.example")
    order = [node.type if node.type != "metric" else f"metric:{node.label}" for node in at.main
             if node.type in ("metric", "selectbox", "button", "download_button")]
    first_metric = next(i for i, kind in enumerate(order) if kind.startswith("metric:"))
    first_control = next(i for i, kind in enumerate(order) if not kind.startswith("metric:"))
    assert first_metric < first_control, order
    assert at.selectbox(key="overview_refresh").value == 60
    at.selectbox(key="overview_refresh").select(0).run()
    assert not at.exception and "live refresh is off" in _texts(at)


def test_overview__start_review_is_confirmed_and_any_past_review_can_be_compared(demo_url):
    """Issue 16: Start review asks first (st.dialog); Cancel records nothing; the Overview compares
    with any past review."""
    at = _app("legal@demo.example")
    _click(at, "Start review")
    assert any(b.label == "Start the review" for b in at.button)
    _click(at, "Cancel")
    assert "No review started yet" in _texts(at) and not any(b.label == "Start the review" for b in at.button)
    _click(at, "Start review")
    _click(at, "Start the review")
    engine = make_engine(demo_url)
    incident = find_incident(engine, DEMO_SLUG)
    record_revision(engine, actor=actor_with(Role.architect), incident_id=incident.id, revision_in={
        "low": 10, "best": 3_000_000, "high": 3_100_000, "reason": "New exports found"})
    engine.dispose()
    at.run()
    _click(at, "Start review")
    _click(at, "Start the review")
    assert "Nothing has changed since." in _texts(at)
    picker = at.selectbox(key="compare_review")
    assert len(picker.options) == 2 and "(latest)" in picker.options[0]
    engine = make_engine(demo_url)
    earlier = int(reviews_frame(engine, actor=actor_with(Role.legal), incident_id=incident.id)["review_id"].iloc[-1])
    engine.dispose()
    picker.set_value(earlier).run()
    assert not at.exception
    texts = _texts(at)
    assert "Since an earlier review" in texts and "All affected revised" in texts and "New exports found" in texts
