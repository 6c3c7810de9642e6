"""Hand-worked deadlines and applicability decisions. Each case's expected value is worked out
by hand in the comment beside it (calendars from the published holiday lists for 2026)."""
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone

import pytest

from breachdash.display import countdown
from breachdash.obligations.rules import (
    ExposedData,
    Facts,
    PopulationFact,
    RegionFact,
    Rule,
    compute_due,
    decide,
    decide_all,
)
from breachdash.scope.rules import Figure
from breachdash.timeline.rules import local_to_utc

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


BASE = Rule(
    id="R", jurisdiction="X", region_scope=("US",), scope_basis="residents", regime="Test regime", citation="§1",
    recipient="regulator", recipient_name="Regulator", deadline_text="", deadline_value=72, deadline_unit="hours",
    calendar="", trigger="awareness", anchor_rule_id="", threshold_operator="", threshold_count=None,
    threshold_population="", data_tiers=("any",), sector_condition="", harm_threshold="", asap_overlay=False,
    status="in_force", in_force_from=None, confidence="primary", source_urls=(), notes="")


def rule(**changes) -> Rule:
    return replace(BASE, **changes)


def facts(**changes) -> Facts:
    """One population (revision 3) with these regions and exposed tiers, in the engine's new Facts."""
    values = dict(regions={"US-CA": 1000, "US-TX": 300, "DE": 40, "FR-75": 10, "GB": 5},
                  tiers={"financial": "confirmed", "contact": "confirmed"},
                  sectors=frozenset(), milestones={"awareness": utc(2026, 11, 2, 17), "discovery": utc(2026, 11, 2, 9)},
                  filings={}, today=date(2026, 11, 27))
    values.update(changes)
    regions, tiers = values.pop("regions"), values.pop("tiers")
    population = PopulationFact(key="all", label="All", unit="individuals", revision_seq=3,
                                figure=Figure.exact(sum(regions.values())),
                                regions=tuple(RegionFact(code, Figure.exact(n)) for code, n in regions.items()))
    exposed = tuple(ExposedData(f"{tier}_item", tier, status, "plain", Figure.exact(1)) for tier, status in tiers.items())
    return Facts(populations=(population,), exposed=exposed, **values)


# ---------------------------------------------------------------- deadlines, worked by hand

