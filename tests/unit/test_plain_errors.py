"""Issue 16: validation errors name the field in words and say what is wrong in plain English,
from the real models' errors."""
import pytest

from breachdash.auth.service import UserCreate
from breachdash.errors import InvalidInput, field_words, validate_input
from breachdash.incidents.models import IncidentCreate
from breachdash.outreach.service import InquiryDayIn
from breachdash.scope.models import ScopePopulationCreate, ScopeRevisionCreate
from breachdash.timeline.models import TimelineEventCreate

PYDANTIC_WORDING = ("Value error", "should have at least", "after validation", "Input should", "String should",
                    "Field required", "Extra inputs", "match pattern", "valid integer")


def _refused(model, data) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_input(model, data)
    for line in caught.value.lines():
        assert not any(words in line for words in PYDANTIC_WORDING), line
    return caught.value


def test_user__email_and_roles_in_words():
    refused = _refused(UserCreate, {"email": "not an email", "roles": []})
    assert refused.lines() == ["Email: is not an email address", "Roles: choose at least one"]
    assert refused.problems[0][0] == "email"  # the code stays for the command line and tests


def test_user__short_password():
    assert _refused(UserCreate, {"email": "a@b.co", "roles": ["pr"], "password": "short"}).lines() == [
        "Password: must be at least 10 characters"]


def test_revision__numbers_patterns_choices_and_nested_fields():
    refused = _refused(ScopeRevisionCreate, {
        "low": "3", "best": -1, "population": "EU Customers", "figure_kind": "guess",
        "sources": [{"url": "ftp://x", "published_on": "14/03/2026"}]})
    lines = refused.lines()
    assert "Low: must be a whole number" in lines
    assert "Best estimate: must be 0 or more" in lines
    assert "Population: use lower-case letters, digits and hyphens (for example eu-customers)" in lines
    assert any(line.startswith("Kind of figure: must be one of: exact, range") for line in lines)
    assert "Sources, item 1, web address: must be a web address starting with http:// or https://" in lines
    assert any(line.startswith("Sources, item 1, publication date: must be a date written as YYYY-MM-DD")
               for line in lines)


def test_population__required_and_empty():
    assert _refused(ScopePopulationCreate, {"label": ""}).lines() == ["Key: is required", "Name: cannot be empty"]


def test_incident__short_name_and_lengths():
    lines = _refused(IncidentCreate, {"slug": "Bad Slug", "title": "", "company": "x" * 201}).lines()
    assert lines == ["Short name (for links): use lower-case letters, digits and hyphens (for example acme-2026-03)",
                     "Title: cannot be empty", "Company: must be at most 200 characters"]


def test_timeline_and_inquiries__dates_and_upper_bounds():
    assert _refused(TimelineEventCreate, {"occurred_at": "yesterday", "kind": "detection", "title": "x"}).lines() == [
        "When it happened: must be a date and time"]
    assert _refused(InquiryDayIn, {"day": "soon", "calls": 10**9}).lines() == [
        "Day: must be a date written as YYYY-MM-DD", "Calls: must be 100,000,000 or less"]


def test_field_words__codes_become_words_other_locations_stay():
    assert field_words("occurred_at") == "When it happened"
    assert field_words("data_types[2].count") == "Data types, item 3, count"
    assert field_words("detected_at") == "Detected"
    assert field_words("row 3, column region") == "row 3, column region"
    assert field_words("line 1") == "line 1"
    assert field_words("some_new_field") == "Some new field"


def test_service_refusals_read_in_words():
    assert str(InvalidInput.single("occurred_at", "is in the future")) == "When it happened: is in the future"
    assert InvalidInput([("low", "the low figure (3,000,000) is above the best estimate (2,000,000)")]).lines() == [
        "Low: the low figure (3,000,000) is above the best estimate (2,000,000)"]
