"""The audit hash chain, as pure functions over plain values.

Events written before the chain was keyed are plain SHA-256 ("sha256"); every event since is
HMAC-SHA256 with the audit key ("hmac-sha256"), so recomputing the chain after an edit needs the
key. The first keyed event after an unkeyed prefix is the seal (`audit.keyed`): it records how many
unkeyed events precede it and the last one's hash, so the prefix cannot be rewritten or extended
afterwards, and no unkeyed event may follow it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

GENESIS_HASH = "0" * 64
UNKEYED = "sha256"
KEYED = "hmac-sha256"
SEAL_ACTION = "audit.keyed"


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no spaces; datetimes as UTC ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def chain_hash(
    *,
    prev_hash: str,
    occurred_at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    incident_id: int | None,
    before_json: str,
    after_json: str,
) -> str:
    payload = canonical_json(
        {
            "prev": prev_hash,
            "at": occurred_at.astimezone(timezone.utc).isoformat(),
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "incident_id": incident_id,
            "before": before_json,
            "after": after_json,
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def keyed_chain_hash(
    *,
    key: bytes,
    prev_hash: str,
    occurred_at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    incident_id: int | None,
    before_json: str,
    after_json: str,
    row_digests: str,
) -> str:
    """HMAC-SHA256 over the same fields as chain_hash, plus the row digests."""
    payload = canonical_json(
        {
            "alg": KEYED,
            "prev": prev_hash,
            "at": occurred_at.astimezone(timezone.utc).isoformat(),
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "incident_id": incident_id,
            "before": before_json,
            "after": after_json,
            "rows": row_digests,
        }
    )
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def row_hash(*, key: str, row: Any, children: dict[str, list] | None = None) -> str:
    """SHA-256 of one row's content (a mapping of column -> value) and its child rows, with the
    row's table and id in it ("scope_revisions:12"), so a digest cannot stand for another row."""
    payload = canonical_json({"row": key, "columns": dict(row), "children": children or {}})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def seal_content(*, unkeyed_events: int, unkeyed_head_id: int | None, unkeyed_head: str) -> dict:
    """What the seal event's after_json says about the unkeyed prefix before it."""
    return {"unkeyed_events": unkeyed_events, "unkeyed_head_id": unkeyed_head_id, "unkeyed_head": unkeyed_head}


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str

    def __str__(self) -> str:
        return f"audit event #{self.event_id}: {self.problem}"


@dataclass
class ChainWalk:
    """What a walk of the chain learned besides the first break (filled in as it goes)."""

    checked: int = 0
    unkeyed: int = 0
    keyed_from: int | None = None  # id of the first keyed event (the seal, after an unkeyed prefix)
    head_id: int | None = None
    head_hash: str | None = None
    head_alg: str | None = None
    found_id: int | None = None  # the event whose hash is `look_for`, if any
    look_for: str | None = None
    # "table:id" -> (digest or None for deleted, id of the keyed event that recorded it)
    digests: dict[str, tuple[str | None, int]] = field(default_factory=dict)

    @property
    def sealed(self) -> bool:
        """No unkeyed event is left without a keyed seal after it."""
        return self.unkeyed == 0 or self.keyed_from is not None


def first_break(rows: Iterable[Any], *, key: bytes | None = None, walk: ChainWalk | None = None) -> ChainBreak | None:
    """Walk rows in id order; return the first row whose link or content does not check out.

    Unkeyed ("sha256") events are accepted only before the first keyed one, which must then be the
    seal naming exactly that prefix; keyed events need `key`. `walk`, when given, collects the
    counts, the head and the latest row digest per row (keyed events only)."""
    walk = walk if walk is not None else ChainWalk()
    expected_prev = GENESIS_HASH
    for row in rows:
        walk.checked += 1
        if row.prev_hash != expected_prev:
            return ChainBreak(
                row.id,
                "its previous-hash link does not match the event before it "
                "(an earlier event was removed or altered)",
            )
        alg = getattr(row, "hash_alg", UNKEYED)
        if alg == KEYED:
            broken = _check_keyed(row, key, walk)
            if broken is not None:
                return broken
            expected_prev = row.hash
            walk.head_id, walk.head_hash, walk.head_alg = row.id, row.hash, alg
            if row.hash == walk.look_for:
                walk.found_id = row.id
            continue
        if alg != UNKEYED:
            return ChainBreak(row.id, f"its hash algorithm {alg!r} is not one breachdash writes (the row was altered)")
        if walk.keyed_from is not None:
            return ChainBreak(
                row.id,
                f"it is unkeyed, but the chain is keyed from event #{walk.keyed_from} on (written without the key, "
                "or the keyed events from here on were rewritten)",
            )
        recomputed = chain_hash(
            prev_hash=row.prev_hash,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            incident_id=row.incident_id,
            before_json=row.before_json,
            after_json=row.after_json,
        )
        if recomputed != row.hash:
            return ChainBreak(row.id, "its content does not match its hash (the row was altered)")
        expected_prev = row.hash
        walk.unkeyed += 1
        walk.head_id, walk.head_hash, walk.head_alg = row.id, row.hash, alg
        if row.hash == walk.look_for:
            walk.found_id = row.id
    return None


