"""Obligations for real breaches, worked by hand: the law in force at the time, unknown counts and
bounds, records that are not people, encryption safe harbours, filings late by a minute, chained
clocks. Each case quotes the statute or guidance it rests on (sources in data/notification_rules.csv)."""
from datetime import date, datetime, timedelta, timezone

import pytest

from breachdash.obligations.rules import (
    ExposedData,
    Facts,
    PopulationFact,
    RegionFact,
    count_affected,
    decide_all,
    filing_timeliness,
    load_rules,
    rules_by_id,
    span_words,
)
from breachdash.scope.rules import Figure

UTC = timezone.utc
RULES = rules_by_id()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def population(key="us", *, unit="individuals", figure=None, regions=(), jurisdictions=(), seq=1, disjoint=False):
    return PopulationFact(key=key, label=key.upper(), unit=unit, revision_seq=seq,
                          figure=figure or Figure.exact(1_000_000), jurisdictions=tuple(jurisdictions),
                          regions=tuple(RegionFact(code, fig) for code, fig in regions), disjoint=disjoint)


def exposed(data_type="ssn", tier="government_id", protection="plain", status="confirmed"):
    return ExposedData(data_type, tier, status, protection, Figure.exact(1000))


def facts(*populations, exposure=(exposed(),), when=utc(2024, 7, 29, 12), sectors=(), filings=None, **extra):
    milestones = {"awareness": when, "discovery": when, "breach_determination": when}
    milestones.update(extra.pop("milestones", {}))
    return Facts(populations=populations or (population(regions=[("US-CA", Figure.exact(600_000))],
                                                        figure=Figure.exact(600_000)),),
                 exposed=tuple(exposure), sectors=frozenset(sectors), milestones=milestones,
                 filings=filings or {}, today=date(2026, 11, 27), **extra)


def decisions(f: Facts) -> dict:
    return {d.rule_id: d for d in decide_all(f)}


# A mixed breach: US consumers (California and Texas counted), UK customers, Canadians; an SEC
# registrant and an FTC-regulated financial institution; SSNs in plain text.
def same_breach(year: int) -> Facts:
    return facts(
        population("us", regions=[("US-CA", Figure.exact(600_000)), ("US-TX", Figure.exact(300_000))],
                   figure=Figure.exact(900_000), jurisdictions=["US"]),
        population("uk", figure=Figure.exact(20_000), jurisdictions=["GB"], seq=2, disjoint=True),
        population("ca", figure=Figure.exact(10_000), jurisdictions=["CA"], seq=3, disjoint=True),
        when=utc(year, 7, 29, 12), sectors=("sec_registrant", "financial_institution_glba"))


# ---------------------------------------------------------------- 1. the law in force at the time

def test_same_facts_2016__only_the_laws_of_2016():
    # 1. GDPR Art. 99(2): "It shall apply from 25 May 2018." The UK GDPR applies from 2021-01-01 (end of the
    #    transition). PIPEDA Division 1.1: "will come into force on November 1, 2018" (Breach of Security
    #    Safeguards Regulations). SEC Item 1.05: "went into effect for most companies on December 18, 2023".
    #    FTC Safeguards notice: "The amendments are effective May 13, 2024." (88 FR 77499). Texas: before
    #    HB 4390 notice was due "as quickly as possible" and there was no AG notice.
    d = decisions(same_breach(2016))
    for rule_id, since in (("UK-GDPR-33-ICO", "2021-01-01"), ("UK-EUGDPR-33-ICO", "2018-05-25"),
                           ("CA-PIPEDA-OPC", "2018-11-01"), ("US-SEC-8K-105", "2023-12-18"),
                           ("US-FTC-GLBA-314", "2024-05-13"), ("US-TX-IND", "2020-01-01")):
        assert d[rule_id].applicability == "not applicable", rule_id
        assert d[rule_id].reason.startswith(f"Not in force until {since} ("), d[rule_id].reason
    assert "the incident was discovered on 2016-07-29" in d["US-FTC-GLBA-314"].reason
    assert d["US-TX-IND-2009"].applicability == "applies" and d["US-TX-IND-2009"].due_at is None
    assert d["US-TX-AG-2020"].applicability == "not applicable" and d["US-TX-AG"].applicability == "not applicable"
    # The OPC's voluntary reporting is shown as may apply, never as a duty.
    assert d["CA-PIPEDA-OPC-VOLUNTARY"].applicability == "may apply"
    assert "voluntary notice, not a legal duty" in d["CA-PIPEDA-OPC-VOLUNTARY"].reason
    # California: "in the most expedient time possible and without unreasonable delay" (1798.82(a), before SB 446).
    assert d["US-CA-IND-2003"].applicability == "applies" and d["US-CA-IND"].applicability == "not applicable"


