"""Checks of a customer message, shown live while drafting and recorded with each version.

They warn; Legal decides. Pure functions over text and plain facts.
"""
from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import pyphen

from breachdash.config import DATA_DIR
from breachdash.scope.rules import Figure
from breachdash.reference import data_types

READABLE_GRADE = 8.0  # school grade; plain-language guidance for notices aims at 8 or below

REQUIRED_ELEMENTS = {
    "what happened": r"\b(incident|breach|unauthori[sz]ed|accessed|attack|compromised)\b",
    "when": (r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
             r"today|yesterday|recently|last week|this week|between|since)\b|\b\d{1,4}[/-]\d{1,2}[/-]\d{1,4}\b"),
    "what data": None,  # any data type's phrases
    "what we are doing": r"\b(we have|we are|we stopped|we closed|we reset|we will|working with|we took)\b",
    "what you should do": r"\b(you can|you should|we recommend|please|what you can do|we suggest)\b",
    "how to reach us": r"(\b(call|contact us|visit|write to|email us)\b|https?://|\w+\.\w+/\w+|\+?\d[\d\s()-]{7,}\d|@)",
}


@dataclass(frozen=True)
class Facts:
    """What the message must agree with: the current estimate and exposure, and earlier bests."""

    figures: tuple[Figure, ...] = ()  # each population's current figure, and their total where it means something
    revision_seq: int | None = None
    exposed: frozenset[str] = frozenset()  # data-type codes in the populations' latest revisions
    earlier_points: dict[int, int] = field(default_factory=dict)  # superseded revision seq -> its figure

    @property
    def headline(self) -> str | None:
        """The figure a notice may quote: the single (or total) figure, when it has a number."""
        figure = self.figures[-1] if self.figures else None
        return figure.describe() if figure is not None and figure.is_known else None


@dataclass
class CheckResult:
    jargon: list[dict]
    grade: float | None
    missing_elements: list[str]
    numbers: list[dict]
    types_not_exposed: list[str]
    types_not_mentioned: list[str]
    placeholders: list[str]
    warnings: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def jargon_list() -> list[tuple[str, str]]:
    with (DATA_DIR / "jargon.csv").open(newline="", encoding="utf-8") as handle:
        return [(row["term"].lower(), row["plain_language"]) for row in csv.DictReader(handle)]


def find_jargon(text: str) -> list[dict]:
    lowered = text.lower()
    found = []
    for term, plain in jargon_list():
        if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", lowered):
            found.append({"term": term, "suggestion": plain})
    # A longer term ("ransomware payload") makes its parts ("payload") redundant.
    terms = {item["term"] for item in found}
    return [item for item in found if not any(item["term"] != t and item["term"] in t for t in terms)]


@lru_cache(maxsize=1)
def _hyphenator():
    return pyphen.Pyphen(lang="en_US")


def reading_grade(text: str) -> float | None:
    """Flesch–Kincaid grade level; syllables from pyphen's hyphenation dictionary."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    sentences = max(1, len(re.findall(r"[.!?]+(\s|$)", text)))
    if len(words) < 10:
        return None
    syllables = sum(max(1, len(_hyphenator().positions(word)) + 1) for word in words)
    return round(0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59, 1)


def mentioned_types(text: str) -> set[str]:
    lowered = text.lower()
    found = set()
    for code, data_type in data_types().items():
        if any(re.search(rf"\b{re.escape(phrase)}\b", lowered) for phrase in data_type.phrases):
            found.add(code)
    # "card number" says card, not bank account; a bare "name" inside "username" is not a name.
    if "credentials" in found and "name" in found and not re.search(r"\bnames?\b(?!\s*and\s*password)", lowered):
        found.discard("name")
    return found


_PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d(?!,\d)")
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d{4,}|\d+(?:\.\d+)?\s*(?:million|m\b|thousand|k\b))", re.IGNORECASE)


def _value(token: str) -> int:
    token = token.lower().replace(",", "").strip()
    match = re.match(r"(\d+(?:\.\d+)?)\s*(million|m|thousand|k)?", token)
    number, scale = float(match.group(1)), match.group(2)
    return int(number * {"million": 1e6, "m": 1e6, "thousand": 1e3, "k": 1e3}.get(scale or "", 1))


def _agrees(value: int, figure: Figure) -> bool:
    """Within the figure's bounds, or a rounding (2%) of its number or bound."""
    upper = figure.upper
    if figure.lower <= value and (upper is None or value <= upper) and figure.kind != "up to":
        return True
    if figure.kind == "up to" and value <= (upper or 0) and value >= 0.5 * (upper or 0):
        return True  # "up to 10 million" may be quoted as the bound or a figure near it
    point = figure.point
    return point is not None and abs(value - point) <= 0.02 * point