def _check_keyed(row: Any, key: bytes | None, walk: ChainWalk) -> ChainBreak | None:
    if key is None:
        return ChainBreak(row.id, "it is keyed (HMAC-SHA256) and no audit key is configured to check it")
    recomputed = keyed_chain_hash(
        key=key,
        prev_hash=row.prev_hash,
        occurred_at=row.occurred_at,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        incident_id=row.incident_id,
        before_json=row.before_json,
        after_json=row.after_json,
        row_digests=row.row_digests,
    )
    if not hmac.compare_digest(recomputed, row.hash):
        return ChainBreak(row.id, "its content does not match its keyed hash (the row was altered, or the "
                                  "configured audit key is not the one it was written with)")
    if walk.keyed_from is None:
        walk.keyed_from = row.id
        if walk.unkeyed:
            expected = seal_content(unkeyed_events=walk.unkeyed, unkeyed_head_id=walk.head_id,
                                    unkeyed_head=walk.head_hash)
            if row.action != SEAL_ACTION or row.after_json != canonical_json(expected):
                return ChainBreak(row.id, f"it is the first keyed event but does not seal the {walk.unkeyed} "
                                          "unkeyed events before it (unkeyed events were added or removed)")
    elif row.action == SEAL_ACTION:
        return ChainBreak(row.id, f"it claims to seal an unkeyed prefix, but the chain was keyed from "
                                  f"event #{walk.keyed_from}")
    try:
        digests = json.loads(row.row_digests or "{}")
    except ValueError:
        return ChainBreak(row.id, "its row digests are not readable")
    for name, digest in digests.items():
        walk.digests[name] = (digest, row.id)
    return None


# ---------------------------------------------------------------- audit entries as sentences (issue 16)
# What each recorded action means, as the rest of a sentence whose subject is who did it. The
# dotted action code, the hash and the JSON stay one click away on the Audit trail page.
ACTION_WORDS = {
    "action.added": "added an action to track",
    "action.status_set": "updated an action's status",
    "comms.approvers_proposed": "proposed a change to a phase's approvers",
    "comms.approvers_approved": "approved a change to a phase's approvers",
    "comms.approvers_rejected": "rejected a change to a phase's approvers",
    "comms.approvers_withdrawn": "withdrew a proposed change to a phase's approvers",
    "comms.checklist_item_set": "ticked or cleared a checklist item",
    "comms.message_saved": "saved a new message version",
    "comms.phase_edited": "changed a communication phase",
    "comms.phase_moved": "reordered the communication phases",
    "comms.plan_created": "created the communication plan",
    "comms.sent": "marked a message as sent",
    "comms.signed_off": "signed off a message",
    "comms.sign_off_reconfirmed": "re-confirmed a sign-off after the facts changed",
    "incident.created": "opened the incident",
    "incident.imported": "imported the incident from a file",
    "incident.milestone_set": "set a milestone",
    "incident.updated": "changed the incident's details",
    "obligation.added": "added a notification obligation",
    "obligation.filed": "recorded a filing",
    "obligation.status_set": "set an obligation's tracking status",
    "obligations.recomputed": "recomputed the notification obligations",
    "outreach.inquiries_saved": "saved inquiry volumes",
    "outreach.recorded": "entered outreach counts",
    "outreach.report_imported": "imported a delivery report",
    "outreach.state_computed": "updated the customers' delivery states",
    "review.started": "started a review",
    "scope.file_imported": "recorded a scope revision from a file",
    "scope.population_added": "added an affected population",
    "scope.population_changed": "changed an affected population",
    "scope.revised": "recorded a scope revision",
    "timeline.event_added": "added a timeline entry",
    "timeline.event_corrected": "corrected a timeline entry",
    "timeline.event_retracted": "retracted a timeline entry",
    "user.added": "added a user",
    "user.deactivated": "deactivated a user",
    "user.password_set": "set a user's password",
    "user.reactivated": "reactivated a user",
    "user.role_granted": "granted a role",
    "user.role_revoked": "revoked a role",
    "user.self_grant_refused": "tried to grant themselves a role and was refused",
    SEAL_ACTION: "sealed the audit chain with the audit key",
}
# Detail worth naming, in the order tried: the first one the entry's after (or before) JSON holds.
_DETAIL_KEYS = (("title", "“{}”"), ("action", "“{}”"), ("label", "“{}”"), ("name", "“{}”"), ("email", "{}"),
                ("role", "role {}"), ("rule_id", "rule {}"), ("milestone", "{}"), ("status", "now {}"),
                ("number", "version {}"), ("seq", "revision {}"), ("file_name", "file {}"))
MAX_DETAIL_CHARS = 80


def action_words(action: str) -> str:
    """What an action code means ("comms.sent" -> "marked a message as sent"); an unknown code in
    words ("x.thing_done" -> "x: thing done")."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    domain, _, verb = action.partition(".")
    return f"{domain}: {verb.replace('_', ' ')}" if verb else action.replace("_", " ")


def describe_event(*, actor: str, action: str, before: Any = None, after: Any = None) -> str:
    """One audit entry as a sentence: "legal@x.example signed off a message (version 2)." The
    detail, if any, comes from the recorded values and is cut to a readable length."""
    detail = ""
    for values in (after, before):
        if not isinstance(values, dict):
            continue
        for key, shape in _DETAIL_KEYS:
            value = values.get(key)
            if value not in (None, "", [], {}) and not isinstance(value, (dict, list)):
                text = str(value)
                if len(text) > MAX_DETAIL_CHARS:
                    text = text[:MAX_DETAIL_CHARS - 1] + "…"
                detail = shape.format(text)
                break
        if detail:
            break
    return f"{actor} {action_words(action)}" + (f" ({detail})" if detail else "") + "."
