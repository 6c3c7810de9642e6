"""The audit hash chain, as pure functions over plain values."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no spaces; datetimes as UTC ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
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


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str

    def __str__(self) -> str:
        return f"audit event #{self.event_id}: {self.problem}"


def first_break(rows: Iterable[Any]) -> ChainBreak | None:
    """Walk rows in id order; return the first row whose link or content does not check out."""
    expected_prev = GENESIS_HASH
    for row in rows:
        if row.prev_hash != expected_prev:
            return ChainBreak(
                row.id,
                "its previous-hash link does not match the event before it "
                "(an earlier event was removed or altered)",
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
    return None