def test_same_facts_2019__gdpr_in_the_uk_pipeda_mandatory_texas_still_old():
    # 2. 2019: "As an EU Regulation, it had direct effect in the UK from the day it came into force (25 May 2018)";
    #    PIPEDA s. 10.1(1): report "as soon as feasible after the organization determines that the breach has
    #    occurred" (in force 2018-11-01); Texas HB 4390 only from 2020-01-01.
    d = decisions(same_breach(2019))
    assert d["UK-EUGDPR-33-ICO"].applicability == "applies"
    assert d["UK-EUGDPR-33-ICO"].due_at == utc(2019, 8, 1, 12)  # aware 29 Jul 12:00 + 72 h
    assert d["UK-GDPR-33-ICO"].applicability == "not applicable"
    assert d["CA-PIPEDA-OPC"].applicability == "applies" and d["CA-PIPEDA-OPC-VOLUNTARY"].applicability == \
        "not applicable"
    assert "No longer in force after 2018-10-31" in d["CA-PIPEDA-OPC-VOLUNTARY"].reason
    assert d["US-TX-IND-2009"].applicability == "applies" and d["US-TX-AG-2020"].applicability == "not applicable"
    assert d["US-SEC-8K-105"].applicability == "not applicable"


def test_same_facts_2024__todays_duties():
    # 3. 2024: UK GDPR Art. 33 ("not later than 72 hours after having become aware of it"); Texas SB 768: AG
    #    notice "not later than the 30th day after the date on which the person determines that the breach
    #    occurred" for 250 or more Texans; FTC 16 CFR 314.4(j): "no later than 30 days after discovery" for
    #    500 or more consumers; SEC Item 1.05 may apply until materiality is determined.
    d = decisions(same_breach(2024))
    assert d["UK-GDPR-33-ICO"].applicability == "applies" and d["UK-EUGDPR-33-ICO"].applicability == \
        "not applicable"
    assert "replaced by UK-GDPR-33-ICO" in d["UK-EUGDPR-33-ICO"].reason
    assert d["US-TX-AG"].applicability == "applies" and d["US-TX-AG"].due_at == utc(2024, 8, 28, 12)
    assert d["US-TX-IND"].due_at == utc(2024, 9, 27, 12)  # 29 Jul + 60 days
    assert d["US-FTC-GLBA-314"].applicability == "applies" and d["US-FTC-GLBA-314"].due_at == utc(2024, 8, 28, 12)
    assert d["US-SEC-8K-105"].applicability == "may apply"


def test_texas_ag_2020_regime__60_days_for_a_2021_incident():
    # 4. HB 4390 (2020-01-01 to 2023-08-31): AG notice for "at least 250 Texas residents" "within the same
    #    time frame" as individuals, "not later than the 60th day after the date on which the person determines
    #    that the breach occurred". Determined 1 Mar 2021 10:00 UTC -> 30 Apr 2021 10:00 UTC.
    d = decisions(facts(population(regions=[("US-TX", Figure.exact(300))]), when=utc(2021, 3, 1, 10)))
    assert d["US-TX-AG-2020"].applicability == "applies" and d["US-TX-AG-2020"].due_at == utc(2021, 4, 30, 10)
    assert d["US-TX-AG"].applicability == "not applicable"


