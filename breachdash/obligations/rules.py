"""Which notification rules apply to an incident, and by when. Pure: facts in, decisions out.

Rules are data (data/notification_rules.csv, documented in docs/notification-rules.md). Each
decision carries its reason in words Legal can check. Deadlines are exact:
- hours: clock hours in UTC (a DST change moves the local wall time, never the deadline);
- calendar days: the same clock time N x 24 hours later;
- months: the same day and time N months later (the month's last day if it is shorter);
- business days: the end (23:59:59 local) of the Nth business day after the trigger's local
  date on the named calendar, skipping weekends and that calendar's holidays (`holidays` package);
- none ("without undue delay"): no due time; the page shows the time elapsed since the trigger.
"""
from __future__ import annotations

import calendar as month_calendar
import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from breachdash.incidents.models import SECTOR_NAMES
from breachdash.obligations.models import Applicability

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
RULES_FILE = DATA_DIR / "notification_rules.csv"

EU_EEA = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
          "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO")


class Recipient(StrEnum):
    regulator = "regulator"
    individuals = "individuals"
    attorney_general = "attorney_general"
    media = "media"
    credit_bureaus = "credit_bureaus"
    other_authority = "other_authority"
    internal = "internal"
    business_partner = "business_partner"


RECIPIENT_NAMES = {
    "regulator": "Regulator", "individuals": "Individuals", "attorney_general": "Attorney general",
    "media": "Media", "credit_bureaus": "Credit bureaus", "other_authority": "Other authority",
    "internal": "Internal", "business_partner": "Business partner",
}


class Trigger(StrEnum):
    awareness = "awareness"
    discovery = "discovery"
    breach_determination = "breach_determination"
    materiality_determination = "materiality_determination"
    assessment_completed = "assessment_completed"
    classification_as_major = "classification_as_major"
    notice_to_individuals = "notice_to_individuals"
    prior_submission = "prior_submission"
    end_of_year_of_discovery = "end_of_year_of_discovery"
    ransom_payment = "ransom_payment"


CHAINED = (Trigger.notice_to_individuals, Trigger.prior_submission)
# Triggers that are decisions still to be taken: until recorded, the rule only may apply.
DECISION_TRIGGERS = (Trigger.materiality_determination, Trigger.classification_as_major, Trigger.ransom_payment)
TRIGGER_NAMES = {
    "awareness": "awareness", "discovery": "discovery", "breach_determination": "the determination that a breach "
    "occurred", "materiality_determination": "the materiality determination", "assessment_completed": "the "
    "completed assessment", "classification_as_major": "classification as a major incident",
    "ransom_payment": "a ransom payment", "end_of_year_of_discovery": "the end of the calendar year of discovery",
}

# Business-day calendars: the holidays package country/subdivision, and the zone whose dates count.
CALENDARS = {
    "US-FED": ("US", None, "America/New_York"),
    "US-VT": ("US", "VT", "America/New_York"),
    "BR": ("BR", None, "America/Sao_Paulo"),
}
CONFIDENT = ("primary", "secondary_multiple")


@dataclass(frozen=True)
class Rule:
    id: str
    jurisdiction: str
    region_scope: tuple[str, ...]
    scope_basis: str
    regime: str
    citation: str
    recipient: str
    recipient_name: str
    deadline_text: str
    deadline_value: int | None
    deadline_unit: str
    calendar: str
    trigger: str
    anchor_rule_id: str
    threshold_operator: str
    threshold_count: int | None
    threshold_population: str
    data_tiers: tuple[str, ...]
    sector_condition: str
    harm_threshold: str
    asap_overlay: bool
    status: str
    in_force_from: date | None
    confidence: str
    source_urls: tuple[str, ...]
    notes: str

    @property
    def flags(self) -> tuple[str, ...]:
        """Why this rule must not be relied on without a check (shown wherever it appears)."""
        found = []
        if self.confidence not in CONFIDENT:
            found.append(f"low confidence ({self.confidence.replace('_', ' ')})")
        if self.status != "in_force":
            found.append(self.status.replace("_", " "))
        return tuple(found)

    def describe_deadline(self) -> str:
        if self.deadline_unit == "none" or self.deadline_value is None:
            return "without undue delay (no fixed limit)"
        unit = {"hours": "hours", "calendar_days": "days", "business_days": f"business days ({self.calendar})",
                "months": "months"}[self.deadline_unit]
        return f"{self.deadline_value} {unit}"


