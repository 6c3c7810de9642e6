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
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from breachdash.incidents.models import SECTOR_NAMES
from breachdash.obligations.models import Applicability
from breachdash.scope.rules import Figure
from breachdash.reference import data_types

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

_TRAILING_NOTE = re.compile(r"\s*\([^()]*\)\s*$")


def short_recipient(name: str) -> str:
    """A rule's recipient as a person names it in a heading or a list: the name without its
    trailing note or second clause ("California Attorney General (electronic sample copy of
    notice)" -> "California Attorney General")."""
    text, depth, cut = str(name or ""), 0, None
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == ";" and depth == 0:
            cut = index
            break
    short = text[:cut].strip()
    short = _TRAILING_NOTE.sub("", short).strip() or short
    return short


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
    # The law in force at the time: this version's last day, and the earlier regime it replaced.
    in_force_until: date | None = None
    replaces: str = ""
    # An exemption for protected data ("encryption": encrypted data is out unless the key was also
    # taken), with the text that grants it, quoted in every decision that relies on it.
    safe_harbour: str = ""
    safe_harbour_text: str = ""
    # For chained rules: how the filing must relate to the anchor's ("concurrent", "not_after",
    # "before"); empty: the deadline runs from the anchor's filing.
    chain_relation: str = ""

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
        relation = CHAIN_RELATION_WORDS.get(self.chain_relation)
        if relation and (self.deadline_unit == "none" or self.deadline_value is None):
            return f"{relation} the {self.anchor_rule_id} filing"
        if self.deadline_unit == "none" or self.deadline_value is None:
            return "without undue delay (no fixed limit)"
        one, many = UNIT_WORDS[self.deadline_unit]
        text = f"{self.deadline_value} {one if self.deadline_value == 1 else many}"
        return f"{text} ({self.calendar})" if self.deadline_unit == "business_days" else text


UNIT_WORDS = {"hours": ("hour", "hours"), "calendar_days": ("day", "days"),
              "business_days": ("business day", "business days"), "months": ("month", "months")}
CHAIN_RELATION_WORDS = {"concurrent": "at the same time as", "not_after": "no later than", "before": "before"}
# "At the same time as" needs a tolerance: a filing within this long after the anchor's counts.
CONCURRENT_GRACE = timedelta(hours=24)


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
        source_urls=tuple(u.strip() for u in row["source_urls"].split("|") if u.strip()), notes=row["notes"].strip(),
        in_force_until=_date(row.get("in_force_until", "")), replaces=(row.get("replaces") or "").strip(),
        safe_harbour=(row.get("safe_harbour") or "").strip(),
        safe_harbour_text=(row.get("safe_harbour_text") or "").strip(),
        chain_relation=(row.get("chain_relation") or "").strip())


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value.strip()) if value and value.strip() else None


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

@dataclass(frozen=True)
class RegionFact:
    """Affected people (or records) of one population in one region. `region` is an ISO 3166 code,
    a grouping whose member split is not known (EU, EEA) or ZZ (region not known)."""

    region: str
    figure: Figure


@dataclass(frozen=True)
class PopulationFact:
    """One population's latest revision, as the engine sees it."""

    key: str
    label: str
    unit: str                                 # "individuals" | "records"
    revision_seq: int
    figure: Figure
    jurisdictions: tuple[str, ...] = ()       # where its people live, as recorded on the population
    regions: tuple[RegionFact, ...] = ()      # the revision's region breakdown
    disjoint: bool = False                    # counted in no other population of the same unit


@dataclass(frozen=True)
class ExposedData:
    """One data type exposed in some population's latest revision (strongest status wins)."""

    data_type: str
    tier: str
    status: str                               # "confirmed" | "suspected"
    protection: str                           # a scope.models.Protection value
    figure: Figure