def test_chained_rule_follows_the_anchor_in_force_at_the_time():
    # 5. N.Y. GBL 899-aa(8)(a): "In the event that any New York residents are to be notified, the person or
    #    business shall also notify the state attorney general …". For a 2016 breach the individual notice was
    #    due under the 2005 text ("most expedient time possible"), so the AG notice follows US-NY-IND-2005.
    d = decisions(facts(population(regions=[("US-NY", Figure.exact(900))]), when=utc(2016, 5, 2, 9),
                        filings={"US-NY-IND-2005": utc(2016, 5, 20, 9)}))
    assert d["US-NY-IND-2005"].applicability == "applies" and d["US-NY-IND"].applicability == "not applicable"
    assert d["US-NY-AG"].applicability == "applies" and d["US-NY-AG"].anchor_rule_id == "US-NY-IND-2005"
    assert d["US-NY-AG"].clock_started_at == utc(2016, 5, 20, 9)


def test_month_precision_straddling_the_start__may_apply():
    # 6. PIPEDA mandatory from 1 November 2018; discovery known only as "November 2018" (stored as its
    #    earliest moment, 1 Nov 00:00) is inside; "October 2018" is not; a month that contains the start
    #    date cannot be decided: a discovery "in May 2018" vs GDPR's 25 May 2018 -> may apply.
    may = facts(population(jurisdictions=["DE"]), when=utc(2018, 5, 1), milestone_precisions={
        "awareness": "month", "discovery": "month"})
    decision = decisions(may)["EU-GDPR-33-SA"]
    assert decision.applicability == "may apply"
    assert "in force from 2018-05-25, and the company became aware of the incident in May 2018 (the day is not " \
           "known)" in decision.reason


# ---------------------------------------------------------------- 2. unknowns and bounds

@pytest.mark.parametrize("figure, expected", [
    # 7-10. Washington RCW 19.255.010(7): AG notice if "more than five hundred Washington residents were notified".
    (Figure("range", 400, 450, 700), "may apply"),      # only the upper bound is above 500
    (Figure("range", 501, 600, 700), "applies"),        # the lower bound is above 500
    (Figure("up to", None, None, 500), "not applicable"),  # upper bound at 500: "more than 500" cannot hold
    (Figure("unknown"), "may apply"),                   # count not known
])
def test_more_than_500__decided_on_bounds(figure, expected):
    d = decisions(facts(population(regions=[("US-WA", figure)], figure=Figure("unknown"))))
    assert d["US-WA-AG"].applicability == expected, d["US-WA-AG"].reason


def test_us_with_states_unknown__may_apply_never_no_residents():
    # 11. Cal. Civ. Code 1798.82(a): notice "to a resident of California". "The United States (states
    #     unknown)" may include Californians: may apply, with the reason, never "No affected residents of US-CA".
    d = decisions(facts(population(jurisdictions=["US"], figure=Figure("up to", None, None, 192_700_000))))
    decision = d["US-CA-IND-2003"]
    assert decision.applicability == "may apply"
    assert "affected residents of US-CA, count or split not known" in decision.reason
    assert "US (states or provinces not known)" in decision.reason
    assert "No affected residents" not in decision.reason


def test_eea_countries_not_split__gdpr_may_apply():
    # 12. GDPR Art. 33(1): "the controller shall without undue delay and, where feasible, not later than 72
    #     hours after having become aware of it, notify the personal data breach to the supervisory authority".
    #     "EEA residents, countries not yet split" -> the EU/EEA rule applies (all of them are inside), while
    #     a rule for one member state only may apply.
    f = facts(population(regions=[("EEA", Figure.exact(30_000))], figure=Figure.exact(30_000)))
    assert decisions(f)["EU-GDPR-33-SA"].applicability == "applies"
    count = count_affected(f, ("DE",))
    assert (count.lower, count.upper, count.seen) == (0, 30_000, True)


def test_region_not_known__may_apply_everywhere():
    # 13. Japan APPI Art. 26(1) + Rules Art. 7(iv): reportable when "more than 1,000" people are affected.
    #     Region ZZ (not known) with 5,000 people: residents of Japan may be among them -> may apply.
    d = decisions(facts(population(regions=[("ZZ", Figure.exact(5_000))], figure=Figure.exact(5_000))))
    assert d["JP-APPI-FINAL"].applicability == "may apply"
    assert "a region not known" in d["JP-APPI-FINAL"].reason