DEADLINES = [
    # 1. GDPR 72h across the end of Irish summer time: aware Fri 23 Oct 10:00 IST (UTC+1) = 09:00 UTC;
    #    + 72 clock hours = Mon 26 Oct 09:00 UTC, which is 09:00 GMT in Dublin (the wall clock moved back).
    (local_to_utc(date(2026, 10, 23), time(10, 0), "Europe/Dublin"), 72, "hours", "", utc(2026, 10, 26, 9)),
    # 2. GDPR 72h across the start of CEST: aware Fri 27 Mar 12:00 CET = 11:00 UTC; + 72h = Mon 30 Mar
    #    11:00 UTC = 13:00 CEST.
    (local_to_utc(date(2026, 3, 27), time(12, 0), "Europe/Berlin"), 72, "hours", "", utc(2026, 3, 30, 11)),
    # 3. SEC 8-K, 4 business days: determined Wed 25 Nov 15:00 ET. Thu 26 is Thanksgiving (federal holiday),
    #    Fri 27 = day 1, Sat/Sun skipped, Mon 30 = 2, Tue 1 Dec = 3, Wed 2 Dec = 4 -> end of Wed 2 Dec ET
    #    (EST, UTC-5) = Thu 3 Dec 04:59:59 UTC.
    (local_to_utc(date(2026, 11, 25), time(15, 0), "America/New_York"), 4, "business_days", "US-FED",
     utc(2026, 12, 3, 4, 59, 59)),
    # 4. SEC over Christmas: determined Mon 21 Dec 10:00 ET. Tue 22 = 1, Wed 23 = 2, Thu 24 = 3 (not a federal
    #    holiday), Fri 25 Christmas skipped, weekend skipped, Mon 28 = 4 -> Tue 29 Dec 04:59:59 UTC.
    (local_to_utc(date(2026, 12, 21), time(10, 0), "America/New_York"), 4, "business_days", "US-FED",
     utc(2026, 12, 29, 4, 59, 59)),
    # 5. SEC, determined Thu 2 Jul 22:30 EDT (already Fri 3 Jul 02:30 UTC; the local date counts). Fri 3 Jul is
    #    Independence Day observed, weekend skipped, Mon 6 = 1, Tue 7 = 2, Wed 8 = 3, Thu 9 = 4 -> end of Thu
    #    9 Jul EDT (UTC-4) = Fri 10 Jul 03:59:59 UTC.
    (local_to_utc(date(2026, 7, 2), time(22, 30), "America/New_York"), 4, "business_days", "US-FED",
     utc(2026, 7, 10, 3, 59, 59)),
    # 6. HIPAA 60 days from discovery Tue 10 Mar 14:00 UTC: 21 days to 31 Mar, 30 more to 30 Apr, 9 more ->
    #    Sat 9 May 14:00 UTC.
    (utc(2026, 3, 10, 14), 60, "calendar_days", "", utc(2026, 5, 9, 14)),
    # 7. HIPAA fewer than 500: 60 days after the end of the year of discovery. 31 Dec 2026 23:59:59 + 60 days:
    #    +31 -> 31 Jan, +28 -> 28 Feb (2027 is not a leap year), +1 -> 1 Mar 2027 23:59:59 UTC.
    (utc(2026, 12, 31, 23, 59, 59), 60, "calendar_days", "", utc(2027, 3, 1, 23, 59, 59)),
    # 8. Brazil LGPD, 3 business days: aware Thu 19 Nov 10:00 BRT (UTC-3). Fri 20 Nov is Black Awareness Day
    #    (national holiday), weekend skipped, Mon 23 = 1, Tue 24 = 2, Wed 25 = 3 -> end of Wed 25 Nov BRT =
    #    Thu 26 Nov 02:59:59 UTC.
    (local_to_utc(date(2026, 11, 19), time(10, 0), "America/Sao_Paulo"), 3, "business_days", "BR",
     utc(2026, 11, 26, 2, 59, 59)),
    # 9. Brazil over Easter: aware Wed 1 Apr. Thu 2 = 1, Fri 3 Apr Good Friday skipped, weekend skipped,
    #    Mon 6 = 2, Tue 7 = 3 -> Wed 8 Apr 02:59:59 UTC.
    (local_to_utc(date(2026, 4, 1), time(9, 0), "America/Sao_Paulo"), 3, "business_days", "BR",
     utc(2026, 4, 8, 2, 59, 59)),
    # 10. Vermont AG, 14 business days on Vermont's calendar from Mon 23 Feb: 24,25,26,27 Feb = 1-4, Mon 2 Mar
    #     = 5, Tue 3 Mar Town Meeting Day skipped, 4,5,6 Mar = 6-8, 9-13 Mar = 9-13, Mon 16 Mar = 14 -> end of
    #     16 Mar EDT (DST began 8 Mar; UTC-4) = Tue 17 Mar 03:59:59 UTC.
    (local_to_utc(date(2026, 2, 23), time(11, 0), "America/New_York"), 14, "business_days", "US-VT",
     utc(2026, 3, 17, 3, 59, 59)),
    # 11. NIS2 final report, one month after a submission on 31 Jan 10:00: February has no 31st, so the last day
    #     of February -> 28 Feb 10:00 UTC.
    (utc(2026, 1, 31, 10), 1, "months", "", utc(2026, 2, 28, 10)),
    # 12. One month from 15 Mar 08:30 -> 15 Apr 08:30 UTC.
    (utc(2026, 3, 15, 8, 30), 1, "months", "", utc(2026, 4, 15, 8, 30)),
    # 13. One month from 31 Dec 2026 -> 31 Jan 2027 (the year rolls over).
    (utc(2026, 12, 31, 12), 1, "months", "", utc(2027, 1, 31, 12)),
    # 14. NIS2 early warning, 24h from 27 Nov 23:30 UTC -> 28 Nov 23:30 UTC.
    (utc(2026, 11, 27, 23, 30), 24, "hours", "", utc(2026, 11, 28, 23, 30)),
    # 15. DORA initial notice, 4h from classification at 1 Jun 08:00 UTC -> 12:00 UTC.
    (utc(2026, 6, 1, 8), 4, "hours", "", utc(2026, 6, 1, 12)),
    # 16. California individuals, 30 days from discovery Tue 20 Oct 10:00 PDT (17:00 UTC) -> 19 Nov 17:00 UTC
    #     (09:00 PST: calendar days keep the UTC clock time across the DST change).
    (local_to_utc(date(2026, 10, 20), time(10, 0), "America/Los_Angeles"), 30, "calendar_days", "",
     utc(2026, 11, 19, 17)),
    # 17. Singapore PDPC, 3 calendar days from an assessment completed Fri 4 Dec 18:00 SGT (10:00 UTC) ->
    #     Mon 7 Dec 10:00 UTC (weekends count).
    (local_to_utc(date(2026, 12, 4), time(18, 0), "Asia/Singapore"), 3, "calendar_days", "", utc(2026, 12, 7, 10)),
    # 18. Korea 72h from awareness 2 Nov 17:00 KST (08:00 UTC) -> 5 Nov 08:00 UTC.
    (local_to_utc(date(2026, 11, 2), time(17, 0), "Asia/Seoul"), 72, "hours", "", utc(2026, 11, 5, 8)),
    # 19. SEC business days starting on a Friday: determined Fri 6 Nov 09:00 ET. Mon 9 = 1, Tue 10 = 2,
    #     Wed 11 Nov Veterans Day skipped, Thu 12 = 3, Fri 13 = 4 -> Sat 14 Nov 04:59:59 UTC.
    (local_to_utc(date(2026, 11, 6), time(9, 0), "America/New_York"), 4, "business_days", "US-FED",
     utc(2026, 11, 14, 4, 59, 59)),
]