def _int(value: str) -> int | None:
    return int(value) if value.strip() else None


def parse_rule(row: dict) -> Rule:
    return Rule(
        id=row["id"].strip(), jurisdiction=row["jurisdiction"].strip(),
        region_scope=tuple(p.strip().upper() for p in row["region_scope"].split(";") if p.strip()),
        scope_basis=row["scope_basis"].strip(), regime=row["regime"].strip(), citation=row["citation"].strip(),
        recipient=row["recipient"].strip(), recipient_name=row["recipient_name"].strip(),
        deadline_text=row["deadline_text"].strip(), deadline_value=_int(row["deadline_value"]),
        deadline_unit=row["deadline_unit"].strip(), calendar=row["calendar"].strip(), trigger=row["trigger"].strip(),
        anchor_rule_id=row["anchor_rule_id"].strip(), threshold_operator=row["threshold_operator"].strip(),
        threshold_count=_int(row["threshold_count"]), threshold_population=row["threshold_population"].strip(),
        data_tiers=tuple(p.strip() for p in row["data_tiers"].split(";") if p.strip()),
        sector_condition=row["sector_condition"].strip(), harm_threshold=row["harm_threshold"].strip(),
        asap_overlay=row["asap_overlay"].strip().upper() == "Y", status=row["status"].strip(),
        in_force_from=date.fromisoformat(row["in_force_from"].strip()) if row["in_force_from"].strip() else None,
        confidence=row["confidence"].strip(),
        source_urls=tuple(u.strip() for u in row["source_urls"].split("|") if u.strip()), notes=row["notes"].strip())


@lru_cache(maxsize=1)
def load_rules() -> tuple[Rule, ...]:
    with RULES_FILE.open(newline="", encoding="utf-8") as handle:
        return tuple(parse_rule(row) for row in csv.DictReader(handle))


def rules_by_id() -> dict[str, Rule]:
    return {rule.id: rule for rule in load_rules()}


# ---------------------------------------------------------------- deadlines

def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, month_calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@lru_cache(maxsize=16)
def _holiday_calendar(name: str, years: tuple[int, ...]):
    country, subdivision, _zone = CALENDARS[name]
    return holidays.country_holidays(country, subdiv=subdivision, years=list(years))


def is_business_day(day: date, calendar_name: str) -> bool:
    return day.weekday() < 5 and day not in _holiday_calendar(calendar_name, (day.year - 1, day.year, day.year + 1))


def add_business_days(start: datetime, days: int, calendar_name: str) -> datetime:
    """The end of the `days`th business day after start's local date on the named calendar."""
    zone = ZoneInfo(CALENDARS[calendar_name][2])
    day = start.astimezone(zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, calendar_name):
            counted += 1
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(timezone.utc)


def compute_due(start: datetime, value: int | None, unit: str, calendar_name: str = "") -> datetime | None:
    start = start.astimezone(timezone.utc)
    if unit == "none" or value is None:
        return None
    if unit == "hours":
        return start + timedelta(hours=value)
    if unit == "calendar_days":
        return start + timedelta(days=value)
    if unit == "months":
        return _add_months(start, value)
    if unit == "business_days":
        return add_business_days(start, value, calendar_name)
    raise ValueError(f"unknown deadline unit {unit!r}")


# ---------------------------------------------------------------- applicability