def test_qualitative_count_in_the_first_weeks__hipaa_may_apply_not_no_residents():
    # 14. 45 CFR 164.404(b): notice "without unreasonable delay and in no case later than 60 calendar days after
    #     discovery". "A substantial proportion of people in America", no number: may apply, and the clock runs.
    f = facts(population(jurisdictions=["US"], figure=Figure("unknown", wording="a substantial proportion")),
              exposure=(exposed("diagnosis", "health"),), sectors=("hipaa_covered_entity",),
              when=utc(2024, 2, 21, 12))
    d = decisions(f)
    assert d["US-HIPAA-IND"].applicability == "may apply"
    assert d["US-HIPAA-IND"].due_at == utc(2024, 4, 21, 12)
    assert "count or split not known" in d["US-HIPAA-IND"].reason


def test_placeholder_is_not_an_estimate():
    # 15. A portal's required "500" placeholder says nothing about size: HIPAA 164.408(b) "500 or more" to HHS
    #     contemporaneously; with a placeholder the threshold may or may not be met.
    f = facts(population(jurisdictions=["US"], figure=Figure("placeholder", best=500)),
              exposure=(exposed("diagnosis", "health"),), sectors=("hipaa_covered_entity",))
    d = decisions(f)
    assert d["US-HIPAA-HHS-500"].applicability == "may apply"
    assert "placeholder, not an estimate" in d["US-HIPAA-HHS-500"].reason


def test_records_population__not_residents():
    # 16. UK GDPR Art. 34(1): communicate "to the data subject" when high risk: people, not records.
    #     "7,000,000 records of GB" -> may apply: records, individuals not yet counted.
    f = facts(population("uk", unit="records", figure=Figure.exact(7_000_000), jurisdictions=["GB"]))
    decision = decisions(f)["UK-GDPR-33-ICO"]
    assert decision.applicability == "may apply"
    assert "7,000,000 records (UK); individuals not yet counted" in decision.reason
    assert "7,000,000 affected residents" not in decision.reason


def test_records_bound_people_from_above():
    # 17. Oregon ORS 646A.604(1)(b): AG notice if "more than 250 consumers". 200 records cannot be more than
    #     200 people (each has at least one record) -> not applicable; 800 records -> may apply.
    few = facts(population(unit="records", figure=Figure.exact(200), jurisdictions=["US-OR"]))
    many = facts(population(unit="records", figure=Figure.exact(800), jurisdictions=["US-OR"]))
    assert decisions(few)["US-OR-AG"].applicability == "not applicable"
    assert decisions(many)["US-OR-AG"].applicability == "may apply"


def test_totals_across_populations__overlapping_and_disjoint():
    # 18. Texas 521.053(h): CRA notice if "more than 10,000 persons" are notified at one time. Two overlapping
    #     populations of 6,000 and 7,000 people: at least 7,000 (max of lowers), up to 13,000 (sum of uppers)
    #     -> may apply; marked as counted in no other population they add to 13,000 -> applies.
    a = population("a", regions=[("US-TX", Figure.exact(6_000))], figure=Figure.exact(6_000))
    b = population("b", regions=[("US-TX", Figure.exact(7_000))], figure=Figure.exact(7_000), seq=2)
    overlapping = count_affected(facts(a, b))
    assert (overlapping.lower, overlapping.upper) == (7_000, 13_000)
    assert decisions(facts(a, b))["US-TX-CRA"].applicability == "may apply"
    disjoint = facts(population("a", regions=[("US-TX", Figure.exact(6_000))], figure=Figure.exact(6_000),
                                disjoint=True),
                     population("b", regions=[("US-TX", Figure.exact(7_000))], figure=Figure.exact(7_000), seq=2,
                                disjoint=True))
    assert (count_affected(disjoint).lower, count_affected(disjoint).upper) == (13_000, 13_000)
    assert decisions(disjoint)["US-TX-CRA"].applicability == "applies"


