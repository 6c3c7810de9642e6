"""The Scope page's tables and texts, from `scope.service` reads. Pure."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from breachdash.display import local_time
from breachdash.reference import region_name
from breachdash.reviews.rules import populations_in
from breachdash.scope.models import REGION_GROUPINGS, UNKNOWN_REGION
from breachdash.scope.rules import PROTECTION_WORDS, Figure
from breachdash.scope.service import PopulationScope, ScopeState


def region_label(code: str) -> str:
    """'US-CA — California', 'EEA — the EU/EEA (countries not split)', 'ZZ — region not known'."""
    if code == UNKNOWN_REGION:
        return "ZZ — region not known"
    if code in REGION_GROUPINGS:
        return f"{code} — {REGION_GROUPINGS[code]} (countries not split)"
    name = region_name(code)
    return f"{code} — {name}" if name else code


def change_text(population: PopulationScope) -> str | None:
    """How the population's figure moved since its previous revision in the same unit; None when
    it did not move or has no earlier revision (no arrow, no colour). A number only between figures
    of one kind: "up to 9.8M" → 9.5M is no fall of 300,000."""
    previous, current = population.previous, population.figure
    if previous is None or _numbers(previous) == _numbers(current):
        return None  # unchanged (a new wording of the same figure is no change of it)
    if previous.kind == current.kind and previous.point is not None and current.point is not None \
            and previous.point != current.point:
        return f"{current.point - previous.point:+,} since revision {population.previous_seq}"
    bare = Figure(previous.kind, previous.low, previous.best, previous.high)
    return f"was {bare.describe(short=True)} (revision {population.previous_seq})"


def _numbers(figure: Figure) -> tuple:
    return figure.kind, figure.low, figure.best, figure.high


def delta_arrow(delta: str | None) -> str:
    """An arrow only for a numeric change (in neutral colour); a change of kind ("was up to 9.8M")
    has none, so it reads neither as a rise nor as a fall."""
    return "auto" if delta and delta[0] in "+-−" else "off"


def population_caption(population: PopulationScope, zone: str) -> str:
    where = ", ".join(region_label(code) for code in population.jurisdictions) or "jurisdictions not recorded"
    return (f"{population.figure.range_text(short=False)} · revision {population.seq}, confidence "
            f"{population.confidence}, by {population.recorded_by}, {local_time(population.recorded_at, zone)} · "
            f"{where}")


def history_table(history: pd.DataFrame, zone: str) -> pd.DataFrame:
    """Newest first, one row per revision, figures as published."""
    table = history.assign(
        when=history["recorded_at"].map(lambda v: local_time(v, zone)),
        figure=history.apply(lambda r: f"{r['figure']} {r['unit']}" if r["figure_kind"] != "unknown"
                             else r["figure"], axis=1) if len(history) else history["figure"],
        corrects=history["corrects_seq"].map(lambda v: "" if pd.isna(v) else f"#{int(v)}"))
    columns = ["seq", "population", "when", "recorded_by", "figure", "change_text", "confidence", "method",
               "reason", "corrects", "source"]
    return table.sort_values("seq", ascending=False)[columns]


def data_types_table(population: PopulationScope) -> pd.DataFrame:
    frame = population.data_types
    return pd.DataFrame({
        "data type": frame["name"], "tier": frame["tier_name"],
        "count": [f.describe() for f in frame["figure"]], "status": frame["status"],
        "how it was held": [PROTECTION_WORDS.get(p, p) for p in frame["protection"]]})


def regions_table(population: PopulationScope) -> pd.DataFrame:
    frame = population.regions
    return pd.DataFrame({"region": [region_label(code) for code in frame["region"]],
                         "count": [f.describe() for f in frame["figure"]]})


def form_start(population: PopulationScope | None) -> dict:
    """The revision form's starting values: the population's latest revision, carried forward."""
    if population is None:
        return {"figure_kind": "exact", "low": None, "best": None, "high": None, "wording": "", "unit": None,
                "confidence": "medium", "seq": 0,
                "data_types": pd.DataFrame({"data_type": pd.Series(dtype=str), "count": pd.Series(dtype="Int64"),
                                            "count_kind": pd.Series(dtype=str), "status": pd.Series(dtype=str),
                                            "protection": pd.Series(dtype=str)}),
                "regions": pd.DataFrame({"region": pd.Series(dtype=str), "count": pd.Series(dtype="Int64"),
                                         "count_kind": pd.Series(dtype=str)})}
    figure: Figure = population.figure
    types = population.data_types
    return {"figure_kind": figure.kind, "low": figure.low, "best": figure.best, "high": figure.high,
            "wording": figure.wording, "unit": population.unit, "confidence": population.confidence,
            "seq": population.seq,
            "data_types": types[["data_type", "count", "count_kind", "status", "protection"]].reset_index(drop=True),
            "regions": population.regions[["region", "count", "count_kind"]].reset_index(drop=True)}


SIDE_BY_SIDE = ("The populations may overlap or count different units, so they are shown side by side, never "
                "added up.")


def side_by_side_note(state: ScopeState | None) -> str | None:
    """Said wherever several populations are shown without a total."""
    return SIDE_BY_SIDE if state is not None and state.total is None and len(state.populations) > 1 else None


def scope_headline(state: ScopeState | None) -> tuple[str, str] | None:
    """(label, value) of the one total, where adding up means something and there are several."""
    if state is None or state.total is None or len(state.populations) < 2:
        return None
    return f"Affected {state.total_unit}, all populations", state.total.headline()


@dataclass(frozen=True)
class HeadlineItem:
    label: str
    value: str
    delta: str | None
    caption: str


def overview_figures(state: ScopeState | None, zone: str, *, limit: int = 2) -> list[HeadlineItem]:
    """The Overview's scope figures: the total where adding up means something, else each
    population side by side — at most `limit` as headline figures (more would not fit a row
    readably); more than that are listed by `populations_lines` instead."""
    if state is None:
        return [HeadlineItem("Affected", "no estimate yet", None, "")]
    as_of = f"as of {local_time(state.recorded_at, zone, '%d %b %H:%M')}"
    if state.total is not None:
        several = len(state.populations) > 1
        only = state.populations[0]
        return [HeadlineItem(
            f"Affected {state.total_unit}" + (", all populations" if several else ""), state.total.headline(),
            None if several else change_text(only),
            f"{state.total.range_text()} · {as_of}" if state.total.kind == "range" else
            f"{state.total.describe(short=True)} · {as_of}")]
    if len(state.populations) > limit:
        return []
    return [HeadlineItem(f"{p.label} ({p.unit})", p.figure.headline(), change_text(p),
                         f"{p.figure.range_text() if p.figure.kind == 'range' else p.figure.describe(short=True)}"
                         f" · rev. {p.seq}") for p in state.populations]


def populations_lines(state: ScopeState | None) -> list[str]:
    """One plain line per population when there are too many for headline figures and no total:
    'Current postpaid customers (individuals): at least 13.1M — was 7.8M (revision 4)'."""
    if state is None or state.total is not None or len(state.populations) <= 2:
        return []
    lines = []
    for p in state.populations:
        bare = Figure(p.figure.kind, p.figure.low, p.figure.best, p.figure.high)
        change = change_text(p)
        lines.append(f"{p.label} ({p.unit}): {bare.describe(short=True)}" + (f" — {change}" if change else ""))
    return lines


def review_change(state: ScopeState | None, snapshot: dict) -> str:
    """Each population's figure then → now, for 'since the last review'."""
    if state is None:
        return "no estimate yet"
    before = populations_in(snapshot)
    parts = []
    for population in state.populations:
        now = population.figure.describe(population.unit)
        was = before.get(population.key, {}).get("figure")
        if was is None:
            parts.append(f"{population.label}: new ({now})")
        elif was != now:
            parts.append(f"{population.label}: {was} → {now}")
    return "; ".join(parts) or "no change"