@dataclass
class Facts:
    """What the engine decides from: each population's latest revision, the exposed data with its
    protection, the company's sector facts, the milestones (with their precision) and filings."""

    populations: tuple[PopulationFact, ...] = ()
    exposed: tuple[ExposedData, ...] = ()
    sectors: frozenset[str] = frozenset()
    milestones: dict[str, datetime | None] = field(default_factory=dict)  # Trigger value -> when (UTC)
    milestone_precisions: dict[str, str] = field(default_factory=dict)    # Trigger value -> precision
    filings: dict[str, datetime] = field(default_factory=dict)  # rule id -> first filing time
    today: date | None = None

    @property
    def revision_seq(self) -> int | None:
        return max((p.revision_seq for p in self.populations), default=None)

    @property
    def tiers(self) -> dict[str, str]:
        """tier -> "confirmed" | "suspected" over every exposed data type."""
        found: dict[str, str] = {}
        for item in self.exposed:
            if found.get(item.tier) != "confirmed":
                found[item.tier] = item.status
        return found


# ---------------------------------------------------------------- the law in force at the time

# What each trigger's moment is called in a reason ("the incident was discovered on 2017-07-29").
TRIGGER_EVENTS = {
    "awareness": "the company became aware of the incident", "discovery": "the incident was discovered",
    "breach_determination": "the breach was determined", "materiality_determination": "the incident was "
    "determined material", "assessment_completed": "the assessment was completed",
    "classification_as_major": "the incident was classified as major", "ransom_payment": "the ransom was paid",
}
# A trigger not recorded yet (a decision still to be taken) is placed by when the incident was known.
_FALLBACK_TRIGGERS = ("awareness", "discovery")


@dataclass(frozen=True)
class Moment:
    """When a rule's trigger happened, as far as the record says; `at` None: nothing recorded."""

    at: datetime | None
    trigger: str = ""
    precision: str = "exact"

    def words(self) -> str:
        if self.at is None:
            return "no incident date is recorded; today's law is used"
        day = self.at.date()
        when = {"month": f"in {day:%B %Y}", "approximate": f"about {day.isoformat()}"}.get(
            self.precision, f"on {day.isoformat()}")
        return f"{TRIGGER_EVENTS.get(self.trigger, self.trigger.replace('_', ' '))} {when}"


def trigger_moment(rule: Rule, facts: Facts, by_id: dict[str, Rule] | None = None, _depth: int = 0) -> Moment:
    """The moment whose law governs the rule: its own trigger; for a chained rule, its anchor's;
    a decision not yet taken (materiality, ransom) counts from awareness or discovery."""
    trigger = rule.trigger
    if trigger in CHAINED:
        anchor = (by_id or {}).get(rule.anchor_rule_id)
        if anchor is not None and _depth < 20:
            return trigger_moment(anchor, facts, by_id, _depth + 1)
        trigger = "awareness"
    if trigger == Trigger.end_of_year_of_discovery:
        trigger = "discovery"
    for candidate in (trigger, *_FALLBACK_TRIGGERS):
        moment = facts.milestones.get(candidate)
        if moment is not None:
            return Moment(moment, candidate, facts.milestone_precisions.get(candidate, "exact"))
    return Moment(None)


def in_force(rule: Rule, moment: Moment, today: date, by_id: dict[str, Rule] | None = None) -> tuple[str, str]:
    """(applicability, reason) for the law's own dates: "" when in force at the moment."""
    if rule.status == "not_in_force":
        return Applicability.not_applicable, "Not in force (proposed only); shown for planning only."
    if rule.status == "not_yet_in_force" and rule.in_force_from is None:
        return Applicability.not_applicable, "Not yet in force (start date not confirmed); shown for planning only."
    day = moment.at.date() if moment.at is not None else today
    last_possible = day
    if moment.at is not None and moment.precision == "month":
        last_possible = date(day.year, day.month, month_calendar.monthrange(day.year, day.month)[1])
    if rule.in_force_from and last_possible < rule.in_force_from:
        earlier = f"; the regime before it is {rule.replaces}" if rule.replaces else ""
        return Applicability.not_applicable, (f"Not in force until {rule.in_force_from.isoformat()} "
                                              f"({moment.words()}){earlier}.")
    if rule.in_force_until and day > rule.in_force_until:
        later = [r.id for r in (by_id or rules_by_id()).values() if r.replaces == rule.id]
        after = f"; replaced by {', '.join(later)}" if later else ""
        return Applicability.not_applicable, (f"No longer in force after {rule.in_force_until.isoformat()} "
                                              f"({moment.words()}){after}.")
    if rule.in_force_from and day < rule.in_force_from <= last_possible:
        return Applicability.may_apply, (f"in force from {rule.in_force_from.isoformat()}, and {moment.words()} "
                                         "(the day is not known)")
    return "", ""