def test_regions_that_cannot_account_for_everyone__rest_may_be_anywhere_in_the_jurisdiction():
    # 19. 1,000,000 US people, only 100,000 placed in California: 900,000 live in states not recorded, so a
    #     Florida duty (501.171: notice to "each individual in this state") may apply.
    f = facts(population(regions=[("US-CA", Figure.exact(100_000))], figure=Figure.exact(1_000_000),
                         jurisdictions=["US"]))
    assert decisions(f)["US-FL-IND"].applicability == "may apply"


def test_no_people_in_scope__not_applicable_naming_the_revision():
    # 20. Korea PIPA Art. 34: only Korean data subjects; an incident with Californians only.
    decision = decisions(facts())["KR-PIPA-IND"]
    assert decision.applicability == "not applicable"
    assert decision.reason == "No affected residents of KR in revision 1."


# ---------------------------------------------------------------- 3. safe harbours by protection state

CARDS_ENCRYPTED = exposed("card_number", "financial", protection="encrypted, key not taken")
CARDS_KEY_AT_RISK = exposed("card_number", "financial", protection="encrypted, key possibly taken")


def test_encrypted_cards_key_not_taken__california_exempt_quoting_the_statute():
    # 21. Cal. Civ. Code 1798.82(a): notice to a resident "(2) whose encrypted personal information was … acquired
    #     … and the encryption key or security credential was, or is reasonably believed to have been, acquired".
    decision = decisions(facts(exposure=(CARDS_ENCRYPTED,)))["US-CA-IND-2003"]
    assert decision.applicability == "not applicable"
    assert decision.reason.startswith("Exempt: every triggering data type")
    assert "the encryption key or security credential was, or is reasonably believed to have been" in decision.reason


def test_encrypted_cards_key_possibly_taken__may_apply_with_the_quote():
    # 22. Same text: when the key may have been taken the exemption may not hold.
    decision = decisions(facts(exposure=(CARDS_KEY_AT_RISK,)))["US-CA-IND-2003"]
    assert decision.applicability == "may apply"
    assert "encrypted, but the key was possibly taken" in decision.reason and "1798.82(a)" in decision.reason


def test_encrypted_cards_but_plain_ssns__applies():
    # 23. The exemption is per data element: plain SSNs still trigger the notice; the reason says which data
    #     was exempt.
    decision = decisions(facts(exposure=(CARDS_ENCRYPTED, exposed())))["US-CA-IND-2003"]
    assert decision.applicability == "applies"
    assert "encrypted with the key not taken: exempt" in decision.reason


def test_gdpr_art_34_3_a__individuals_exempt_but_not_the_authority():
    # 24. GDPR Art. 34(3)(a): no communication to data subjects if measures "render the personal data
    #     unintelligible to any person who is not authorised to access it, such as encryption". Art. 33 has no
    #     such exemption: the supervisory authority is still told (unless unlikely to result in a risk).
    f = facts(population(jurisdictions=["FR"]), exposure=(CARDS_ENCRYPTED,))
    d = decisions(f)
    assert d["EU-GDPR-34-DS"].applicability == "not applicable" and "Art. 34(3)(a)" in d["EU-GDPR-34-DS"].reason
    assert d["EU-GDPR-33-SA"].applicability == "applies"


def test_ftc_safeguards__encrypted_counts_only_if_key_accessed():
    # 25. 16 CFR 314.2: "Customer information is considered unencrypted for this purpose if the encryption key was
    #     accessed by an unauthorized person."
    base = dict(sectors=("financial_institution_glba",), when=utc(2025, 3, 3, 9))
    assert decisions(facts(exposure=(CARDS_ENCRYPTED,), **base))["US-FTC-GLBA-314"].applicability == \
        "not applicable"
    assert decisions(facts(exposure=(CARDS_KEY_AT_RISK,), **base))["US-FTC-GLBA-314"].applicability == "may apply"


# ---------------------------------------------------------------- 4. late and on time

