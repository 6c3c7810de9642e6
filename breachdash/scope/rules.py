"""Rules for scope figures and revisions, as pure functions: every problem names its field.

A published figure is one of six kinds (see `FigureKind`). `Figure` holds one and answers the
two questions the rest of the product asks of it: what can honestly be said ("up to 500M"), and
what it bounds (`lower`, `upper`: `upper is None` means nothing is known above the lower bound).
"""
from __future__ import annotations

from dataclasses import dataclass

from breachdash.reference import data_types, is_valid_region
from breachdash.scope.models import (
    REGION_GROUPINGS,
    UNKNOWN_REGION,
    CountKind,
    FigureKind,
    ScopeRevisionCreate,
)


@dataclass(frozen=True)
class Figure:
    kind: str
    low: int | None = None
    best: int | None = None
    high: int | None = None
    wording: str = ""
    # A sum that adds up figures published with wording ("approximately 100 million"): said as "about".
    approximate: bool = False

    @classmethod
    def exact(cls, value: int) -> "Figure":
        return cls(FigureKind.exact.value, value, value, value)

    @classmethod
    def from_count(cls, count: int | None, count_kind: str = CountKind.exact.value) -> "Figure":
        """A breakdown count (data type or region) as a figure."""
        if count is None or count_kind == CountKind.unknown:
            return cls(FigureKind.unknown.value)
        if count_kind == CountKind.up_to:
            return cls(FigureKind.up_to.value, None, None, count)
        if count_kind == CountKind.at_least:
            return cls(FigureKind.at_least.value, count, None, None)
        return cls.exact(count)

    @property
    def is_known(self) -> bool:
        """Says something about size (a placeholder and an unknown do not)."""
        return self.kind not in (FigureKind.unknown, FigureKind.placeholder)

    @property
    def lower(self) -> int:
        """The least it can be (0 when nothing is known)."""
        if self.kind in (FigureKind.exact, FigureKind.range, FigureKind.at_least):
            return self.low if self.low is not None else (self.best or 0)
        return 0

    @property
    def upper(self) -> int | None:
        """The most it can be; None when no upper bound is known."""
        if self.kind in (FigureKind.exact, FigureKind.range, FigureKind.up_to):
            return self.high if self.high is not None else self.best
        return None

    @property
    def point(self) -> int | None:
        """One number to plot or compare: best, else the only bound published; None if unknown."""
        if self.kind in (FigureKind.unknown, FigureKind.placeholder):
            return None
        if self.best is not None:
            return self.best
        return self.high if self.kind == FigureKind.up_to else self.low

    def describe(self, unit: str = "", *, short: bool = False) -> str:
        """'up to 500,000,000 individuals', 'at least 10,000 records', 'unknown', '2.4M–2.5M'."""
        number = _short_numbers if short else _long_numbers
        suffix = f" {unit}" if unit else ""
        if self.kind == FigureKind.unknown:
            text = "count not known"
        elif self.kind == FigureKind.placeholder:
            text = f"{number(self.best)[0]}{suffix} (placeholder, not an estimate)"
        elif self.kind == FigureKind.up_to:
            text = f"up to {number(self.high)[0]}{suffix}"
        elif self.kind == FigureKind.at_least:
            text = f"at least {number(self.low)[0]}{suffix}"
        elif self.kind == FigureKind.exact or self.low == self.high:
            text = f"{number(self.best if self.best is not None else self.low)[0]}{suffix}"
        else:
            low, high = number(self.low, self.high)
            text = f"{low}–{high}{suffix}"
            if self.best is not None and not short:
                text += f" (best {number(self.best)[0]})"
        if self.wording:
            text = f"{text} — “{self.wording}”" if self.kind != FigureKind.unknown else f"“{self.wording}” (count not known)"
        elif self.approximate and self.kind in (FigureKind.exact, FigureKind.range):
            text = f"about {text}"
        return text

    def headline(self) -> str:
        """The one figure to lead with: the best estimate in full where there is one, else the
        published bound or range, else 'not known'."""
        if self.kind == FigureKind.unknown:
            return "not known"
        if self.kind == FigureKind.placeholder:
            return "not known (a placeholder is recorded)"
        if self.kind in (FigureKind.exact, FigureKind.range) and self.best is not None:
            return f"about {self.best:,}" if self.approximate else f"{self.best:,}"
        # The published wording belongs in the caption: a headline stays short enough to read whole.
        return Figure(self.kind, self.low, self.best, self.high).describe(short=True)

    def range_text(self, *, short: bool = True) -> str:
        """The bounds alone, with enough digits that low ≤ best ≤ high stays visible."""
        if self.kind == FigureKind.range and self.low is not None and self.high is not None:
            values = [self.low, self.best, self.high] if self.best is not None else [self.low, self.high]
            texts = (_short_numbers if short else _long_numbers)(*values)
            return f"{texts[0]} – {texts[-1]}" if self.best is None else f"{texts[0]} – {texts[2]} (best {texts[1]})"
        return self.describe(short=short)