# ---------------------------------------------------------------- who is affected, and how many

EU_MEMBERS = tuple(code for code in EU_EEA if code not in ("IS", "LI", "NO"))
_GROUP_MEMBERS = {"EU": EU_MEMBERS, "EEA": EU_EEA}
_REGION_WORDS = {"EU": "the EU (countries not known)", "EEA": "the EU/EEA (countries not known)",
                 "ZZ": "a region not known"}


def _members(code: str) -> tuple[str, ...] | None:
    return _GROUP_MEMBERS.get(code)


def _inside(region: str, scope: str) -> bool:
    """Everyone recorded under `region` lives inside `scope` (scope EU means the EU/EEA states)."""
    if scope == "EU":
        members = _members(region)
        return set(members) <= set(EU_EEA) if members else region.split("-")[0] in EU_EEA
    if _members(region) or region == "ZZ":
        return False
    return region == scope or region.startswith(scope + "-")


def _overlaps(region: str, scope: str) -> bool:
    """`region` is broader than `scope`: some of its people may live there, how many is not known
    (US vs US-CA, EEA vs DE, ZZ vs anything)."""
    if region == "ZZ":
        return True
    members = _members(region)
    if members:
        if scope == "EU":
            return True
        return scope.split("-")[0] in members
    return scope.startswith(region + "-") or (scope == "EU" and region in ("EU", "EEA"))


def _region_words(region: str) -> str:
    if region in _REGION_WORDS:
        return _REGION_WORDS[region]
    return f"{region} (states or provinces not known)" if "-" not in region else region


@dataclass(frozen=True)
class Count:
    """How many affected individuals a rule counts: bounds (upper None: unbounded), whether anyone
    may be there at all, and why the figure is loose."""

    lower: int = 0
    upper: int | None = 0
    seen: bool = False
    unknown: tuple[str, ...] = ()   # count or split not known, in words
    records: tuple[str, ...] = ()   # records-only populations, in words
    sources: tuple[str, ...] = ()   # the populations counted, with their revision

    @property
    def figure(self) -> Figure:
        if self.upper is not None and self.lower == self.upper:
            return Figure.exact(self.lower)
        if self.upper is None:
            return Figure("at least", self.lower) if self.lower else Figure("unknown")
        if self.lower == 0:
            return Figure("up to", None, None, self.upper)
        return Figure("range", self.lower, None, self.upper)

    def describe(self, who: str) -> str:
        if not self.lower and self.upper is None:
            return f"{who}, count not known"
        return f"{self.figure.describe()} {who}"


def _entries(population: PopulationFact) -> list[tuple[str, Figure, bool]]:
    """(region, figure, split known) for each place the population's people are recorded."""
    whole = population.figure
    if population.regions:
        entries = [(r.region.strip().upper(), r.figure, True) for r in population.regions]
        uppers = [f.upper for _, f, _ in entries]
        # Regions that cannot account for everyone leave some people whose residence is not recorded.
        if None not in uppers and sum(uppers) < whole.lower:
            rest_upper = None if whole.upper is None else whole.upper - sum(f.lower for _, f, _ in entries)
            rest = Figure("range", whole.lower - sum(uppers), None, rest_upper) if rest_upper is not None else \
                Figure("at least", whole.lower - sum(uppers))
            places = [j.upper() for j in population.jurisdictions] or ["ZZ"]
            entries += [(place, rest, False) for place in places]
        return entries
    places = [j.strip().upper() for j in population.jurisdictions if j.strip()] or ["ZZ"]
    if len(places) == 1:
        return [(places[0], whole, True)]
    share = Figure("up to", None, None, whole.upper) if whole.upper is not None else Figure("unknown")
    return [(place, share, False) for place in places]


