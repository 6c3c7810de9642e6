"""Errors every layer understands. Pages show their message as it is: it is written for users."""
from __future__ import annotations

import re

from breachdash.incidents.models import MILESTONE_NAMES


class BreachdashError(Exception):
    """Base class: the message is safe and meant to be shown to the user."""


class PermissionDenied(BreachdashError):
    pass


class NotFound(BreachdashError):
    pass


class StaleUpdate(BreachdashError):
    """Someone else changed the record since it was read."""


class Conflict(BreachdashError):
    """The write would duplicate or contradict something already recorded."""


class PolicyRefused(BreachdashError):
    """The approval policy (data/approval_policy.json) or the two-person rule forbids this, for
    whoever asks; the message says which rule and why."""


class SignInLocked(BreachdashError):
    """Too many failed sign-ins for one account; the message says until when."""


class DatabaseUnavailable(BreachdashError):
    pass


class DatabaseUnreachable(DatabaseUnavailable):
    """The database did not answer (down, refusing connections, network). The command line shows
    the reason; pages show only that it is unreachable and retry (ui.outage_guard)."""


class AuditKeyMissing(BreachdashError):
    """No usable audit key is configured; nothing is written without one (docs/security.md)."""


# Errors stay readable at any size (issue 19, item 10): at most MAX_PROBLEMS problems are kept,
# then "… and N more"; each is cut to about MAX_PROBLEM_CHARS, shortening the quoted value rather
# than the reason, and a location to MAX_LOCATION_CHARS.
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 200
MAX_LOCATION_CHARS = 80
ELLIPSIS = "…"
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def shorten(text: str, limit: int) -> str:
    """`text` cut in the middle to at most `limit` characters, keeping its start and end (where a
    reason is: "row 3: <value> is too long", "is not valid: <value>")."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2
    head = limit - 1 - tail
    return f"{text[:head]}{ELLIPSIS}{text[len(text) - tail:]}"


def quoted(value: object, limit: int = 40) -> str:
    """A value quoted for a message, cut to about `limit` characters with its full length said."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}{ELLIPSIS} ({len(text):,} characters)"