def add_figures(figures: list[Figure]) -> Figure:
    """The sum of figures counted in no other: bounds add; an unknown part leaves no upper bound; a
    part published with wording ("approximately") makes the sum approximate."""
    lower = sum(f.lower for f in figures)
    uppers = [f.upper for f in figures]
    upper = None if any(u is None for u in uppers) else sum(uppers)
    approximate = any(f.wording or f.approximate for f in figures)
    if all(f.kind == FigureKind.exact for f in figures):
        return Figure(FigureKind.exact.value, lower, lower, lower, approximate=approximate)
    if upper is None:
        return Figure(FigureKind.at_least.value, lower) if lower else Figure(FigureKind.unknown.value)
    points = [f.best for f in figures]
    best = sum(points) if all(p is not None for p in points) else None
    if lower == 0:
        return Figure(FigureKind.up_to.value, None, best, upper)
    return Figure(FigureKind.range.value, lower, best, upper, approximate=approximate)


def meaningful_total(parts: list[tuple[Figure, str, bool]]) -> tuple[Figure | None, str | None]:
    """(figure, unit, disjoint) per population -> their total, only where adding up means
    something: one population, or several of one unit all counted in no other. Else (None, None):
    show them side by side."""
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0][0], parts[0][1]
    units = {unit for _, unit, _ in parts}
    if len(units) == 1 and all(disjoint for _, _, disjoint in parts):
        return add_figures([figure for figure, _, _ in parts]), units.pop()
    return None, None


def _long_numbers(*values: int | None) -> list[str]:
    return ["—" if value is None else f"{value:,}" for value in values]


def _short_numbers(*values: int | None) -> list[str]:
    """Compact numbers (2.45M) sharing the fewest significant digits that keep distinct values distinct."""
    known = [v for v in values if v is not None]
    for digits in range(3, 11):
        texts = [_compact(v, digits) for v in known]
        if len(set(texts)) == len(set(known)):
            break
    out, it = [], iter(texts if known else [])
    for value in values:
        out.append("—" if value is None else next(it))
    return out


def _compact(value: int, digits: int) -> str:
    for threshold, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= threshold:
            return f"{value / threshold:.{digits}g}{suffix}"
    return f"{value:,}"


# How exposed data was held, in plain words for executives and notices.
PROTECTION_WORDS = {
    "plain": "not encrypted",
    "encrypted, key not taken": "encrypted; the key is not known to have been taken",
    "encrypted, key possibly taken": "encrypted, but the key may have been taken",
    "hashed": "hashed (not readable as stored)",
    "partial or truncated": "partial or truncated, not the full number",
    "expired": "expired",
}


def figure_of(revision) -> Figure:
    """The figure a stored or input revision publishes."""
    return Figure(str(revision.figure_kind.value if hasattr(revision.figure_kind, "value") else revision.figure_kind),
                  revision.low, revision.best, revision.high, revision.wording or "")


FIGURE_NUMBERS = {
    FigureKind.exact: ("best",), FigureKind.range: ("low", "best", "high"), FigureKind.up_to: ("high",),
    FigureKind.at_least: ("low",), FigureKind.unknown: (), FigureKind.placeholder: ("best",),
}


