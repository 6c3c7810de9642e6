"""AppTest for the Scope & exposure page: each population's figure as published, the revision
form, populations, and a stale form that must not win."""
import pytest
from sqlalchemy import text

from breachdash.db import make_engine
from tests.app.test_pages import _app, _latest_revision, _texts


def _scope_page(email):
    at = _app(email)
    at.switch_page("pages/scope.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _submit(at, label="Record revision"):
    [b for b in at.button if b.label == label][0].click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_scope_page__shows_latest_revision_and_its_history(demo_url):
    revision, card = _latest_revision(demo_url)
    at = _scope_page("legal@demo.example")
    metrics = {m.label: m for m in at.metric}
    headline = metrics[f"All affected · affected {revision.unit}"]
    assert headline.value == f"{revision.best:,}"
    captions = _texts(at)
    assert f"{revision.low:,} – {revision.high:,}" in captions and f"revision {revision.seq}" in captions
    revisions = next(d.value for d in at.dataframe if "population" in d.value.columns)
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM scope_revisions")).scalar()
    engine.dispose()
    assert len(revisions) == count and revisions["seq"].iloc[0] == revision.seq
    assert set(revisions["population"]) == {"All affected"}
    assert any(i.value.startswith("Architects record scope revisions.") for i in at.info)
    assert f"{card.count:,}" in at.error[0].value and "not encrypted" in at.error[0].value


def test_scope_page__architect_records_a_revision_with_the_form(demo_url):
    at = _scope_page("architect@demo.example")
    at.number_input(key="rev_high").set_value(2_500_000)
    at.number_input(key="rev_best").set_value(2_400_001)
    at.text_area(key="rev_reason").input("New batch of exports")
    _submit(at)
    latest = _latest_revision(demo_url)[0]
    assert latest.best == 2_400_001
    assert {m.label: m.value for m in at.metric}["All affected · affected individuals"] == "2,400,001"
    assert any("Recorded revision" in s.value for s in at.success)


def test_scope_page__invalid_revision_names_the_field_and_records_nothing(demo_url):
    before = _latest_revision(demo_url)[0].seq
    at = _scope_page("architect@demo.example")
    at.number_input(key="rev_low").set_value(3_000_000)
    at.number_input(key="rev_high").set_value(10)
    _submit(at)
    message = at.error[-1].value
    assert "low" in message and "best" in message
    assert _latest_revision(demo_url)[0].seq == before


def test_scope_page__a_stale_form_is_refused_and_keeps_what_was_typed(demo_url):
    # Two architects open "Record a revision" on the same revision; the second save must not win.
    first, second = _scope_page("architect@demo.example"), _scope_page("architect@demo.example")
    before = _latest_revision(demo_url)[0].seq
    first.number_input(key="rev_best").set_value(2_400_500)
    first.number_input(key="rev_high").set_value(2_600_000)
    _submit(first)
    second.number_input(key="rev_best").set_value(2_300_000)
    second.number_input(key="rev_high").set_value(2_700_000)
    second.text_area(key="rev_reason").input("My stale reading")
    _submit(second)
    message = second.error[-1].value.replace("\\", "")
    assert "All affected was revised by architect@demo.example" in message and "reload" in message
    assert second.text_area(key="rev_reason").value == "My stale reading"
    latest = _latest_revision(demo_url)[0]
    assert latest.seq == before + 1 and latest.best == 2_400_500


def test_scope_page__populations_are_shown_side_by_side_never_added(demo_url):
    demo_best = _latest_revision(demo_url)[0].best
    at = _scope_page("architect@demo.example")
    at.text_input(key="pop_label").input("UK customers")
    at.text_input(key="pop_key").input("uk")
    at.selectbox(key="pop_unit").set_value("records")
    at.text_input(key="pop_where").input("GB")
    _submit(at, "Add population")
    at.selectbox(key="rev_population").set_value("uk").run()
    at.selectbox(key="rev_kind").set_value("up to")
    at.number_input(key="rev_high").set_value(7_000_000)
    at.text_input(key="rev_wording").input("up to seven million records")
    at.text_area(key="rev_reason").input("Regulator's portal figure")
    _submit(at)
    metrics = {m.label: m for m in at.metric}
    assert metrics["UK customers · affected records"].value == "up to 7M"
    assert "up to 7,000,000 — “up to seven million records”" in _texts(at).replace("\\", "")
    # The UK revision leaves what is known of the other population as it was.
    assert metrics["All affected · affected individuals"].value == f"{demo_best:,}"
    assert not any(label.startswith("Affected") and "all populations" in label for label in metrics)
    assert "never added up" in _texts(at)
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        kinds = connection.execute(text(
            "SELECT p.key, r.figure_kind, r.low, r.best, r.high FROM scope_revisions r "
            "JOIN scope_populations p ON p.id = r.population_id ORDER BY r.seq DESC LIMIT 1")).one()
    engine.dispose()
    assert tuple(kinds) == ("uk", "up to", None, None, 7_000_000)


def test_scope_page__an_unknown_count_is_said_not_invented(demo_url):
    at = _scope_page("architect@demo.example")
    at.selectbox(key="rev_kind").set_value("unknown")  # the carried-forward numbers are ignored
    at.text_input(key="rev_wording").input("a substantial proportion")
    at.text_area(key="rev_reason").input("Only qualitative so far")
    _submit(at)
    value = {m.label: m.value for m in at.metric}["All affected · affected individuals"]
    assert value == "not known" and "“a substantial proportion” \\(count not known\\)" in _texts(at)


@pytest.mark.parametrize("email", ["pr@demo.example", "ceo@demo.example"])
def test_scope_page__other_roles_see_no_forms(demo_url, email):
    at = _scope_page(email)
    labels = [b.label for b in at.button]
    assert "Record revision" not in labels and "Import" not in labels and "Add population" not in labels