def shape_message(message: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    """A problem's message at a readable length: the longest quoted values are cut first (so the
    reason stays whole), then, if still too long, the middle."""
    message = str(message)
    if len(message) <= limit:
        return message
    quotes = sorted(_QUOTED.finditer(message), key=lambda m: len(m.group()), reverse=True)
    for match in quotes:
        if len(message) <= limit:
            break
        text = match.group()
        excess = len(message) - limit
        keep = max(12, len(text) - excess - 30)
        if keep >= len(text) - 2:
            continue
        cut = f"{text[:keep]}{ELLIPSIS}{text[0]} ({len(text) - 2:,} characters)"
        message = message.replace(text, cut, 1)
    return shorten(message, limit)


def shape_problems(problems: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """The problems to show (at most MAX_PROBLEMS, each shaped) and how many more there are."""
    shown = [(shorten(str(location or ""), MAX_LOCATION_CHARS), shape_message(message))
             for location, message in problems[:MAX_PROBLEMS]]
    return shown, max(0, len(problems) - MAX_PROBLEMS)


def and_more(count: int) -> str:
    return f"{ELLIPSIS} and {count:,} more"


# ---------------------------------------------------------------- plain language (issue 16)
# The one translation layer between validation and people: a field's code ("occurred_at",
# "sources[0].url") becomes its name in words ("When it happened", "Source 1, web address"), and a
# pydantic error becomes a plain sentence from its type and context, never pydantic's own wording
# ("Value error, …", "List should have at least 1 item after validation, not 0"). `problems` keep
# the code (tests and the command line locate by it); `lines()` and the message use the words.

FIELD_LABELS = {
    # people and sign-in
    "email": "Email", "display_name": "Name", "password": "Password", "roles": "Roles",
    "role": "Role", "is_demo": "Demo account",
    # incidents
    "slug": "Short name (for links)", "title": "Title", "company": "Company", "summary": "Summary",
    "display_timezone": "Time zone", "sector_flags": "Sectors", "milestone": "Milestone",
    "precision": "Precision",
    # timeline
    "occurred_at": "When it happened", "occurred_precision": "How precise the time is", "kind": "Kind",
    "detail": "Detail", "systems": "Systems", "source_ref": "Source", "reason": "Reason",
    # scope
    "population": "Population", "based_on_seq": "Revision you saw", "figure_kind": "Kind of figure",
    "low": "Low", "best": "Best estimate", "high": "High", "wording": "Wording", "unit": "Counted in",
    "sources": "Sources", "url": "web address", "quote": "quoted sentence", "published_on": "publication date",
    "confidence": "Confidence", "method": "Method", "corrects_seq": "Revision it corrects",
    "data_types": "Data types", "data_type": "data type", "regions": "Regions", "region": "Region",
    "cells": "Data type by region", "count": "count", "count_kind": "kind of count", "status": "Status",
    "protection": "protection", "system": "system", "key": "Key", "label": "Name",
    "jurisdictions": "Jurisdictions", "disjoint": "Separate from the other populations",
    # outreach
    "channel": "Channel", "segment": "Segment", "targeted": "Targeted", "sent": "Sent",
    "delivered": "Delivered", "bounced": "Bounced", "failed": "Failed", "opened": "Opened",
    "replied": "Replied", "opted_out": "Opted out", "substitute_issued": "Substitute notice issued",
    "day": "Day", "calls": "Calls", "mailbox": "Mailbox messages", "call_capacity": "Call capacity",
    "note": "Note", "customer_id": "Customer id", "by": "Group by", "list": "List",
    # remediation and obligations
    "action": "Action", "category": "Category", "owner_role": "Owner", "due_at": "Due",
    "filed_at": "Filed on", "rule_id": "Rule", "jurisdiction": "Jurisdiction", "regime": "Regime", "recipient": "Recipient",
    "applicability": "Applies?", "clock_started_at": "Clock started",
    # communications
    "name": "Name", "audience": "Audience", "channels": "Channels", "target_at": "Target time",
    "required_roles": "Approvers",
    # files
    "file": "File", "columns": "Columns", "rows": "Rows", "mode": "Mode", "format": "Format",
}
_CODE_PATH = re.compile(r"^[A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*$")
_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def _location_code(loc) -> str:
    """pydantic's location tuple as one code path: ("sources", 0, "url") -> "sources[0].url"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _CODE_PATH.match(str(part)):  # a validator's own step ("function-after[…]")
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def _label(code: str) -> str:
    return FIELD_LABELS.get(code) or MILESTONE_NAMES.get(code) or code.replace("_", " ")


def field_words(location: str) -> str:
    """A location as a person reads it: a code path ("sources[0].url", "occurred_at") becomes words
    ("Sources, item 1, web address", "When it happened"); anything else ("row 3, column region",
    "line 1") is already words and is left as it is."""
    location = str(location)
    if not _CODE_PATH.match(location):
        return location
    words = []
    for name, index in _PART.findall(location):
        words.append(_label(name) if name else f"item {int(index) + 1}")
    text = ", ".join(words)
    return text[:1].upper() + text[1:]


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


_PATTERN_HINTS = {
    "slug": "use lower-case letters, digits and hyphens (for example acme-2026-03)",
    "key": "use lower-case letters, digits and hyphens (for example eu-customers)",
    "population": "use lower-case letters, digits and hyphens (for example eu-customers)",
    "url": "must be a web address starting with http:// or https://",
    "published_on": "must be a date written as YYYY-MM-DD (for example 2026-03-14)",
}


def plain_message(item: dict) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a plain sentence."""
    kind = item.get("type", "")
    ctx = item.get("ctx") or {}
    field = next((str(p) for p in reversed(item.get("loc") or ()) if isinstance(p, str)), "")
    if kind == "missing":
        return "is required"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "cannot be empty" if minimum <= 1 else f"must be at least {_number(minimum)} characters"
    if kind == "string_too_long":
        return f"must be at most {_number(ctx.get('max_length'))} characters"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "choose at least one" if minimum <= 1 else f"needs at least {_number(minimum)}"
    if kind == "too_long":
        actual = ctx.get("actual_length")
        return (f"at most {_number(ctx.get('max_length'))} allowed"
                + (f" (this has {_number(actual)})" if actual is not None else ""))
    if kind == "string_pattern_mismatch":
        return _PATTERN_HINTS.get(field, "is not in the expected form")
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        bound = _number(next(iter(ctx.values()), ""))
        return {"greater_than_equal": f"must be {bound} or more", "greater_than": f"must be more than {bound}",
                "less_than_equal": f"must be {bound} or less", "less_than": f"must be less than {bound}"}[kind]
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "must be a whole number"
    if kind in {"float_type", "float_parsing", "decimal_type", "decimal_parsing"}:
        return "must be a number"
    if kind in {"bool_type", "bool_parsing"}:
        return "must be yes or no"
    if kind in {"enum", "literal_error"}:
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"must be one of: {expected}" if expected else "is not one of the choices"
    if kind in {"string_type", "string_unicode"}:
        return "must be text"
    if kind in {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}:
        return "must be a date written as YYYY-MM-DD"
    if kind.startswith("datetime_") or kind == "timezone_aware":
        return "needs a date and time with a time zone" if kind == "timezone_aware" else "must be a date and time"
    if kind == "extra_forbidden":
        return "is not a field this form takes"
    if kind in {"list_type", "tuple_type", "set_type"}:
        return "must be a list"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return "is not in the expected form"
    if kind in {"value_error", "assertion_error"}:
        error = ctx.get("error")
        return str(error) if error is not None else _strip_prefix(item.get("msg", ""))
    return _strip_prefix(item.get("msg", "is not valid"))


def _strip_prefix(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message


class InvalidInput(BreachdashError):
    """Validation failed. `problems` lists (location, message) pairs, location naming the field:
    at most MAX_PROBLEMS, each cut to a readable length; `more` says how many were left out
    (`more` given by the caller counts problems it found but did not list); `hint`, if any, says
    what to do about them."""

    def __init__(self, problems: list[tuple[str, str]], *, more: int = 0, hint: str = ""):
        shown, left_out = shape_problems(list(problems))
        self.problems = shown
        self.more = more + left_out
        self.hint = hint  # what to do about them, said once after the list
        super().__init__("; ".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem shown, then "… and N more" when some were left out, then the hint."""
        lines = [f"{field_words(loc)}: {msg}" if loc else msg for loc, msg in self.problems]
        return lines + ([and_more(self.more)] if self.more else []) + ([self.hint] if self.hint else [])

    @classmethod
    def single(cls, location: str, message: str) -> "InvalidInput":
        return cls([(location, message)])

    @classmethod
    def from_pydantic(cls, error) -> "InvalidInput":
        problems = []
        for item in error.errors():
            location = _location_code(item["loc"])
            problems.append((location, plain_message(item)))
        return cls(problems)


def validate_input(model: type, data):
    """Validate service input with its pydantic model; problems come back as InvalidInput, each
    naming its field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from None
