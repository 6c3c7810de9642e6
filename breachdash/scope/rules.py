"""Rules for a scope revision, as pure functions: every problem names its field."""
from __future__ import annotations

from breachdash.reference import data_types, is_valid_region
from breachdash.scope.models import ScopeRevisionCreate


def revision_problems(revision: ScopeRevisionCreate) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if revision.low > revision.best:
        problems.append(("low", f"low ({revision.low:,}) is above best ({revision.best:,})"))
    if revision.best > revision.high:
        problems.append(("best", f"best ({revision.best:,}) is above high ({revision.high:,})"))

    catalogue = data_types()
    seen_types: set[str] = set()
    for index, item in enumerate(revision.data_types):
        where = f"data_types[{index}]"
        if item.data_type not in catalogue:
            problems.append((f"{where}.data_type", f"unknown data type {item.data_type!r}"))
        if item.data_type in seen_types:
            problems.append((f"{where}.data_type", f"{item.data_type!r} is listed twice"))
        seen_types.add(item.data_type)
        if item.count > revision.high:
            problems.append((f"{where}.count", f"{item.count:,} is above the revision's high ({revision.high:,})"))

    seen_regions: set[str] = set()
    for index, item in enumerate(revision.regions):
        where = f"regions[{index}]"
        code = item.region.strip().upper()
        if not is_valid_region(code):
            problems.append((f"{where}.region", f"unknown ISO 3166 region code {item.region!r}"))
        if code in seen_regions:
            problems.append((f"{where}.region", f"{code!r} is listed twice"))
        seen_regions.add(code)
    region_total = sum(item.count for item in revision.regions)
    if region_total > revision.high:
        problems.append(("regions", f"the regions add up to {region_total:,}, above the revision's high ({revision.high:,})"))

    seen_systems: set[str] = set()
    for index, item in enumerate(revision.systems):
        if item.system in seen_systems:
            problems.append((f"systems[{index}].system", f"{item.system!r} is listed twice"))
        seen_systems.add(item.system)
        if item.count is not None and item.count > revision.high:
            problems.append((f"systems[{index}].count", f"{item.count:,} is above the revision's high ({revision.high:,})"))

    # A cell counts customers with that data type in that region: it can be no larger than either.
    type_counts = {item.data_type: item.count for item in revision.data_types}
    region_counts = {item.region.strip().upper(): item.count for item in revision.regions}
    seen_cells: set[tuple[str, str]] = set()
    for index, cell in enumerate(revision.cells):
        where = f"cells[{index}]"
        region = cell.region.strip().upper()
        if cell.data_type not in type_counts:
            problems.append((f"{where}.data_type", f"{cell.data_type!r} is not among this revision's data types"))
        elif cell.count > type_counts[cell.data_type]:
            problems.append((f"{where}.count", f"{cell.count:,} is above the {cell.data_type} count ({type_counts[cell.data_type]:,})"))
        if region not in region_counts:
            problems.append((f"{where}.region", f"{cell.region!r} is not among this revision's regions"))
        elif cell.count > region_counts[region]:
            problems.append((f"{where}.count", f"{cell.count:,} is above the {region} count ({region_counts[region]:,})"))
        if (cell.data_type, region) in seen_cells:
            problems.append((where, f"{cell.data_type} × {region} is listed twice"))
        seen_cells.add((cell.data_type, region))
    return problems


def describe_change(previous_best: int | None, best: int, unit: str) -> str:
    if previous_best is None:
        return f"first estimate: {best:,} {unit}"
    delta = best - previous_best
    if delta == 0:
        return f"unchanged at {best:,} {unit}"
    sign = "+" if delta > 0 else "−"
    return f"{previous_best:,} → {best:,} {unit} ({sign}{abs(delta):,})"