def count_affected(facts: Facts, scope: tuple[str, ...] | None = None) -> Count:
    """Affected individuals inside `scope` (None: everywhere) across populations.

    - An entry inside the scope counts; an entry broader than it (US for US-CA, EEA for DE, ZZ)
      may have people there: lower 0, its upper bound; a population's jurisdictions without a
      breakdown split its figure among them in an unknown way.
    - Placeholders and unknown figures bound nothing above.
    - A records population is not a count of people: each person has at least one record, so it
      bounds individuals above and never below.
    - Populations of individuals that may overlap: lower = the largest lower, upper = the sum of
      uppers; populations marked as counted in no other add up."""
    overlapping_lower, disjoint_lower, upper = 0, 0, 0
    seen, unknown, records, sources = False, [], [], []
    for population in facts.populations:
        p_lower, p_upper, p_seen = 0, 0, False
        for region, figure, split_known in _entries(population):
            inside = scope is None or any(_inside(region, s) for s in scope)
            partly = not inside and any(_overlaps(region, s) for s in scope)
            if not (inside or partly):
                continue
            if figure.upper == 0:
                continue
            p_seen = True
            if inside and split_known:
                p_lower += figure.lower
            if p_upper is not None:
                p_upper = None if figure.upper is None else p_upper + figure.upper
            if figure.kind == "placeholder":
                unknown.append(f"{population.label}: {figure.describe(population.unit)}")
            elif partly or not split_known:
                unknown.append(f"{population.label}: {figure.describe(population.unit)} in {_region_words(region)}")
            elif not figure.is_known or figure.upper is None or figure.lower == 0:
                unknown.append(f"{population.label} in {region}: {figure.describe(population.unit)}")
        if not p_seen:
            continue
        seen = True
        sources.append(f"{population.label}, revision {population.revision_seq}")
        if population.unit == "records":
            records.append(f"{population.figure.describe('records')} ({population.label}); individuals not yet "
                           "counted")
            p_lower = 0
        elif population.disjoint:
            disjoint_lower += p_lower
        else:
            overlapping_lower = max(overlapping_lower, p_lower)
        upper = None if upper is None or p_upper is None else upper + p_upper
    return Count(overlapping_lower + disjoint_lower, upper if seen else 0, seen, tuple(dict.fromkeys(unknown)),
                 tuple(dict.fromkeys(records)), tuple(sources))


def residents(facts: Facts, scope: tuple[str, ...]) -> Count:
    return count_affected(facts, scope)


def _meets(count: Count, operator: str, threshold: int) -> str:
    """applies / may apply / not applicable for "population operator threshold" over bounds."""
    lower, upper = count.lower, count.upper
    if operator == ">":
        yes, no = lower > threshold, upper is not None and upper <= threshold
    elif operator == ">=":
        yes, no = lower >= threshold, upper is not None and upper < threshold
    else:  # "<"
        yes, no = upper is not None and upper < threshold, lower >= threshold
    return Applicability.applies if yes else (Applicability.not_applicable if no else Applicability.may_apply)


_OPERATOR_WORDS = {">": "more than", ">=": "at least", "<": "fewer than"}


def _scope_words(rule: Rule) -> str:
    return ", ".join("the EU/EEA" if s == "EU" else s for s in rule.region_scope)


def _revision_words(facts: Facts) -> str:
    seqs = sorted(p.revision_seq for p in facts.populations)
    if not seqs:
        return "the scope (no revision yet)"
    return f"revision {seqs[0]}" if len(seqs) == 1 else "revisions " + ", ".join(str(s) for s in seqs)


def _loose(count: Count) -> str:
    """Why a count is not firm, in words."""
    parts = list(count.records) + [f"count or split not known ({'; '.join(count.unknown[:4])}"
                                   + (" …" if len(count.unknown) > 4 else "") + ")"] * bool(count.unknown)
    return "; ".join(parts)


# ---------------------------------------------------------------- protected data

ENCRYPTION_EXEMPT = "encrypted, key not taken"
ENCRYPTION_AT_RISK = "encrypted, key possibly taken"
UNCLEAR_PROTECTION = ("hashed", "partial or truncated")


