"""AppTest for the Scope & exposure page: the right figures, and the revision form."""
import pytest
from sqlalchemy import text

from breachdash.db import make_engine
from tests.app.test_pages import _app, _latest_revision


def _scope_page(email):
    at = _app(email)
    at.switch_page("pages/scope.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_scope_page__shows_latest_revision_and_its_history(demo_url):
    revision, card = _latest_revision(demo_url)
    at = _scope_page("legal@demo.example")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Affected {revision.unit} (best)"] == f"{revision.best:,}"
    assert metrics["Low"] == f"{revision.low:,}" and metrics["High"] == f"{revision.high:,}"
    revisions = next(d.value for d in at.dataframe if "Recorded" in d.value.columns or "when" in d.value.columns)
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM scope_revisions")).scalar()
    engine.dispose()
    assert len(revisions) == count and revisions["seq"].iloc[0] == revision.seq
    assert any(i.value.startswith("Architects record scope revisions.") for i in at.info)
    assert f"{card.count:,}" in at.error[0].value


def test_scope_page__architect_records_a_revision_with_the_form(demo_url):
    at = _scope_page("architect@demo.example")
    at.number_input(key="rev_high").set_value(2_500_000)
    at.number_input(key="rev_best").set_value(2_400_001)
    at.text_area(key="rev_reason").input("New batch of exports")
    [b for b in at.button if b.label == "Record revision"][0].click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Revision"] == f"#{_latest_revision(demo_url)[0].seq}"
    assert _latest_revision(demo_url)[0].best == 2_400_001
    assert any("Recorded revision" in s.value for s in at.success)


def test_scope_page__invalid_revision_names_the_field_and_records_nothing(demo_url):
    before = _latest_revision(demo_url)[0].seq
    at = _scope_page("architect@demo.example")
    at.number_input(key="rev_low").set_value(3_000_000)
    at.number_input(key="rev_high").set_value(10)
    [b for b in at.button if b.label == "Record revision"][0].click().run()
    assert not at.exception
    message = at.error[-1].value
    assert "low" in message and "best" in message
    assert _latest_revision(demo_url)[0].seq == before


@pytest.mark.parametrize("email", ["pr@demo.example", "ceo@demo.example"])
def test_scope_page__other_roles_see_no_forms(demo_url, email):
    at = _scope_page(email)
    labels = [b.label for b in at.button]
    assert "Record revision" not in labels and "Import" not in labels
