"""The Scope and Overview read models: what a reader sees of each population, worked by hand."""
from datetime import datetime, timezone

import pandas as pd

from breachdash.reporting import scope_view
from breachdash.scope.rules import Figure
from breachdash.scope.service import DATA_TYPE_COLUMNS, PopulationScope, ScopeState

WHEN = datetime(2022, 10, 3, 12, tzinfo=timezone.utc)


def _population(key, figure, previous=None, unit="individuals", label=None, disjoint=False):
    return PopulationScope(
        id=1, key=key, label=label or key, unit=unit, jurisdictions=("AU",), disjoint=disjoint, version=1, seq=8,
        figure=figure, confidence="medium", recorded_at=WHEN, recorded_by="a@x", previous=previous,
        previous_seq=4 if previous else None, data_types=pd.DataFrame(columns=DATA_TYPE_COLUMNS),
        regions=pd.DataFrame(columns=["region", "count", "count_kind", "figure"]))


def test_a_change_of_kind_is_not_a_fall():
    # Optus: "up to 9.8 million" (revision 4), then "about 9.5 million" (revision 8).
    population = _population("customers", Figure.exact(9_500_000), previous=Figure("up to", None, None, 9_800_000))
    assert scope_view.change_text(population) == "was up to 9.8M (revision 4)"
    assert scope_view.delta_arrow(scope_view.change_text(population)) == "off"


def test_a_numeric_change_of_one_kind_has_an_arrow_and_a_new_wording_is_no_change():
    grown = _population("us", Figure.exact(98_000_000), previous=Figure.exact(100_000_000))
    assert scope_view.change_text(grown) == "-2,000,000 since revision 4"
    assert scope_view.delta_arrow(scope_view.change_text(grown)) == "auto"
    reworded = _population("ca", Figure("exact", 6, 6, 6, "approximately 6 million in Canada"),
                           previous=Figure("exact", 6, 6, 6, "approximately 6 million individuals"))
    assert scope_view.change_text(reworded) is None


def test_overview_lists_many_populations_as_lines_never_a_sum():
    populations = [_population("a", Figure("at least", 13_100_000), label="Current postpaid"),
                   _population("b", Figure.exact(850_000), label="Prepaid"),
                   _population("c", Figure("up to", None, None, 52_000), label="Metro")]
    state = ScopeState(populations=populations, total=None, total_unit=None)
    assert scope_view.overview_figures(state, "UTC") == []
    assert scope_view.populations_lines(state) == ["Current postpaid (individuals): at least 13.1M",
                                                   "Prepaid (individuals): 850K", "Metro (individuals): up to 52K"]
    assert scope_view.side_by_side_note(state) == scope_view.SIDE_BY_SIDE


def test_overview_shows_a_total_only_where_it_means_something():
    us, ca = _population("us", Figure.exact(98_000_000)), _population("ca", Figure.exact(6_000_000))
    state = ScopeState(populations=[us, ca], total=Figure.exact(104_000_000), total_unit="individuals")
    [item] = scope_view.overview_figures(state, "UTC")
    assert (item.label, item.value) == ("Affected individuals, all populations", "104,000,000")
    assert scope_view.populations_lines(state) == [] and scope_view.side_by_side_note(state) is None


def test_region_labels_say_what_is_not_known():
    assert scope_view.region_label("US-CA") == "US-CA — California"
    assert scope_view.region_label("EEA") == "EEA — the EU/EEA (countries not split)"
    assert scope_view.region_label("ZZ") == "ZZ — region not known"
