import pytest
from pydantic import ValidationError

from breachdash.scope.models import ScopeRevisionCreate
from breachdash.scope.rules import Figure, describe_change, revision_problems


def _revision(**overrides) -> ScopeRevisionCreate:
    fields = {"low": 10, "best": 20, "high": 30}
    fields.update(overrides)
    return ScopeRevisionCreate.model_validate(fields)


def _fields(problems):
    return [location for location, _ in problems]


def test_revision_problems__valid_revision_has_none():
    assert revision_problems(_revision(
        data_types=[{"data_type": "payment_card", "count": 30, "status": "suspected"}],
        regions=[{"region": "US-CA", "count": 20}, {"region": "de", "count": 10}],
        systems=[{"system": "db", "count": 5}])) == []


def test_revision_problems__low_above_best_and_best_above_high():
    assert _fields(revision_problems(_revision(low=25))) == ["low"]
    assert _fields(revision_problems(_revision(best=35))) == ["best"]


def test_revision_problems__unknown_data_type_and_region_name_their_field():
    problems = revision_problems(_revision(data_types=[{"data_type": "shoe_size", "count": 1}],
                                           regions=[{"region": "US-ZZ", "count": 1}, {"region": "XX", "count": 1}]))
    assert _fields(problems) == ["data_types[0].data_type", "regions[0].region", "regions[1].region"]


def test_revision_problems__region_sum_above_high_is_refused():
    problems = revision_problems(_revision(regions=[{"region": "US-CA", "count": 20}, {"region": "US-TX", "count": 11}]))
    assert _fields(problems) == ["regions"]


def test_revision_problems__data_type_count_above_high_is_refused():
    assert _fields(revision_problems(_revision(data_types=[{"data_type": "email", "count": 31}]))) == ["data_types[0].count"]


def test_revision_problems__duplicates_are_refused():
    problems = revision_problems(_revision(data_types=[{"data_type": "email", "count": 1}] * 2,
                                           regions=[{"region": "DE", "count": 1}, {"region": "de", "count": 1}]))
    assert _fields(problems) == ["data_types[1].data_type", "regions[1].region"]


@pytest.mark.parametrize("bad", [{"low": -1}, {"best": 2.5}, {"high": "many"}, {"unit": "people"}])
def test_revision_input__negative_non_integer_and_unknown_unit_are_refused(bad):
    with pytest.raises(ValidationError):
        _revision(**bad)


def test_describe_change():
    assert describe_change(None, Figure.exact(5), "individuals") == "first estimate: 5 individuals"
    assert describe_change(Figure.exact(1_000), Figure.exact(1_500), "records") == \
        "1,000 records → 1,500 records (+500)"
    assert describe_change(Figure.exact(1_500), Figure.exact(1_000), "records") == \
        "1,500 records → 1,000 records (−500)"
    assert describe_change(Figure.exact(7), Figure.exact(7), "records") == "unchanged at 7 records"
