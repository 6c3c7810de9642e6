"""AppTest for the Obligations page: every applicable clock with its reason, filings, tracking
status, the company's sector facts, and what each role is offered."""
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.incidents.service import find_incident
from breachdash.obligations.service import obligations_register
from tests.app.test_pages import _app
from tests.conftest import actor_with
from breachdash.auth.models import Role

LEGAL = actor_with(Role.legal)


def _page(email):
    at = _app(email)
    at.switch_page("pages/obligations.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _register(url):
    engine = make_engine(url)
    register = obligations_register(engine, actor=LEGAL, incident_id=find_incident(engine, DEMO_SLUG).id)
    engine.dispose()
    return register


def test_obligations_page__every_applicable_clock_with_reason_and_countdown(demo_url):
    register = _register(demo_url)
    applicable = register[register["applicability"].isin(["applies", "may apply"])]
    at = _page("legal@demo.example")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Applicable clocks"] == str(len(applicable))
    assert metrics["Filed"] == str(int((applicable["status"] == "filed").sum()))
    table = next(d.value for d in at.dataframe if "countdown" in d.value.columns)
    assert set(table["rule_id"]) == set(applicable["rule_id"])
    assert table["reason"].str.len().min() > 20
    gdpr = table[table["rule_id"] == "EU-GDPR-33-SA"].iloc[0]
    assert gdpr["countdown"].startswith("filed")
    no_limit = table[table["rule_id"] == "EU-GDPR-34-DS"].iloc[0]
    assert no_limit["countdown"].endswith("elapsed (no fixed limit)")
    assert any(b.label == "Record filing" for b in at.button)


def test_obligations_page__legal_records_a_filing(demo_url):
    at = _page("legal@demo.example")
    register = _register(demo_url)
    target = register[register["rule_id"] == "US-TX-AG"].iloc[0]
    at.selectbox(key="obligation_choice").select(int(target["obligation_id"]))
    at.run()
    at.text_input(key="filing_ref").input("TX AG portal receipt 77")
    [b for b in at.button if b.label == "Record filing"][0].click().run()
    assert not at.exception
    assert any(s.value.replace("\\", "") == "Filing recorded: Texas Attorney General (US-TX-AG)." for s in at.success)
    after = _register(demo_url)
    assert after[after["rule_id"] == "US-TX-AG"].iloc[0]["status"] == "filed"


def test_obligations_page__not_applicable_needs_a_reason(demo_url):
    at = _page("legal@demo.example")
    at.selectbox(key="obligation_status").select("not applicable")
    [b for b in at.button if b.label == "Save status"][0].click().run()
    assert any("say why the obligation does not apply" in e.value for e in at.error)


def test_obligations_page__sector_facts_recompute_the_clocks(demo_url):
    at = _page("legal@demo.example")
    at.multiselect(key="sector_flag_choice").set_value([])
    [b for b in at.button if b.label == "Save sector facts"][0].click().run()
    assert not at.exception
    after = _register(demo_url)
    assert after[after["rule_id"] == "US-SEC-8K-105"].iloc[0]["applicability"] == "no longer applies"


def test_obligations_page__pr_reads_but_is_offered_no_forms(demo_url):
    at = _page("pr@demo.example")
    labels = {b.label for b in at.button}
    assert "Record filing" not in labels and "Save status" not in labels and "Save sector facts" not in labels
    assert next(d.value for d in at.dataframe if "countdown" in d.value.columns).shape[0] > 10


def _plain(markdown: str) -> str:
    """Error text as shown: the page escapes markdown characters with backslashes."""
    return markdown.replace("\\", "")


def test_obligations_page__a_save_over_someone_elses_newer_change_is_refused(demo_url):
    """Each form saves against the version the person was shown; after a refusal the page shows
    the newer record, so the next save is judged against that one."""
    from breachdash.incidents.service import get_incident, update_incident
    from breachdash.obligations.service import set_obligation_status

    at = _page("legal@demo.example")
    register = _register(demo_url)
    chosen = int(register.loc[register["status"] == "not due", "obligation_id"].iloc[0])
    at.selectbox(key="obligation_choice").select(chosen).run()
    engine = make_engine(demo_url)
    incident = find_incident(engine, DEMO_SLUG)
    version = int(register.loc[register["obligation_id"] == chosen, "version"].iloc[0])
    set_obligation_status(engine, actor=actor_with(Role.legal, email="other.legal@demo.example"),
                          obligation_id=chosen, status="in preparation", expected_version=version)
    at.selectbox(key="obligation_status").select("not due")
    [b for b in at.button if b.label == "Save status"][0].click().run()
    assert any("changed by other.legal@demo.example" in _plain(e.value) for e in at.error)
    register = _register(demo_url)
    assert register.loc[register["obligation_id"] == chosen, "status"].iloc[0] == "in preparation"

    update_incident(engine, actor=actor_with(Role.executive, email="other.exec@demo.example"),
                    incident_id=incident.id, expected_version=get_incident(engine, actor=LEGAL, incident_id=incident.id).version,
                    incident_in={"summary": "changed while Legal looked at the page"})
    at.multiselect(key="sector_flag_choice").set_value([])
    [b for b in at.button if b.label == "Save sector facts"][0].click().run()
    assert any("changed by other.exec@demo.example" in _plain(e.value) for e in at.error)
    assert get_incident(engine, actor=LEGAL, incident_id=incident.id).sector_flags  # not saved over

    [b for b in at.button if b.label == "Save sector facts"][0].click().run()  # now against what is shown
    assert not at.error
    assert get_incident(engine, actor=LEGAL, incident_id=incident.id).sector_flags == []
    engine.dispose()
