"""Errors every layer understands. Pages show their message as it is: it is written for users."""
from __future__ import annotations

import re


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
        lines = [f"{loc}: {msg}" if loc else msg for loc, msg in self.problems]
        return lines + ([and_more(self.more)] if self.more else []) + ([self.hint] if self.hint else [])

    @classmethod
    def single(cls, location: str, message: str) -> "InvalidInput":
        return cls([(location, message)])

    @classmethod
    def from_pydantic(cls, error) -> "InvalidInput":
        problems = []
        for item in error.errors():
            location = ".".join(str(part) for part in item["loc"])
            problems.append((location, item["msg"]))
        return cls(problems)


def validate_input(model: type, data):
    """Validate service input with its pydantic model; problems come back as InvalidInput, each
    naming its field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from None
