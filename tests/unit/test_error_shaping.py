"""Issue 19, item 10: error messages readable at any size, and the detectors behind item 7."""
import duckdb
import pytest

from breachdash.errors import MAX_PROBLEM_CHARS, InvalidInput, quoted, shape_message, shorten
from breachdash.importers.common import (
    check_columns,
    describe_duckdb_error,
    identifier_kind_sql,
    name_columns,
    wide_encoding,
)


def test_shorten__keeps_start_and_end():
    text = "start " + "m" * 1000 + " end"
    cut = shorten(text, 50)
    assert len(cut) == 50 and cut.startswith("start ") and cut.endswith(" end") and "…" in cut
    assert shorten("short", 50) == "short"


def test_shape_message__cuts_the_quoted_value_not_the_reason():
    for message in (f"{'x' * 5000!r} is too long", f"is not a delivery status (targeted, sent): {'y' * 5000!r}",
                    f"{'a' * 3000!r} is not one of {['b' * 3000]!r}"):
        shaped = shape_message(message)
        assert len(shaped) <= MAX_PROBLEM_CHARS, shaped
        assert "characters)" in shaped
    assert shape_message(f"{'x' * 5000!r} is too long").endswith(" (5,000 characters) is too long")
    assert shape_message(f"is not a delivery status: {'y' * 5000!r}").startswith("is not a delivery status: 'yyy")


def test_shape_message__without_quotes_keeps_both_ends():
    shaped = shape_message("reason first " + "z" * 1000 + " reason last")
    assert len(shaped) == MAX_PROBLEM_CHARS and shaped.startswith("reason first") and shaped.endswith("reason last")


def test_invalid_input__at_most_twenty_then_how_many_more():
    refused = InvalidInput([(f"row {i}, column region", f"bad {i}") for i in range(1, 51)], more=7)
    assert len(refused.problems) == 20 and refused.more == 37
    assert refused.lines()[-1] == "… and 37 more" and str(refused).endswith("; … and 37 more")
    assert InvalidInput.single("file", "x").lines() == ["File: x"]
    hinted = InvalidInput([("row 1, column customer_id", "looks like an email address")], hint="say so")
    assert hinted.lines() == ["row 1, column customer_id: looks like an email address", "say so"]


def test_invalid_input__long_locations_are_cut():
    refused = InvalidInput([("$." + "k" * 10_000, "is not allowed")])
    assert len(refused.problems[0][0]) <= 80 and refused.problems[0][1] == "is not allowed"


def test_quoted__says_the_full_length():
    assert quoted("abc") == "'abc'"
    assert quoted("q" * 100, 10) == "'qqqqqqqqqq'… (100 characters)"


def test_header_with_50000_unknown_columns__one_short_line():
    columns = ["customer_id", "region", "data_types"] + [f"col_{i}" for i in range(50_000)]
    with pytest.raises(InvalidInput) as refused:
        check_columns(columns, required=["customer_id", "region", "data_types"], optional=[])
    assert str(refused.value) == ("Columns: 50,000 unknown columns: col_0, col_1, col_2, col_3, col_4 and 49,995 more "
                                  "(the header has 50,003 columns)")
    assert name_columns(["a", "b"]) == "a, b"


def test_header_with_many_identifier_columns__names_the_first_few():
    columns = ["customer_id", "region", "data_types"] + ["email"] + ["phone"] * 3000
    with pytest.raises(InvalidInput) as refused:
        check_columns(columns, required=["customer_id", "region", "data_types"], optional=[])
    assert "email, phone, phone, phone, phone and 2,996 more" in str(refused.value)
    assert len(str(refused.value)) < 300


@pytest.mark.parametrize("data, expected", [
    ("a,b\n1,2\n".encode("utf-16"), "UTF-16"), ("a,b\n1,2\n".encode("utf-16-le"), "UTF-16"),
    ("a,b\n1,2\n".encode("utf-16-be"), "UTF-16"), ("a,b\n1,2\n".encode("utf-32"), "UTF-32"),
    ("a,b\n1,2\n".encode("utf-32-be"), "UTF-32"), ("a,b\n1,2\n".encode("utf-32-le"), "UTF-32"),
    ("a,b\n1,2\n".encode("utf-8"), None), ("ä,ö\n顧客,2\n".encode("utf-8-sig"), None),
    (b"a,b\n1,\x002\n", None), (b"\x00\x01\x02garbage", None),
])
def test_wide_encoding__by_bom_or_nul_pattern(data, expected):
    assert wide_encoding(data) == expected


def test_describe_duckdb_error__a_long_line_is_named_with_its_length():
    error = Exception("Invalid Input Error: CSV Error on Line: 2\nOriginal Line: " + "x" * 10_000 +
                      "\nMaximum line size of 2000000 bytes exceeded. Actual Size:1073741830 bytes.\n")
    assert describe_duckdb_error(error) == ("line 2 is 1,073,741,830 bytes long; the limit is 2,000,000 bytes "
                                            "(is a quote left open?)")


@pytest.mark.parametrize("value, kind", [
    ("person0@gmail.com", "an email address"), ("  a.b+c@example.co.uk ", "an email address"),
    ("+1 415 555 0100", "a phone number"), ("+14155550100", "a phone number"), ("(415) 555-0100", "a phone number"),
    ("415-555-0100", "a phone number"), ("415.555.0100", "a phone number"), ("+44 20 7946 0958", "a phone number"),
    ("123-45-6789", "a US social security number"), ("123 45 6789", "a US social security number"),
    ("4111 1111 1111 1111", "a payment card number"), ("4111-1111-1111-1111", "a payment card number"),
    ("4111111111111111", "a payment card number"), ("378282246310005", "a payment card number"),
    ("6011111111111117", "a payment card number"), ("4222222222222", "a payment card number"),
    ("cus_9e3779b97f4a7c15", None), ("4111111111111112", None), ("0000000000000", None), ("2024-01-0001", None),
    ("12345", None), ("99999999999999999999", None), ("user@host", None), ("c-415-555", None), ("+12", None),
    ("顧客-7", None), (None, None), ("", None),
])
def test_identifier_kind_sql(value, kind):
    connection = duckdb.connect()
    assert connection.execute(f"SELECT {identifier_kind_sql('v')} FROM (SELECT ?::VARCHAR AS v)",
                              [value]).fetchone()[0] == kind
