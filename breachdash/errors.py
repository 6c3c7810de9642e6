"""Errors every layer understands. Pages show their message as it is: it is written for users."""
from __future__ import annotations


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


class InvalidInput(BreachdashError):
    """Validation failed. `problems` lists (location, message) pairs, location naming the field."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in problems))

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