@pytest.mark.parametrize("start, value, unit, calendar, expected", DEADLINES)
def test_deadline__worked_by_hand(start, value, unit, calendar, expected):
    assert compute_due(start, value, unit, calendar) == expected


def test_no_fixed_limit__no_deadline_and_elapsed_time_shown():
    # 20. "Without undue delay": no due time; started 1 Nov 00:00, now 3 Nov 06:00 -> 2d 6h elapsed.
    assert compute_due(utc(2026, 11, 1), None, "none") is None
    assert countdown(None, utc(2026, 11, 3, 6), started=utc(2026, 11, 1)) == "2d 6h elapsed (no fixed limit)"


def test_countdown__due_and_overdue():
    # 21. Due 3 Nov 00:00; at 2 Nov 21:30 -> 2h 30m left; at 3 Nov 03:10 -> overdue by 3h 10m.
    assert countdown(utc(2026, 11, 3), utc(2026, 11, 2, 21, 30)) == "due in 2h 30m"
    assert countdown(utc(2026, 11, 3), utc(2026, 11, 3, 3, 10)) == "overdue by 3h 10m"


# ---------------------------------------------------------------- applicability, worked by hand

def test_awareness_entered_in_a_non_utc_zone():
    # 22. Legal became aware 2 Nov 09:00 in Los Angeles (PST, UTC-8) = 17:00 UTC; GDPR 72h -> 5 Nov 17:00 UTC.
    aware = local_to_utc(date(2026, 11, 2), time(9, 0), "America/Los_Angeles")
    decision = decide(rule(region_scope=("EU",)), facts(milestones={"awareness": aware}))
    assert decision.clock_started_at == utc(2026, 11, 2, 17) and decision.due_at == utc(2026, 11, 5, 17)


@pytest.mark.parametrize("residents, operator, threshold, applies", [
    # 23. Washington AG "more than 500": 500 residents do not trigger it, 501 do.
    (500, ">", 500, False), (501, ">", 500, True),
    # 24. Texas AG "at least 250": 249 do not, 250 do.
    (249, ">=", 250, False), (250, ">=", 250, True),
])
def test_state_attorney_general_threshold__just_below_and_just_above(residents, operator, threshold, applies):
    ag = rule(region_scope=("US-WA",), recipient="attorney_general", threshold_operator=operator,
              threshold_count=threshold, threshold_population="region_residents", data_tiers=("financial",))
    decision = decide(ag, facts(regions={"US-WA": residents, "US-CA": 10_000}))
    assert (decision.applicability == "applies") is applies
    assert f"{residents:,} residents of US-WA" in decision.reason


def test_chained_california_ag__starts_when_individual_notice_is_filed():
    # 25. CA AG: 15 days after the notice to California residents. Before it is sent: no clock. Notice filed
    #     10 Nov 16:00 UTC -> AG due 25 Nov 16:00 UTC.
    individuals = rule(id="US-CA-IND", region_scope=("US-CA",), recipient="individuals", deadline_value=30,
                       deadline_unit="calendar_days", trigger="discovery", data_tiers=("financial",))
    ag = rule(id="US-CA-AG", region_scope=("US-CA",), recipient="attorney_general", deadline_value=15,
              deadline_unit="calendar_days", trigger="notice_to_individuals", anchor_rule_id="US-CA-IND",
              threshold_operator=">", threshold_count=500, threshold_population="region_residents",
              data_tiers=("financial",))
    waiting = {d.rule_id: d for d in decide_all(facts(), (ag, individuals))}
    assert waiting["US-CA-AG"].applicability == "applies" and waiting["US-CA-AG"].due_at is None
    assert "starts when US-CA-IND is filed" in waiting["US-CA-AG"].clock_note
    assert waiting["US-CA-IND"].due_at == utc(2026, 12, 2, 9)  # discovery 2 Nov 09:00 + 30 days
    sent = {d.rule_id: d for d in decide_all(facts(filings={"US-CA-IND": utc(2026, 11, 10, 16)}), (individuals, ag))}
    assert sent["US-CA-AG"].due_at == utc(2026, 11, 25, 16)