def test_filing_one_minute_late():
    # 26. GDPR Art. 33(1): "not later than 72 hours after having become aware of it"; aware 2 Nov 17:00 UTC ->
    #     due 5 Nov 17:00; filed 17:01 -> late by 1 min ("Where the notification … is not made within 72 hours,
    #     it shall be accompanied by reasons for the delay").
    late, words = filing_timeliness(utc(2026, 11, 5, 17), utc(2026, 11, 5, 17, 1))
    assert late is True and words == "filed late by 1 min"
    on_time, words = filing_timeliness(utc(2026, 11, 5, 17), utc(2026, 11, 5, 17))
    assert on_time is False and words.startswith("filed on time")


def test_filing_days_late_in_words():
    # 27. 2 days 4 hours after the due time reads "filed late by 2 d 4 h".
    assert filing_timeliness(utc(2026, 11, 5, 17), utc(2026, 11, 7, 21, 30))[1] == "filed late by 2 d 4 h"
    assert span_words(timedelta(hours=1)) == "1 h" and span_words(timedelta(seconds=40)) == "40 s"


def test_chained_clock_met_and_missed__maryland_before_the_notice():
    # 28. Md. Com. Law 14-3504(h): "Prior to giving the notification required under subsection (b) … a business
    #     shall provide notice of a breach of the security of a system to the Office of the Attorney General."
    #     The AG's due time is the individual notice's filing; on the same moment or after it is late.
    f = facts(population(regions=[("US-MD", Figure.exact(50))]), filings={"US-MD-IND": utc(2024, 8, 10, 12)})
    ag = decisions(f)["US-MD-AG"]
    assert ag.applicability == "applies" and ag.due_at == utc(2024, 8, 10, 12)
    met = filing_timeliness(ag.due_at, utc(2024, 8, 10, 9), relation="before", anchor_id="US-MD-IND")
    missed = filing_timeliness(ag.due_at, utc(2024, 8, 12, 12), relation="before", anchor_id="US-MD-IND")
    assert met == (False, "filed on time (3 h before the US-MD-IND filing)")
    assert missed == (True, "filed late: 2 d after the US-MD-IND filing it had to precede")


def test_chained_clock_concurrent__hipaa_hhs_with_the_individual_notice():
    # 29. 45 CFR 164.408(b): for 500 or more individuals, notify the Secretary "contemporaneously with the notice
    #     required by § 164.404(a)". Convention: within 24 hours of the individual notice.
    f = facts(population(jurisdictions=["US"], figure=Figure.exact(2_000)),
              exposure=(exposed("diagnosis", "health"),), sectors=("hipaa_covered_entity",),
              filings={"US-HIPAA-IND": utc(2024, 9, 1, 15)})
    hhs = decisions(f)["US-HIPAA-HHS-500"]
    assert hhs.due_at == utc(2024, 9, 2, 15)
    assert filing_timeliness(hhs.due_at, utc(2024, 9, 1, 18), relation="concurrent",
                             anchor_id="US-HIPAA-IND")[0] is False
    late = filing_timeliness(hhs.due_at, utc(2024, 9, 20, 15), relation="concurrent", anchor_id="US-HIPAA-IND")
    assert late[0] is True and late[1].startswith("filed late by 18 d")


# ---------------------------------------------------------------- 6. readable: units

def test_units_are_pluralised():
    # 30. CAC Measures Art. 4: "at the latest within 1 hour" -> "1 hour", never "1 hours"; NIS2 Art. 23(4)(d):
    #     "not later than one month" -> "1 month".
    assert RULES["CN-CAC-CII-1H-REG"].describe_deadline() == "1 hour"
    assert RULES["EU-NIS2-23-FR"].describe_deadline() == "1 month"
    assert RULES["US-SEC-8K-105"].describe_deadline() == "4 business days (US-FED)"
    assert RULES["US-MD-AG"].describe_deadline() == "before the US-MD-IND filing"


def test_rules_data__links_and_dates_are_consistent():
    # 31. Every `replaces` names a rule; a replaced regime ends the day before its successor starts.
    for rule in load_rules():
        if rule.replaces:
            earlier = RULES[rule.replaces]
            assert earlier.in_force_until is not None and rule.in_force_from is not None, rule.id
            assert earlier.in_force_until + timedelta(days=1) == rule.in_force_from, rule.id
        if rule.safe_harbour:
            assert rule.safe_harbour == "encryption" and rule.safe_harbour_text, rule.id
