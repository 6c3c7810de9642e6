"""AppTest for the Outreach page: figures from hand-entered counts and delivery reports, the
customer lookup, hand entry, inquiry volumes, and what each role is offered."""
from datetime import timedelta

import pytest

from breachdash.auth.models import Role
from breachdash.db import make_engine
from breachdash.demo import DEMO_SLUG
from breachdash.importers.delivery import import_delivery_report
from breachdash.incidents.service import find_incident
from breachdash.outreach.service import outreach_cells
from tests.app.test_pages import _app
from tests.conftest import DEMO_ANCHOR, actor_with

PR = actor_with(Role.pr)
AT = (DEMO_ANCHOR + timedelta(days=4)).isoformat()
LATER = (DEMO_ANCHOR + timedelta(days=4, hours=2)).isoformat()


def _outreach_page(email):
    at = _app(email)
    at.switch_page("pages/outreach.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _import_report(url, tmp_path, rows) -> None:
    engine = make_engine(url)
    incident = find_incident(engine, DEMO_SLUG)
    path = tmp_path / "report.csv"
    path.write_text("customer_id,phase,channel,status,event_time\n" + "".join(",".join(r) + "\n" for r in rows))
    import_delivery_report(engine, actor=PR, incident_id=incident.id, path=path)
    engine.dispose()


def test_outreach_page__shows_the_demo_counts(demo_url):
    engine = make_engine(demo_url)
    cells = outreach_cells(engine, actor=PR, incident_id=find_incident(engine, DEMO_SLUG).id)
    engine.dispose()
    initial = cells[cells["key"] == "initial_notice"]
    at = _outreach_page("ceo@demo.example")
    metrics = _metrics(at)
    assert metrics["Delivered"] == f"{initial['delivered'].sum():,}"
    assert metrics["Bounced or failed"] == f"{initial['bounced'].sum() + initial['failed'].sum():,}"
    assert metrics["Substitute notices"] == f"{initial['substitute_issued'].sum():,}"
    region_table = next(d.value for d in at.dataframe if "delivered_share" in d.value.columns and "region" in d.value.columns)
    assert region_table["targeted"].sum() == initial["targeted"].sum()
    assert list(region_table["delivered_share"]) == sorted(region_table["delivered_share"])  # lagging first
    infos = " ".join(i.value for i in at.info)
    assert "Support agents (PR role)" in infos and "PR imports delivery reports" in infos
    labels = {b.label for b in at.button}
    assert "Look up" not in labels and "Save counts" not in labels and "Save inquiry volumes" not in labels


def test_outreach_page__report_figures_and_customer_lookup(demo_url, tmp_path):
    _import_report(demo_url, tmp_path, [("c1", "initial_notice", "email", "sent", AT),
                                        ("c1", "initial_notice", "email", "delivered", LATER),
                                        ("c2", "initial_notice", "email", "bounced", AT),
                                        ("c3", "initial_notice", "sms", "failed", AT)])
    at = _outreach_page("pr@demo.example")
    metrics = _metrics(at)
    assert metrics["Delivered"] == "1" and metrics["Bounced or failed"] == "2"
    at.text_input(key="lookup_id").input("c1")
    [b for b in at.button if b.label == "Look up"][0].click().run()
    assert not at.exception
    assert any("Not in the latest affected-customers list" in w.value for w in at.warning)
    states = next(d.value for d in at.dataframe if "vendor_ref" in d.value.columns and "report" not in d.value.columns)
    assert states["status"].tolist() == ["delivered"]
    at.text_input(key="lookup_id").input("   ")
    [b for b in at.button if b.label == "Look up"][0].click().run()
    assert any("enter a pseudonymous customer id" in e.value for e in at.error)


def _fragment_rerun(at, fragment_id):
    """What a browser asks for when a widget inside a fragment is used: a run of that fragment
    only (AppTest itself always runs the whole script)."""
    from dataclasses import replace

    import streamlit.testing.v1.local_script_runner as runner

    plain = runner.RerunData

    def scoped(**kwargs):
        return replace(plain(**kwargs), fragment_id_queue=[fragment_id], is_fragment_scoped_rerun=True)
    runner.RerunData = scoped
    try:
        return at.run()
    finally:
        runner.RerunData = plain


def test_outreach_page__a_lookup_reruns_its_fragment_not_the_page(demo_url, tmp_path, monkeypatch):
    import breachdash.outreach.service as outreach_service

    _import_report(demo_url, tmp_path, [("c1", "initial_notice", "email", "delivered", AT)])
    at = _outreach_page("pr@demo.example")
    storage = at._fragment_storage
    # The customer lookup is the Outreach page's one fragment: the last registered (the Overview's
    # live tiles, drawn by the first run, came before it).
    lookup_fragment = max(storage._fragments, key=storage._registration_sequence_by_id.get)
    page_reads, lookups = [], []
    funnel, history = outreach_service.funnel_frame, outreach_service.customer_history
    monkeypatch.setattr(outreach_service, "funnel_frame",
                        lambda *a, **k: page_reads.append(1) or funnel(*a, **k))
    monkeypatch.setattr(outreach_service, "customer_history",
                        lambda *a, **k: lookups.append(1) or history(*a, **k))
    at.run()  # a full run reads the page (the counter sees it)
    assert page_reads == [1] and lookups == []
    page_reads.clear()
    at.text_input(key="lookup_id").input("c1")
    [b for b in at.button if b.label == "Look up"][0].click()
    _fragment_rerun(at, lookup_fragment)
    assert not at.exception, [e.value for e in at.exception]
    assert lookups == [1] and page_reads == []  # the lookup ran; the page's own reads did not
    states = next(d.value for d in at.dataframe if "vendor_ref" in d.value.columns and "report" not in d.value.columns)
    assert states["status"].tolist() == ["delivered"]
    # (The browser keeps the rest of the page as drawn; AppTest's tree holds only what this run sent.)
    assert not at.title


def test_outreach_page__pr_enters_counts_by_hand(demo_url):
    at = _outreach_page("pr@demo.example")
    at.selectbox(key="entry_channel").select("web notice")
    at.number_input(key="entry_targeted").set_value(500)
    at.number_input(key="entry_sent").set_value(500)
    at.number_input(key="entry_delivered").set_value(450)
    [b for b in at.button if b.label == "Save counts"][0].click().run()
    assert not at.exception
    assert any("Saved web notice counts" in s.value for s in at.success)
    by_channel = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert by_channel.loc[by_channel["channel"] == "web notice", "delivered"].iloc[0] == 450


def test_outreach_page__contradictory_counts_named_and_not_saved(demo_url):
    at = _outreach_page("pr@demo.example")
    at.selectbox(key="entry_channel").select("phone")
    at.number_input(key="entry_targeted").set_value(10)
    at.number_input(key="entry_sent").set_value(50)
    [b for b in at.button if b.label == "Save counts"][0].click().run()
    assert any("more than targeted" in e.value for e in at.error)
    by_channel = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert "phone" not in set(by_channel["channel"])
