from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from breachdash.audit.rules import GENESIS_HASH, canonical_json, chain_hash, first_break


@dataclass(frozen=True)
class Row:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    incident_id: int | None
    before_json: str
    after_json: str
    prev_hash: str
    hash: str


def _chain(length: int) -> list[Row]:
    rows, prev = [], GENESIS_HASH
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for index in range(1, length + 1):
        fields = dict(occurred_at=start + timedelta(minutes=index), actor="a@x.example", action="thing.done",
                      entity_type="thing", entity_id=str(index), incident_id=1,
                      before_json=canonical_json(None), after_json=canonical_json({"n": index}))
        digest = chain_hash(prev_hash=prev, **fields)
        rows.append(Row(id=index, prev_hash=prev, hash=digest, **fields))
        prev = digest
    return rows


def test_first_break__intact_chain_has_none():
    assert first_break(_chain(5)) is None


def test_first_break__altered_content_names_that_row():
    rows = _chain(5)
    rows[2] = replace(rows[2], after_json='{"n":999}')
    broken = first_break(rows)
    assert broken.event_id == 3 and "altered" in broken.problem


def test_first_break__removed_row_breaks_the_next_link():
    rows = _chain(5)
    del rows[1]
    broken = first_break(rows)
    assert broken.event_id == 3 and "previous-hash" in broken.problem


def test_chain_hash__depends_on_previous_hash():
    row = _chain(1)[0]
    fields = dict(occurred_at=row.occurred_at, actor=row.actor, action=row.action, entity_type=row.entity_type,
                  entity_id=row.entity_id, incident_id=row.incident_id, before_json=row.before_json,
                  after_json=row.after_json)
    assert chain_hash(prev_hash=GENESIS_HASH, **fields) != chain_hash(prev_hash="1" * 64, **fields)


def test_canonical_json__is_order_independent_and_utc():
    local = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_json({"b": 1, "a": local}) == '{"a":"2026-03-29T01:30:00+00:00","b":1}'