def check_numbers(text: str, facts: Facts) -> list[dict]:
    """Counts in the text against the estimate: within the current range (a rounded figure within
    2% of best counts too) is fine; an earlier revision's figure is outdated; else it contradicts."""
    known = [f for f in facts.figures if f.is_known]
    if not known:
        return []
    problems = []
    phones = [m.span() for m in _PHONE.finditer(text)]
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        if any(start <= match.start() < end for start, end in phones):
            continue  # part of a phone number, not a count
        value = _value(token)
        if 1900 <= value <= 2100 and "," not in token and not re.search(r"million|thousand|m\b|k\b", token, re.I):
            continue  # a year
        if any(_agrees(value, figure) for figure in known):
            continue
        current = "; ".join(figure.describe() for figure in known)
        earlier = [seq for seq, point in facts.earlier_points.items() if point and abs(value - point) <= 0.02 * point]
        if earlier:
            problems.append({"number": token, "issue": "outdated",
                             "detail": f"{token} matches revision {max(earlier)}'s estimate; the current figures "
                                       f"are {current} (revision {facts.revision_seq})"})
        else:
            problems.append({"number": token, "issue": "contradicts",
                             "detail": f"{token} is outside the current figures ({current})"})
    return problems


def check_message(subject: str, body: str, facts: Facts, *, customer_facing: bool = True) -> CheckResult:
    text = f"{subject}\n{body}"
    jargon = find_jargon(text)
    grade = reading_grade(body)
    lowered = text.lower()
    mentioned = mentioned_types(text)
    missing = []
    for element, pattern in REQUIRED_ELEMENTS.items():
        present = bool(mentioned) if pattern is None else bool(re.search(pattern, lowered))
        if not present:
            missing.append(element)
    numbers = check_numbers(text, facts)
    not_exposed = sorted(mentioned - facts.exposed) if facts.exposed else []
    not_mentioned = sorted(facts.exposed - mentioned) if customer_facing else []
    placeholders = sorted(set(re.findall(r"\{\{\s*([a-z_]+)\s*\}\}", text)))
    names = data_types()
    warnings = [f"Jargon: “{j['term']}” — say “{j['suggestion']}”" for j in jargon]
    if grade is not None and grade > READABLE_GRADE and customer_facing:
        warnings.append(f"Reading grade {grade:.1f}: aim for {READABLE_GRADE:.0f} or below (shorter sentences, "
                        "plainer words)")
    if customer_facing:
        warnings += [f"Missing: {element}" for element in missing]
    warnings += [f"Number {n['detail']}" for n in numbers]
    warnings += [f"Mentions {names[c].display_name.lower()}, which no revision has found exposed" for c in not_exposed]
    warnings += [f"Does not mention {names[c].display_name.lower()}, which the latest revision lists as exposed"
                 for c in not_mentioned]
    warnings += [f"Placeholder {{{{{p}}}}} has no value" for p in placeholders]
    return CheckResult(jargon=jargon, grade=grade, missing_elements=missing if customer_facing else [],
                       numbers=numbers, types_not_exposed=not_exposed, types_not_mentioned=not_mentioned,
                       placeholders=placeholders, warnings=warnings)