def figure_input(kind: str, low: int | None, best: int | None, high: int | None) -> dict:
    """A form's numbers for a figure kind: only those the kind uses (a form carries the previous
    revision's three numbers forward; choosing 'unknown' must not keep them)."""
    used = FIGURE_NUMBERS[FigureKind(kind)]
    values = {"low": low, "best": best, "high": high}
    return {"figure_kind": kind, **{name: (int(v) if v is not None and name in used else None)
                                    for name, v in values.items()}}


def figure_problems(kind: str, low: int | None, best: int | None, high: int | None) -> list[tuple[str, str]]:
    """Which numbers each kind needs, and their order."""
    need = {
        FigureKind.exact: ("best",), FigureKind.range: ("low", "high"), FigureKind.up_to: ("high",),
        FigureKind.at_least: ("low",), FigureKind.unknown: (), FigureKind.placeholder: ("best",),
    }[FigureKind(kind)]
    values = {"low": low, "best": best, "high": high}
    problems = [(name, f"is needed for a figure that is {_kind_words(kind)}") for name in need if values[name] is None]
    if kind == FigureKind.unknown:
        problems += [(name, "must be empty when the count is not known") for name, v in values.items() if v is not None]
    if kind == FigureKind.exact:
        problems += [(name, "must be empty or equal to best for an exact figure")
                     for name in ("low", "high") if values[name] is not None and best is not None
                     and values[name] != best]
    if kind == FigureKind.up_to and low is not None:
        problems.append(("low", "must be empty for an 'up to' figure (use a range when both bounds are known)"))
    if kind == FigureKind.at_least and high is not None:
        problems.append(("high", "must be empty for an 'at least' figure (use a range when both bounds are known)"))
    if kind != FigureKind.placeholder:
        if low is not None and best is not None and low > best:
            problems.append(("low", f"the low figure ({low:,}) is above the best estimate ({best:,})"))
        if best is not None and high is not None and best > high:
            problems.append(("best", f"the best estimate ({best:,}) is above the high figure ({high:,})"))
        if low is not None and high is not None and best is None and low > high:
            problems.append(("low", f"the low figure ({low:,}) is above the high figure ({high:,})"))
    return problems


def _kind_words(kind: str) -> str:
    return {"exact": "exact", "range": "a range", "up to": "'up to' a number", "at least": "'at least' a number",
            "unknown": "unknown", "placeholder": "a placeholder"}[kind]


def is_valid_scope_region(code: str) -> bool:
    return code in REGION_GROUPINGS or code == UNKNOWN_REGION or is_valid_region(code)


