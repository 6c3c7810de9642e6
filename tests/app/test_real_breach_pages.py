"""AppTest of the Overview, Scope and Timeline pages for each real-breach fixture: the figures a
page shows are the ones the sources publish (see tests/fixtures/breaches/*.json for each quote)."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from breachdash.auth.models import Role
from breachdash.db import make_engine
from breachdash.transfer import import_incident
from breachdash.ui import INCIDENT_KEY, SIGNED_IN_KEY
from tests.app.test_pages import _texts
from tests.conftest import actor_with

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "breaches"

# page -> (metric label -> value, texts that must appear)
EXPECTED = {
    "capital-one-2019": {
        "overview": ({"Affected individuals, all populations": "about 104,000,000"},
                     ["Bank account numbers: 80,000 individuals — not encrypted (US individuals)"]),
        "scope": ({"US individuals · affected individuals": "98,000,000",
                   "Canada individuals · affected individuals": "6,000,000"},
                  ["approximately 98 million Americans"]),
        "timeline": ({"Intrusion began": "about 12 Mar 2019", "First public announcement": "29 Jul 2019"}, []),
    },
    "t-mobile-2021": {
        "overview": ({}, ["Current postpaid customers (individuals): at least 13.1M", "never added up",
                          "Former customer accounts (additional) (records): 667K"]),
        "scope": ({"Metro by T-Mobile account names · affected individuals": "up to 52K"}, ["never added up"]),
        "timeline": ({"Intrusion began": "March 2021", "Dwell time": "between 133 and 165 days"}, []),
    },
    "optus-2022": {
        "overview": ({}, ["Current and former customers (individuals): 9.5M — was up to 9.8M (revision 4)"]),
        "scope": ({"Customers with expired ID numbers exposed · affected individuals": "900,000"}, []),
        "timeline": ({"Detected": "21 Sep 2022"}, []),
    },
    "23andme-2023": {
        "overview": ({"Accounts accessed directly (credential stuffing) (records)": "up to 14K"}, []),
        "scope": ({"People whose DNA Relatives profile data was taken · affected individuals": "6,900,000"},
                  ["fewer than 14,000 23andMe accounts"]),
        "timeline": ({"Intrusion began": "April 2023", "First customer notice": "October 2023"}, []),
    },
}
PAGES = {"overview": None, "scope": "pages/scope.py", "timeline": "pages/timeline.py"}


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_real_breach_pages_show_the_published_figures(demo_url, slug):
    engine = make_engine(demo_url)
    incident = import_incident(engine, actor=actor_with(*Role),
                               document=json.loads((FIXTURES / f"{slug}.json").read_text(encoding="utf-8")))
    engine.dispose()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
    at.session_state[SIGNED_IN_KEY] = "ceo@demo.example"
    at.session_state[INCIDENT_KEY] = incident.id
    at.run()
    for page, (metrics, texts) in EXPECTED[slug].items():
        if PAGES[page]:
            at.switch_page(PAGES[page]).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = {m.label: m.value for m in at.metric}
        for label, value in metrics.items():
            assert shown.get(label) == value, (page, label, shown.get(label))
        plain = _texts(at).replace("\\", "")
        for text in texts:
            assert text in plain, (page, text)
