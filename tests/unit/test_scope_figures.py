"""Figures as they are published (exact, range, up to, at least, unknown, placeholder), worked by hand."""
import pytest

from breachdash.scope.models import ScopeRevisionCreate
from breachdash.scope.rules import Figure, add_figures, figure_problems, meaningful_total, revision_problems

UP_TO_500M = Figure("up to", None, None, 500_000_000)


@pytest.mark.parametrize("figure, text, lower, upper, point", [
    (Figure.exact(2_163_848), "2,163,848 individuals", 2_163_848, 2_163_848, 2_163_848),
    (Figure("range", 2_400_000, 2_450_000, 2_500_000), "2,400,000–2,500,000 individuals (best 2,450,000)",
     2_400_000, 2_500_000, 2_450_000),
    (UP_TO_500M, "up to 500,000,000 individuals", 0, 500_000_000, 500_000_000),
    (Figure("at least", 10_000), "at least 10,000 individuals", 10_000, None, 10_000),
    (Figure("unknown"), "count not known", 0, None, None),
    (Figure("placeholder", None, 500), "500 individuals (placeholder, not an estimate)", 0, None, None),
    (Figure("unknown", wording="a substantial proportion of people in America"),
     "“a substantial proportion of people in America” (count not known)", 0, None, None),
])
def test_each_kind_says_what_was_published_and_bounds_it(figure, text, lower, upper, point):
    assert figure.describe("individuals") == text
    assert (figure.lower, figure.upper, figure.point) == (lower, upper, point)


def test_a_placeholder_is_never_an_estimate():
    placeholder = Figure("placeholder", None, 500)
    assert not placeholder.is_known and placeholder.point is None
    assert placeholder.headline() == "not known (a placeholder is recorded)"


def test_short_ranges_keep_enough_digits_to_show_low_best_high_in_order():
    # "162M – 162M" beside a best of 161,719,000 hid the order; more digits show it.
    figure = Figure("range", 161_500_000, 161_719_000, 162_300_000)
    assert figure.range_text() == "161.5M – 162.3M (best 161.7M)"
    assert Figure("range", 2_400_000, None, 2_500_000).range_text() == "2.4M – 2.5M"


@pytest.mark.parametrize("kind, low, best, high, fields", [
    ("exact", None, None, None, {"best"}),
    ("range", None, 5, None, {"low", "high"}),
    ("up to", None, None, None, {"high"}),
    ("up to", 3, None, 10, {"low"}),
    ("at least", None, None, None, {"low"}),
    ("at least", 3, None, 10, {"high"}),
    ("unknown", None, 4, None, {"best"}),
    ("range", 10, 5, 20, {"low"}),
    ("range", 1, 25, 20, {"best"}),
])
def test_each_kind_refuses_numbers_it_cannot_have(kind, low, best, high, fields):
    assert {field for field, _ in figure_problems(kind, low, best, high)} == fields


def test_breakdowns_may_be_unknown_or_bounded_but_never_above_the_whole():
    revision = ScopeRevisionCreate(figure_kind="up to", high=1_000, data_types=[
        {"data_type": "payment_card", "count": None, "count_kind": "unknown"},
        {"data_type": "name", "count": 1_001, "count_kind": "up to"}], regions=[
        {"region": "US", "count": None, "count_kind": "unknown"}, {"region": "EEA", "count": 5},
        {"region": "ZZ", "count": 2}])
    assert [(f, m) for f, m in revision_problems(revision)] == [
        ("data_types[1].count", "1,001 is above the figure's upper bound (1,000)")]


def test_sum_of_populations_counted_in_no_other():
    assert add_figures([Figure.exact(3), Figure.exact(4)]) == Figure.exact(7)
    assert add_figures([Figure.exact(3), Figure("unknown")]) == Figure("at least", 3)
    assert add_figures([Figure("up to", None, None, 10), Figure.exact(4)]) == Figure("range", 4, None, 14)
    assert add_figures([Figure("up to", None, None, 10), Figure("up to", None, None, 5)]) == \
        Figure("up to", None, None, 15)


def test_a_total_only_where_adding_up_means_something():
    us, ca = Figure.exact(100), Figure.exact(6)
    assert meaningful_total([(us, "individuals", False)]) == (us, "individuals")
    assert meaningful_total([(us, "individuals", True), (ca, "individuals", True)]) == \
        (Figure.exact(106), "individuals")
    # Overlap possible, or two units: side by side, never a sum.
    assert meaningful_total([(us, "individuals", True), (ca, "individuals", False)]) == (None, None)
    assert meaningful_total([(us, "individuals", True), (ca, "records", True)]) == (None, None)