def _data_test(rule: Rule, facts: Facts) -> tuple[str, str]:
    """(applicability, reason) of the data condition, deciding each exposed type by its protection."""
    if not rule.data_tiers or rule.data_tiers == ("n/a",):
        return Applicability.applies, ""
    if rule.data_tiers == ("any",):
        relevant = list(facts.exposed)
        if not relevant:
            return Applicability.not_applicable, "No personal data recorded as exposed."
    else:
        relevant = [item for item in facts.exposed if item.tier in rule.data_tiers]
        if not relevant:
            return Applicability.not_applicable, (f"None of the triggering data ({', '.join(rule.data_tiers)}) "
                                                  "is exposed.")
    counts, exempt, doubtful = [], [], []
    for item in relevant:
        if rule.safe_harbour == "encryption" and item.protection == ENCRYPTION_EXEMPT:
            exempt.append(item)
        elif rule.safe_harbour == "encryption" and (item.protection == ENCRYPTION_AT_RISK
                                                    or item.protection in UNCLEAR_PROTECTION):
            doubtful.append(item)
        else:
            counts.append(item)
    quote = f"“{rule.safe_harbour_text}”" if rule.safe_harbour_text else "the law's encryption exemption"
    names = lambda items: ", ".join(sorted({_type_name(i.data_type) for i in items}))  # noqa: E731
    confirmed = [i for i in counts if i.status == "confirmed"]
    notes = []
    if exempt:
        notes.append(f"{names(exempt)} encrypted with the key not taken: exempt under {quote}")
    if confirmed:
        tiers = sorted({i.tier for i in confirmed})
        words = "personal data exposed" if rule.data_tiers == ("any",) else f"{', '.join(tiers)} data exposed"
        return Applicability.applies, "; ".join([words, *notes])
    if counts:
        tiers = sorted({i.tier for i in counts})
        words = ("personal data is only suspected exposed" if rule.data_tiers == ("any",)
                 else f"{', '.join(tiers)} data only suspected exposed")
        return Applicability.may_apply, "; ".join([words, *notes])
    if doubtful:
        at_risk = [i for i in doubtful if i.protection == ENCRYPTION_AT_RISK]
        unclear = [i for i in doubtful if i.protection != ENCRYPTION_AT_RISK]
        parts = []
        if at_risk:
            parts.append(f"{names(at_risk)} encrypted, but the key was possibly taken: the exemption holds only "
                         f"if it was not — {quote}")
        if unclear:
            parts.append(f"{names(unclear)} {' or '.join(sorted({i.protection for i in unclear}))}: whether that "
                         f"meets {quote} is for Legal")
        return Applicability.may_apply, "; ".join(parts + notes)
    return Applicability.not_applicable, (f"Exempt: every triggering data type ({names(exempt)}) was encrypted and "
                                          f"the key was not taken — {quote}.")


def _type_name(code: str) -> str:
    try:
        known = data_types().get(code)
        return known.display_name if known else code
    except Exception:  # noqa: BLE001 - a name is cosmetic; the code is exact
        return code


# ---------------------------------------------------------------- deciding

@dataclass
class Decision:
    rule_id: str
    applicability: str
    reason: str
    clock_started_at: datetime | None = None
    due_at: datetime | None = None
    clock_note: str = ""
    anchor_rule_id: str = ""       # the anchor actually used (the regime in force at the time)