@dataclass
class Facts:
    """What the engine decides from: the latest scope revision, the company, the milestones."""

    revision_seq: int | None
    regions: dict[str, int]                   # ISO region code -> affected individuals
    total_individuals: int
    tiers: dict[str, str]                     # tier -> "confirmed" | "suspected"
    sectors: frozenset[str]
    milestones: dict[str, datetime | None]    # Trigger value -> when (UTC)
    filings: dict[str, datetime] = field(default_factory=dict)  # rule id -> first filing time
    today: date | None = None


@dataclass
class Decision:
    rule_id: str
    applicability: str
    reason: str
    clock_started_at: datetime | None = None
    due_at: datetime | None = None
    clock_note: str = ""


def _in_scope(region: str, scope: str) -> bool:
    if scope == "EU":
        return region.split("-")[0] in EU_EEA
    return region == scope or region.startswith(scope + "-")


def residents(facts: Facts, scope: tuple[str, ...]) -> int:
    return sum(n for region, n in facts.regions.items() if any(_in_scope(region, s) for s in scope))


def _compare(value: int, operator: str, threshold: int) -> bool:
    return {">": value > threshold, ">=": value >= threshold, "<": value < threshold}[operator]


_OPERATOR_WORDS = {">": "more than", ">=": "at least", "<": "fewer than"}


def _scope_words(rule: Rule) -> str:
    return ", ".join("the EU/EEA" if s == "EU" else s for s in rule.region_scope)


