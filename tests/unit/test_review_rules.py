"""'Since the last review' in an executive's words: snapshot differences, worked by hand."""
from breachdash.reviews.rules import describe_changes

BEFORE = {
    "best": 1_000, "unit": "individuals",
    "data_types": {"email": {"name": "Email addresses", "tier": "contact", "status": "confirmed"},
                   "payment_card": {"name": "Payment card numbers", "tier": "financial", "status": "suspected"},
                   "phone": {"name": "Phone numbers", "tier": "contact", "status": "confirmed"}},
    "phases": {"initial_notice": {"name": "Initial notice", "status": "in review"}},
    "sign_offs": {"Initial notice|v2|Legal": "current", "Initial notice|v2|PR": "current"},
    "outreach": {"initial_notice": {"name": "Initial notice", "delivered": 100, "targeted": 900}},
    "obligations": {"EU-GDPR-33-SA": {"regime": "GDPR", "recipient": "Regulator", "status": "not due", "due": "x"},
                    "US-TX-AG": {"regime": "Texas", "recipient": "Texas Attorney General", "status": "not due", "due": "y"}},
}
AFTER = {
    "best": 1_250, "unit": "individuals",
    "data_types": {"email": {"name": "Email addresses", "tier": "contact", "status": "confirmed"},
                   "payment_card": {"name": "Payment card numbers", "tier": "financial", "status": "confirmed"},
                   "passport": {"name": "Passport numbers", "tier": "government_id", "status": "suspected"}},
    "phases": {"initial_notice": {"name": "Initial notice", "status": "approved"}},
    "sign_offs": {"Initial notice|v2|Legal": "stale: the best estimate changed", "Initial notice|v2|PR": "current",
                  "Initial notice|v2|Executive": "current"},
    "outreach": {"initial_notice": {"name": "Initial notice", "delivered": 640, "targeted": 900}},
    "obligations": {"EU-GDPR-33-SA": {"regime": "GDPR", "recipient": "Regulator", "status": "filed", "due": "x"},
                    "US-WA-AG": {"regime": "Washington", "recipient": "Washington State Attorney General", "status": "not due",
                                 "due": "2026-12-18 09:14 UTC"}},
}


def test_describe_changes__each_kind_in_plain_words():
    # BEFORE is a snapshot from before populations (one estimate): it reads as the population "all".
    revisions = [{"seq": 8, "population": "all", "label": "All affected", "figure": "1,200 individuals",
                  "reason": "more exports", "recorded_by": "a@x"},
                 {"seq": 9, "population": "all", "label": "All affected", "figure": "1,250 individuals",
                  "reason": "", "recorded_by": "a@x"},
                 {"seq": 10, "population": "uk", "label": "UK customers", "figure": "up to 7,000,000 records",
                  "reason": "regulator's portal", "recorded_by": "a@x"}]
    events = [{"title": f"entry {i}", "kind": "decision"} for i in range(7)]
    texts = [c.text for c in describe_changes(BEFORE, AFTER, revisions=revisions, events=events)]
    assert texts == [
        "All affected revised (revision 8, a@x): 1,000 individuals → 1,200 individuals: more exports",
        "All affected revised (revision 9, a@x): 1,200 individuals → 1,250 individuals",
        "UK customers revised (revision 10, a@x): first estimate up to 7,000,000 records: regulator's portal",
        # Sensitive tiers first, flagged.
        "New exposed data type: Passport numbers (suspected) ⚠",
        "Payment card numbers now confirmed (was suspected) ⚠",
        "No longer listed as exposed: Phone numbers",
        "Initial notice: in review → approved",
        "Sign-off gone stale: Initial notice · v2 · Legal — stale: the best estimate changed",
        "Sign-off given: Initial notice · v2 · Executive (current)",
        "Outreach, Initial notice: delivered 100 → 640 of 900 targeted",
        # Obligations by their recipient's name, never the rule id.
        "Notice to Regulator filed (GDPR)",
        "New obligation: notify Washington State Attorney General (Washington), due 2026-12-18 09:14 UTC",
        "No longer applies: notice to Texas Attorney General (Texas)",
        "7 new timeline entries: entry 0; entry 1; entry 2; entry 3; entry 4 …",
    ]


def test_describe_changes__nothing_changed():
    assert describe_changes(BEFORE, BEFORE, revisions=[], events=[]) == []