def test_chained_rule__does_not_apply_when_its_anchor_does_not():
    # 26. The anchor needs more than 5,000 residents; with 1,000 neither applies, and the reason says why.
    anchor = rule(id="A", threshold_operator=">", threshold_count=5000, threshold_population="region_residents",
                  region_scope=("US-CA",))
    chained = rule(id="B", trigger="notice_to_individuals", anchor_rule_id="A", region_scope=("US-CA",))
    decisions = {d.rule_id: d for d in decide_all(facts(), (chained, anchor))}
    assert decisions["A"].applicability == "not applicable"
    assert decisions["B"].applicability == "not applicable" and "Follows A" in decisions["B"].reason


def test_sector_regime__needs_the_company_flag_and_the_decision():
    # 27. SEC 8-K: not a registrant -> does not apply; registrant without a materiality determination -> may
    #     apply with no clock; determined Wed 25 Nov 15:00 ET -> due Thu 3 Dec 04:59:59 UTC (case 3).
    sec = rule(scope_basis="company", region_scope=("US",), data_tiers=("n/a",), sector_condition="sec_registrant",
               trigger="materiality_determination", deadline_value=4, deadline_unit="business_days", calendar="US-FED")
    assert "SEC registrant" in decide(sec, facts()).reason
    pending = decide(sec, facts(sectors=frozenset({"sec_registrant"})))
    assert pending.applicability == "may apply" and pending.due_at is None
    determined = local_to_utc(date(2026, 11, 25), time(15, 0), "America/New_York")
    decided = decide(sec, facts(sectors=frozenset({"sec_registrant"}),
                                milestones={"materiality_determination": determined}))
    assert decided.applicability == "applies" and decided.due_at == utc(2026, 12, 3, 4, 59, 59)


def test_data_tiers__none_exposed_or_only_suspected():
    # 28. A state law on government IDs and financial data: only contact data exposed -> does not apply;
    #     financial suspected -> may apply.
    state = rule(region_scope=("US-CA",), data_tiers=("government_id", "financial"))
    assert decide(state, facts(tiers={"contact": "confirmed"})).applicability == "not applicable"
    suspected = decide(state, facts(tiers={"financial": "suspected"}))
    assert suspected.applicability == "may apply" and "suspected" in suspected.reason


def test_eu_scope__member_states_and_their_subdivisions_count_the_uk_does_not():
    # 29. DE 40 + FR-75 10 = 50 EU residents; GB's 5 are not in the EU.
    decision = decide(rule(region_scope=("EU",)), facts())
    assert "50 affected residents of the EU/EEA" in decision.reason
    assert decide(rule(region_scope=("EU",)), facts(regions={"GB": 5})).applicability == "not applicable"


def test_not_in_force__never_applies_and_says_so():
    # 30. A proposed rule (CIRCIA) is listed as not applicable with the reason.
    decision = decide(rule(status="not_in_force"), facts())
    assert decision.applicability == "not applicable" and decision.reason.startswith("Not in force")
    assert "not in force" in rule(status="not_in_force").flags


def test_low_confidence_rule__is_flagged():
    # 31. Below "several secondary sources agree" -> flagged wherever it appears.
    assert rule(confidence="secondary_single").flags == ("low confidence (secondary single)",)
    assert rule(confidence="secondary_multiple").flags == ()


def test_total_individuals_threshold():
    # 32. Credit bureaus "more than 1,000 persons": 1,355 affected in total -> applies.
    decision = decide(rule(threshold_operator=">", threshold_count=1000, threshold_population="total_individuals"),
                      facts())
    assert decision.applicability == "applies" and "1,355 individuals" in decision.reason


def test_end_of_year_clock__needs_discovery():
    # 33. HIPAA < 500: discovery 2 Nov 2026 -> clock from 31 Dec 2026 23:59:59, due 1 Mar 2027 23:59:59 UTC.
    hhs = rule(trigger="end_of_year_of_discovery", deadline_value=60, deadline_unit="calendar_days")
    assert decide(hhs, facts()).due_at == utc(2027, 3, 1, 23, 59, 59)
    assert decide(hhs, facts(milestones={})).due_at is None


def test_no_residents__not_applicable_naming_the_revision():
    # 34. A Japan rule with no Japanese residents in revision 3.
    decision = decide(rule(region_scope=("JP",)), facts())
    assert decision.reason == "No affected residents of JP in revision 3."


def test_short_recipient__drops_the_trailing_note_and_second_clause():
    from breachdash.obligations.rules import short_recipient

    assert short_recipient("California Attorney General (electronic sample copy of notice)") == \
        "California Attorney General"
    assert short_recipient("Affected data subjects (individualized: letter, email; else public notice)") == \
        "Affected data subjects"
    assert short_recipient("Competent (lead) supervisory authority per Art. 55/56; non-EU controller: every SA") == \
        "Competent (lead) supervisory authority per Art. 55/56"
    assert short_recipient("Federal Trade Commission") == "Federal Trade Commission"
