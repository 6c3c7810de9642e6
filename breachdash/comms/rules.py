"""Communication rules as pure functions: transitions and sign-offs."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from breachdash.comms.models import Decision, PhaseStatus

S = PhaseStatus
ALLOWED_TRANSITIONS: dict[PhaseStatus, set[PhaseStatus]] = {
    S.not_started: {S.drafting},
    S.drafting: {S.in_review},
    S.in_review: {S.drafting, S.approved},
    S.approved: {S.drafting, S.sent},
    S.sent: {S.done},
    S.done: set(),
}
ALIGNMENT_PHASE_KEY = "internal_alignment"


@dataclass(frozen=True)
class SignOffView:
    role: str
    signer: str
    decision: str
    content_sha256: str
    signed_at: object
    stale_reason: str | None = None  # set when the facts it relied on changed after signing


@dataclass(frozen=True)
class RevisionFacts:
    """The parts of the scope an approval of a customer message relies on: each population's
    figure (label -> "up to 500,000 individuals") and the exposed data types, after revision `seq`."""

    seq: int
    figures: dict[str, str]
    data_types: frozenset[str]


def stale_reason(at_signing: RevisionFacts | None, now: RevisionFacts | None) -> str | None:
    """Why an approval no longer holds: a later revision changed a population's figure or the
    exposed data types. None while the facts it relied on still stand."""
    if now is None or (at_signing is not None and now.seq == at_signing.seq):
        return None
    if at_signing is None:
        return f"the first estimate (revision {now.seq}) was recorded after signing"
    reasons = []
    for label, figure in now.figures.items():
        before = at_signing.figures.get(label)
        if before is None:
            reasons.append(f"a new population, {label}: {figure}")
        elif before != figure:
            reasons.append(f"{label} changed from {before} to {figure}")
    added, removed = now.data_types - at_signing.data_types, at_signing.data_types - now.data_types
    if added:
        reasons.append(f"newly exposed data types: {', '.join(sorted(added))}")
    if removed:
        reasons.append(f"no longer listed as exposed: {', '.join(sorted(removed))}")
    if not reasons:
        return None
    return "; ".join(reasons) + f" (revision {now.seq})"


def missing_sign_offs(
    *, content_sha256: str, required_roles: Iterable[str], sign_offs: Sequence[SignOffView],
    different_people: Iterable[str] = (),
) -> list[str]:
    """Required roles whose latest decision on this exact text is not a standing approval. Among
    `different_people` roles, one person's approval counts for the first of them only (by time):
    the others stay missing until someone else approves."""
    latest: dict[str, SignOffView] = {}
    for item in sorted(sign_offs, key=lambda s: s.signed_at):
        if item.content_sha256 == content_sha256:
            latest[item.role] = item
    required = list(required_roles)
    standing = {role: latest[role] for role in required if role in latest
                and latest[role].decision == Decision.approve.value and latest[role].stale_reason is None}
    distinct, counted_signers = set(different_people), set()
    for role, view in sorted(standing.items(), key=lambda item: item[1].signed_at):
        if role not in distinct:
            continue
        if view.signer in counted_signers:
            del standing[role]
        else:
            counted_signers.add(view.signer)
    return [role for role in required if role not in standing]


def transition_problem(
    *,
    current: PhaseStatus,
    target: PhaseStatus,
    latest_version_number: int | None,
    missing_roles: list[str],
    audience: str,
    alignment_done: bool,
    stale_roles: Sequence[str] = (),
) -> str | None:
    """Why the move is refused, or None if it is allowed. `stale_roles`: missing roles whose
    approval of this text went stale (they re-confirm the same text; no new version needed)."""
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current])) or "nothing"
        return f"blocked: a phase that is {current.value} can move to {allowed}, not {target.value}"
    if target in (S.in_review, S.approved, S.sent) and latest_version_number is None:
        return f"blocked: there is no message draft to take to {target.value}"
    if target in (S.approved, S.sent) and missing_roles:
        stale = [r for r in missing_roles if r in stale_roles]
        never = [r for r in missing_roles if r not in stale_roles]
        parts = []
        if never:
            names = ", ".join(role_label(r) for r in never)
            parts.append(f"{names} {'has' if len(never) == 1 else 'have'} not approved version {latest_version_number}")
        if stale:
            names = ", ".join(role_label(r) for r in stale)
            parts.append(f"the approval{'s' if len(stale) > 1 else ''} of {names} went stale when the facts changed: "
                         f"{'it' if len(stale) == 1 else 'each'} must re-confirm version {latest_version_number}")
        return "blocked: " + "; ".join(parts)
    if target == S.sent and audience != "internal" and not alignment_done:
        return "blocked: no customer contact before internal alignment (Legal and PR agreeing one message) is done"
    return None


def role_label(role: str) -> str:
    return {"pr": "PR"}.get(role, role.capitalize())


# ---------------------------------------------------------------- word-level redline (issue 16)
_TOKENS = re.compile(r"\s+|\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)
SAME, REMOVED, ADDED = "same", "removed", "added"


def word_redline(old: str, new: str) -> list[tuple[str, str]]:
    """What changed from `old` to `new`, word by word, as a lawyer's redline reads it: a list of
    (kind, text) runs, kind SAME, REMOVED or ADDED, that spell `old` when the ADDED runs are left
    out and `new` when the REMOVED ones are. Whitespace and punctuation are words of their own, so
    a changed comma shows as a changed comma; a replaced word is its removal, then its addition."""
    before, after = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    runs: list[tuple[str, str]] = []

    def add(kind: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + text)
        else:
            runs.append((kind, text))

    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            add(SAME, before[a0:a1])
        else:
            add(REMOVED, before[a0:a1])
            add(ADDED, after[b0:b1])
    return runs


def redline_counts(runs: list[tuple[str, str]]) -> tuple[int, int]:
    """How many words were removed and added (whitespace and punctuation not counted)."""
    words = lambda text: len(re.findall(r"\w+", text))  # noqa: E731
    return (sum(words(t) for k, t in runs if k == REMOVED), sum(words(t) for k, t in runs if k == ADDED))