def revision_problems(revision: ScopeRevisionCreate) -> list[tuple[str, str]]:
    problems = figure_problems(revision.figure_kind.value, revision.low, revision.best, revision.high)
    whole = figure_of(revision)
    ceiling = whole.upper  # no breakdown can exceed what the whole figure allows

    catalogue = data_types()
    seen_types: set[str] = set()
    for index, item in enumerate(revision.data_types):
        where = f"data_types[{index}]"
        if item.data_type not in catalogue:
            problems.append((f"{where}.data_type", f"unknown data type {item.data_type!r}"))
        if item.data_type in seen_types:
            problems.append((f"{where}.data_type", f"{item.data_type!r} is listed twice"))
        seen_types.add(item.data_type)
        problems += _count_problems(where, item.count, item.count_kind, ceiling)

    seen_regions: set[str] = set()
    for index, item in enumerate(revision.regions):
        where = f"regions[{index}]"
        code = item.region.strip().upper()
        if not is_valid_scope_region(code):
            problems.append((f"{where}.region", f"unknown region code {item.region!r} (use ISO 3166, EU, EEA or ZZ "
                                                "for not known)"))
        if code in seen_regions:
            problems.append((f"{where}.region", f"{code!r} is listed twice"))
        seen_regions.add(code)
        problems += _count_problems(where, item.count, item.count_kind, ceiling)
    region_floor = sum(Figure.from_count(i.count, i.count_kind.value).lower for i in revision.regions)
    if ceiling is not None and region_floor > ceiling:
        problems.append(("regions", f"the regions add up to at least {region_floor:,}, above the figure's upper "
                                    f"bound ({ceiling:,})"))

    seen_systems: set[str] = set()
    for index, item in enumerate(revision.systems):
        if item.system in seen_systems:
            problems.append((f"systems[{index}].system", f"{item.system!r} is listed twice"))
        seen_systems.add(item.system)
        if item.count is not None and ceiling is not None and item.count > ceiling:
            problems.append((f"systems[{index}].count", f"{item.count:,} is above the figure's upper bound ({ceiling:,})"))

    # A cell counts customers with that data type in that region: it can be no larger than either.
    type_counts = {item.data_type: Figure.from_count(item.count, item.count_kind.value).upper
                   for item in revision.data_types}
    region_counts = {item.region.strip().upper(): Figure.from_count(item.count, item.count_kind.value).upper
                     for item in revision.regions}
    seen_cells: set[tuple[str, str]] = set()
    for index, cell in enumerate(revision.cells):
        where = f"cells[{index}]"
        region = cell.region.strip().upper()
        if cell.data_type not in type_counts:
            problems.append((f"{where}.data_type", f"{cell.data_type!r} is not among this revision's data types"))
        elif type_counts[cell.data_type] is not None and cell.count > type_counts[cell.data_type]:
            problems.append((f"{where}.count", f"{cell.count:,} is above the {cell.data_type} count ({type_counts[cell.data_type]:,})"))
        if region not in region_counts:
            problems.append((f"{where}.region", f"{cell.region!r} is not among this revision's regions"))
        elif region_counts[region] is not None and cell.count > region_counts[region]:
            problems.append((f"{where}.count", f"{cell.count:,} is above the {region} count ({region_counts[region]:,})"))
        if (cell.data_type, region) in seen_cells:
            problems.append((where, f"{cell.data_type} × {region} is listed twice"))
        seen_cells.add((cell.data_type, region))
    return problems


def _count_problems(where: str, count: int | None, kind, ceiling: int | None) -> list[tuple[str, str]]:
    if kind == CountKind.unknown:
        return [] if count is None else [(f"{where}.count", "must be empty when the count is not known")]
    if count is None:
        return [(f"{where}.count", "is missing (choose 'unknown' when it is not known)")]
    if kind != CountKind.at_least and ceiling is not None and count > ceiling:
        return [(f"{where}.count", f"{count:,} is above the figure's upper bound ({ceiling:,})")]
    if kind == CountKind.at_least and ceiling is not None and count > ceiling:
        return [(f"{where}.count", f"at least {count:,} is above the figure's upper bound ({ceiling:,})")]
    return []


def describe_change(previous: Figure | None, current: Figure, unit: str) -> str:
    """How a population's figure moved since its previous revision in the same unit."""
    if previous is None:
        return f"first estimate: {current.describe(unit)}"
    if previous == current:
        return f"unchanged at {current.describe(unit)}"
    before, after = previous.point, current.point
    if before is not None and after is not None and previous.kind == current.kind and before != after:
        delta = after - before
        sign = "+" if delta > 0 else "−"
        return f"{previous.describe(unit)} → {current.describe(unit)} ({sign}{abs(delta):,})"
    return f"{previous.describe(unit)} → {current.describe(unit)}"


def breakdown_warnings(revision: ScopeRevisionCreate) -> list[str]:
    """Where breakdowns carried forward from an earlier revision no longer fit the new figure (not
    errors: forensics often knows the total before the split)."""
    whole = figure_of(revision)
    warnings = []
    regions = [Figure.from_count(i.count, i.count_kind.value) for i in revision.regions]
    if regions and all(r.upper is not None for r in regions) and whole.lower:
        placed = sum(r.upper for r in regions)
        if placed < whole.lower:
            warnings.append(f"the regions account for at most {placed:,} of at least {whole.lower:,}: "
                            f"{whole.lower - placed:,} are not placed in any region (add them, or a ZZ row)")
    counts = [Figure.from_count(i.count, i.count_kind.value).upper for i in revision.data_types]
    known = [c for c in counts if c is not None]
    if known and whole.lower and max(known) < whole.lower // 2:
        warnings.append(f"no data type covers even half of the new figure (largest {max(known):,}): were the data "
                        "type counts updated?")
    return warnings
