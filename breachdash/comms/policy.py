"""The approval policy (data/approval_policy.json) as pure rules: which roles must sign a phase,
which roles' sign-offs must come from different people, and what a change to a phase's
approvers may not do. Services enforce it; each rule returns a reason a person can read."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from breachdash.comms.rules import role_label
from breachdash.config import DATA_DIR

POLICY_FILE = "approval_policy.json"


@dataclass(frozen=True)
class PolicyRule:
    why: str
    required_roles: tuple[str, ...]
    audiences: frozenset[str] = frozenset()
    phase_keys: frozenset[str] = frozenset()

    def applies(self, *, key: str, audience: str) -> bool:
        return audience in self.audiences or key in self.phase_keys


@dataclass(frozen=True)
class ApprovalPolicy:
    rules: tuple[PolicyRule, ...]
    different_people: frozenset[str]

    @classmethod
    def from_dict(cls, data: dict) -> "ApprovalPolicy":
        rules = tuple(PolicyRule(why=r["why"], required_roles=tuple(r["required_roles"]),
                                 audiences=frozenset(r.get("audiences", ())),
                                 phase_keys=frozenset(r.get("phase_keys", ()))) for r in data["rules"])
        return cls(rules=rules, different_people=frozenset(data.get("different_people", ())))

    def required(self, *, key: str, audiences: Iterable[str]) -> dict[str, str]:
        """Role -> why the policy requires it, for a phase with this key and any of these audiences
        (an audience change is judged by both the old and the new audience)."""
        out: dict[str, str] = {}
        for audience in audiences:
            for rule in self.rules:
                if rule.applies(key=key, audience=audience):
                    for role in rule.required_roles:
                        out.setdefault(role, rule.why)
        return out

    def effective_roles(self, *, key: str, audience: str, stored: Iterable[str]) -> list[str]:
        """The roles that must sign: the plan's own, plus any the policy requires (an imported or
        older plan cannot weaken it)."""
        roles = list(dict.fromkeys(stored))
        return roles + [r for r in self.required(key=key, audiences=[audience]) if r not in roles]


def removal_problem(policy: ApprovalPolicy, *, key: str, name: str, audiences: Iterable[str],
                    new_roles: Iterable[str]) -> str | None:
    """Why a new list of approvers is refused: it leaves out a role the policy requires."""
    new = set(new_roles)
    dropped = {role: why for role, why in policy.required(key=key, audiences=audiences).items() if role not in new}
    if not dropped:
        return None
    names = " and ".join(role_label(r) for r in dropped)
    reasons = "; ".join(dict.fromkeys(dropped.values()))
    return (f"refused by the approval policy: {names} must sign {name} ({reasons}). Approvers can be added, "
            "but a role the policy requires cannot be removed, whoever asks.")


def second_signature_problem(policy: ApprovalPolicy, *, role: str, signer: str,
                             earlier: Iterable[tuple[str, str]]) -> str | None:
    """Why `signer` may not sign as `role` on a version they already signed (`earlier`: (signer,
    role) pairs on the same version) for another role that must come from a different person."""
    if role not in policy.different_people:
        return None
    other = next((r for s, r in earlier if s == signer and r != role and r in policy.different_people), None)
    if other is None:
        return None
    return (f"refused by the approval policy: {signer} already signed this version as {role_label(other)}; "
            f"{role_label(other)} and {role_label(role)} sign-offs must come from different people, "
            "even when one person holds both roles.")


def approver_change_problem(*, proposer: str, proposer_roles: Iterable[str], decider: str,
                            decider_roles: Iterable[str], deciding_roles: Iterable[str]) -> str | None:
    """The two-person rule: a change to who must sign is approved by someone else, who holds a
    role (among those that may decide) the proposer does not hold."""
    if decider == proposer:
        return ("refused by the two-person rule: a change to who must sign needs a second person; "
                "you proposed it, so someone else holding another role approves it.")
    other = (set(decider_roles) & set(deciding_roles)) - set(proposer_roles)
    if not other:
        held = ", ".join(role_label(r) for r in sorted(set(proposer_roles) & set(deciding_roles))) or "none"
        return (f"refused by the two-person rule: the approval must come from a person holding another role "
                f"than the proposer's ({held}).")
    return None


def load_policy(path: Path | None = None) -> ApprovalPolicy:
    return _load(str(path or DATA_DIR / POLICY_FILE))


@lru_cache(maxsize=4)
def _load(path: str) -> ApprovalPolicy:
    return ApprovalPolicy.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