def _clock(rule: Rule, facts: Facts) -> tuple[datetime | None, str]:
    trigger = Trigger(rule.trigger)
    if trigger in CHAINED:
        filed = facts.filings.get(rule.anchor_rule_id)
        if filed is None:
            return None, f"the clock starts when {rule.anchor_rule_id} is filed or sent"
        return filed, f"from the {rule.anchor_rule_id} filing"
    if trigger == Trigger.end_of_year_of_discovery:
        discovered = facts.milestones.get(Trigger.discovery.value)
        if discovered is None:
            return None, "the clock starts at the end of the year of discovery; discovery is not recorded"
        end = datetime(discovered.year, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
        return end, "from the end of the calendar year of discovery"
    moment = facts.milestones.get(trigger.value)
    if moment is None:
        return None, f"the clock starts at {TRIGGER_NAMES[trigger.value]}, which is not recorded yet"
    return moment, f"from {TRIGGER_NAMES[trigger.value]}"


def decide(rule: Rule, facts: Facts, decided: dict[str, Decision] | None = None) -> Decision:
    """One rule against the facts. `decided` holds earlier decisions (for chained rules)."""
    today = facts.today or date.today()
    no = lambda reason: Decision(rule.id, Applicability.not_applicable, reason)  # noqa: E731
    if rule.status == "not_in_force" or (rule.status == "not_yet_in_force"
                                         and (rule.in_force_from is None or rule.in_force_from > today)):
        when = f" (expected {rule.in_force_from})" if rule.in_force_from else ""
        return no(f"Not in force{when}; shown for planning only.")
    if rule.in_force_from and rule.in_force_from > today:
        return no(f"Not in force until {rule.in_force_from}.")
    if rule.sector_condition and rule.sector_condition not in facts.sectors:
        return no(f"Applies only if the company is {SECTOR_NAMES.get(rule.sector_condition, rule.sector_condition)}; "
                  "the incident record does not say it is.")
    reasons, tentative = [], []
    if rule.sector_condition:
        reasons.append(f"the company is {SECTOR_NAMES.get(rule.sector_condition, rule.sector_condition)}")
    # A company-basis rule with no sector condition binds companies operating in its region; affected
    # residents there are the record's evidence of that, so it is decided like a residents rule.
    if rule.scope_basis == "residents" or not rule.sector_condition:
        count = residents(facts, rule.region_scope)
        if count == 0:
            where = f"revision {facts.revision_seq}" if facts.revision_seq else "the scope (no revision yet)"
            return no(f"No affected residents of {_scope_words(rule)} in {where}.")
        reasons.append(f"{count:,} affected residents of {_scope_words(rule)} (revision {facts.revision_seq})")
    if rule.data_tiers and rule.data_tiers != ("n/a",):
        if rule.data_tiers == ("any",):
            if not facts.tiers:
                return no("No personal data recorded as exposed.")
            confirmed = [t for t, s in facts.tiers.items() if s == "confirmed"]
            if not confirmed:
                tentative.append("personal data is only suspected exposed")
            else:
                reasons.append("personal data exposed")
        else:
            hit = {t: facts.tiers[t] for t in rule.data_tiers if t in facts.tiers}
            if not hit:
                return no(f"None of the triggering data ({', '.join(rule.data_tiers)}) is exposed.")
            confirmed = sorted(t for t, s in hit.items() if s == "confirmed")
            if confirmed:
                reasons.append(f"{', '.join(confirmed)} data exposed")
            else:
                tentative.append(f"{', '.join(sorted(hit))} data only suspected exposed")
    if rule.threshold_operator and rule.threshold_count is not None:
        population = (residents(facts, rule.region_scope) if rule.threshold_population == "region_residents"
                      else facts.total_individuals)
        who = f"residents of {_scope_words(rule)}" if rule.threshold_population == "region_residents" else "individuals"
        words = f"{_OPERATOR_WORDS[rule.threshold_operator]} {rule.threshold_count:,} {who}"
        if not _compare(population, rule.threshold_operator, rule.threshold_count):
            return no(f"{population:,} {who}: below the threshold of {words}.")
        reasons.append(f"{population:,} {who} meets the threshold of {words}")
    if Trigger(rule.trigger) in CHAINED and decided is not None:
        anchor = decided.get(rule.anchor_rule_id)
        if anchor is not None and anchor.applicability == Applicability.not_applicable:
            return no(f"Follows {rule.anchor_rule_id}, which does not apply.")
        if anchor is not None and anchor.applicability == Applicability.may_apply:
            tentative.append(f"follows {rule.anchor_rule_id}, which may apply")
    if Trigger(rule.trigger) in DECISION_TRIGGERS and facts.milestones.get(rule.trigger) is None:
        tentative.append(f"only if {TRIGGER_NAMES[rule.trigger]} is made")
    start, clock_note = _clock(rule, facts)
    due = compute_due(start, rule.deadline_value, rule.deadline_unit, rule.calendar) if start else None
    text = "; ".join(reasons) if reasons else "applies to every incident in scope"
    if rule.harm_threshold:
        text += f". Unless Legal documents otherwise: {rule.harm_threshold}"
    if tentative:
        return Decision(rule.id, Applicability.may_apply, f"May apply: {'; '.join(tentative)}. {text[0].upper()}"
                        f"{text[1:]}.", start, due, clock_note)
    return Decision(rule.id, Applicability.applies, f"{text[0].upper()}{text[1:]}.", start, due, clock_note)


def decide_all(facts: Facts, rules: tuple[Rule, ...] | None = None) -> list[Decision]:
    """Every rule, anchors before the rules chained to them."""
    rules = rules if rules is not None else load_rules()
    by_id = {r.id: r for r in rules}
    decided: dict[str, Decision] = {}

    def visit(rule: Rule, depth: int = 0) -> Decision:
        if rule.id in decided:
            return decided[rule.id]
        if depth > len(rules):
            raise ValueError(f"rule {rule.id} is chained in a cycle")
        if rule.anchor_rule_id and rule.anchor_rule_id in by_id:
            visit(by_id[rule.anchor_rule_id], depth + 1)
        decided[rule.id] = decide(rule, facts, decided)
        return decided[rule.id]

    return [visit(rule) for rule in rules]