def _clock(rule: Rule, facts: Facts, anchor_id: str = "") -> tuple[datetime | None, str]:
    trigger = Trigger(rule.trigger)
    if trigger in CHAINED:
        anchor_id = anchor_id or rule.anchor_rule_id
        filed = facts.filings.get(anchor_id)
        relation = CHAIN_RELATION_WORDS.get(rule.chain_relation)
        if filed is None:
            if relation:
                return None, f"to be filed {relation} the {anchor_id} filing, which is not filed yet"
            return None, f"the clock starts when {anchor_id} is filed or sent"
        if relation:
            return filed, f"to be filed {relation} the {anchor_id} filing"
        return filed, f"from the {anchor_id} filing"
    if trigger == Trigger.end_of_year_of_discovery:
        discovered = facts.milestones.get(Trigger.discovery.value)
        if discovered is None:
            return None, "the clock starts at the end of the year of discovery; discovery is not recorded"
        end = datetime(discovered.year, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
        return end, "from the end of the calendar year of discovery"
    moment = facts.milestones.get(trigger.value)
    if moment is None:
        return None, f"the clock starts at {TRIGGER_NAMES[trigger.value]}, which is not recorded yet"
    precision = facts.milestone_precisions.get(trigger.value, "exact")
    note = f"from {TRIGGER_NAMES[trigger.value]}"
    if precision not in ("exact", ""):
        note += f" (known only to the {precision}: counted from its earliest possible moment)" \
            if precision in ("day", "month") else " (approximate: counted from the recorded moment)"
    return moment, note


def _due(rule: Rule, start: datetime | None) -> datetime | None:
    if start is None:
        return None
    if rule.chain_relation in ("not_after", "before") and (rule.deadline_unit == "none" or not rule.deadline_value):
        return start
    if rule.chain_relation == "concurrent" and (rule.deadline_unit == "none" or not rule.deadline_value):
        return start + CONCURRENT_GRACE
    return compute_due(start, rule.deadline_value, rule.deadline_unit, rule.calendar)


def decide(rule: Rule, facts: Facts, decided: dict[str, Decision] | None = None,
           by_id: dict[str, Rule] | None = None) -> Decision:
    """One rule against the facts. `decided` holds earlier decisions (for chained rules); `by_id`
    the rule set (for the anchor's trigger moment and the regime in force at the time)."""
    today = facts.today or date.today()
    by_id = by_id if by_id is not None else {rule.id: rule}
    no = lambda reason: Decision(rule.id, Applicability.not_applicable, reason)  # noqa: E731
    moment = trigger_moment(rule, facts, by_id)
    force, why = in_force(rule, moment, today, by_id)
    if force == Applicability.not_applicable:
        return no(why)
    reasons, tentative = [], []
    if force == Applicability.may_apply:
        tentative.append(why)
    if rule.status == "voluntary":
        tentative.append("a voluntary notice, not a legal duty at the time")
    if rule.sector_condition and rule.sector_condition not in facts.sectors:
        return no(f"Applies only if the company is {SECTOR_NAMES.get(rule.sector_condition, rule.sector_condition)}; "
                  "the incident record does not say it is.")
    if rule.sector_condition:
        reasons.append(f"the company is {SECTOR_NAMES.get(rule.sector_condition, rule.sector_condition)}")
    # A company-basis rule with no sector condition binds companies operating in its region; affected
    # residents there are the record's evidence of that, so it is decided like a residents rule.
    if rule.scope_basis == "residents" or not rule.sector_condition:
        count = residents(facts, rule.region_scope)
        if not count.seen:
            return no(f"No affected residents of {_scope_words(rule)} in {_revision_words(facts)}.")
        if count.lower > 0:
            reasons.append(f"{count.describe('affected residents')} of {_scope_words(rule)} "
                           f"({'; '.join(count.sources)})")
        else:
            tentative.append(f"affected residents of {_scope_words(rule)}, count or split not known — "
                             f"{_loose(count)}")
    data, data_reason = _data_test(rule, facts)
    if data == Applicability.not_applicable:
        return no(data_reason)
    if data_reason:
        (reasons if data == Applicability.applies else tentative).append(data_reason)
    if rule.threshold_operator and rule.threshold_count is not None:
        count = (residents(facts, rule.region_scope) if rule.threshold_population == "region_residents"
                 else count_affected(facts))
        who = f"residents of {_scope_words(rule)}" if rule.threshold_population == "region_residents" else "individuals"
        words = f"{_OPERATOR_WORDS[rule.threshold_operator]} {rule.threshold_count:,} {who}"
        met = _meets(count, rule.threshold_operator, rule.threshold_count)
        if met == Applicability.not_applicable:
            side = "below" if rule.threshold_operator != "<" else "not"
            return no(f"{count.describe(who)}: {side} the threshold of {words}.")
        if met == Applicability.applies:
            reasons.append(f"{count.describe(who)} meets the threshold of {words}")
        else:
            loose = _loose(count)
            tentative.append(f"{count.describe(who)}, which may or may not meet the threshold of {words}"
                             + (f" — {loose}" if loose else ""))
    anchor_id = ""
    if Trigger(rule.trigger) in CHAINED:
        anchor_id = effective_anchor(rule, facts, by_id)
        anchor = (decided or {}).get(anchor_id)
        if anchor is not None and anchor.applicability in (Applicability.not_applicable,
                                                           Applicability.no_longer_applies):
            return no(f"Follows {anchor_id}, which does not apply.")
        if anchor is not None and anchor.applicability == Applicability.may_apply:
            tentative.append(f"follows {anchor_id}, which may apply")
    if Trigger(rule.trigger) in DECISION_TRIGGERS and facts.milestones.get(rule.trigger) is None:
        tentative.append(f"only if {TRIGGER_NAMES[rule.trigger]} is made")
    start, clock_note = _clock(rule, facts, anchor_id)
    due = _due(rule, start)
    text = "; ".join(reasons) if reasons else "applies to every incident in scope"
    if rule.harm_threshold:
        text += f". Unless Legal documents otherwise: {rule.harm_threshold}"
    if tentative:
        return Decision(rule.id, Applicability.may_apply, f"May apply: {'; '.join(tentative)}. {text[0].upper()}"
                        f"{text[1:]}.", start, due, clock_note, anchor_id)
    return Decision(rule.id, Applicability.applies, f"{text[0].upper()}{text[1:]}.", start, due, clock_note,
                    anchor_id)


def regime_family(rule_id: str, by_id: dict[str, Rule]) -> list[Rule]:
    """The rule and every version linked to it by `replaces`, oldest first."""
    later: dict[str, list[str]] = {}
    for rule in by_id.values():
        if rule.replaces:
            later.setdefault(rule.replaces, []).append(rule.id)
    root = rule_id
    seen = {root}
    while root in by_id and by_id[root].replaces in by_id and by_id[root].replaces not in seen:
        root = by_id[root].replaces
        seen.add(root)
    family, queue = [], [root]
    while queue:
        current = queue.pop(0)
        if current in by_id and by_id[current] not in family:
            family.append(by_id[current])
            queue.extend(later.get(current, []))
    return family


def effective_anchor(rule: Rule, facts: Facts, by_id: dict[str, Rule]) -> str:
    """The anchor a chained rule follows: of the anchor's regime family, the version in force at the
    trigger moment (a 2016 notice to New York residents was made under the law of 2016)."""
    anchor = by_id.get(rule.anchor_rule_id)
    if anchor is None:
        return rule.anchor_rule_id
    today = facts.today or date.today()
    for candidate in regime_family(anchor.id, by_id):
        if not in_force(candidate, trigger_moment(candidate, facts, by_id), today, by_id)[0]:
            return candidate.id
    return anchor.id


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
            for anchor in regime_family(rule.anchor_rule_id, by_id):
                visit(anchor, depth + 1)
        decided[rule.id] = decide(rule, facts, decided, by_id)
        return decided[rule.id]

    return [visit(rule) for rule in rules]


# ---------------------------------------------------------------- on time or late

def span_words(delta: timedelta) -> str:
    """'2 d 4 h', '3 h 10 min', '1 min', '40 s': the largest two units."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def filing_timeliness(due_at: datetime | None, first_filed_at: datetime | None, *,
                      relation: str = "", anchor_id: str = "") -> tuple[bool | None, str]:
    """(late?, words) for the first filing against the due time; None when it cannot be judged.
    A chained filing is compared with its anchor's filing ("before" must come strictly earlier)."""
    if first_filed_at is None:
        return None, ""
    if due_at is None:
        return None, "filed (no fixed deadline to compare with)"
    gap = first_filed_at - due_at
    if relation == "before":
        if gap >= timedelta(0):
            return True, f"filed late: {span_words(gap)} after the {anchor_id} filing it had to precede" \
                if gap else f"filed late: at the same moment as the {anchor_id} filing it had to precede"
        return False, f"filed on time ({span_words(gap)} before the {anchor_id} filing)"
    if relation == "concurrent":
        anchor_gap = first_filed_at - (due_at - CONCURRENT_GRACE)
        where = (f"{span_words(anchor_gap)} {'after' if anchor_gap >= timedelta(0) else 'before'} the {anchor_id} "
                 "filing")
        if gap > timedelta(0):
            return True, f"filed late by {span_words(gap)} ({where}; at the same time means within 24 h)"
        return False, f"filed on time ({where})"
    if gap > timedelta(0):
        return True, f"filed late by {span_words(gap)}"
    suffix = f" ({span_words(gap)} before the {anchor_id} filing)" if relation == "not_after" and anchor_id else \
        f" ({span_words(gap)} before the deadline)"
    return False, "filed on time" + suffix
