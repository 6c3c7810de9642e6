"""Tamper evidence (issue 19.8): the keyed chain, a head kept elsewhere, and data rows checked
against the digest in their latest audit event — on SQLite and PostgreSQL.

Each attack is done the way someone with write access to the database (and not the audit key)
would do it: plain SQL, then `verify-audit` through the command line or verify_chain."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from breachdash.audit.models import AuditEvent
from breachdash.audit.rules import GENESIS_HASH, KEYED, UNKEYED, chain_hash, keyed_chain_hash
from breachdash.audit.service import rekey_audit, verify_chain
from breachdash.auth.rules import system_actor
from breachdash.comms.models import ChecklistItem
from breachdash.comms.service import set_checklist_item
from breachdash.config import load_audit_key
from breachdash.errors import AuditKeyMissing
from breachdash.db import downgrade, make_engine, migrate, read_session
from breachdash.demo import DEMO_SLUG
from breachdash.incidents.service import find_incident
from breachdash.scope.service import record_revision

ROOT = Path(__file__).resolve().parents[2]
WRONG_KEY = b"an attacker's guess at the key, 32+ characters long"


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "verify-audit", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def _sql(engine, statement: str, **params) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def _events(engine) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)).all())


def _rewrite_chain(engine, *, from_id: int, keyed_with: bytes | None, alg: str) -> None:
    """What an attacker without the key does after editing an event: recompute every hash from
    that event on (plain SHA-256, or HMAC with a guessed key), so each link matches again."""
    events = _events(engine)
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for event in events:
            if event.id < from_id:
                prev = event.hash
                continue
            fields = dict(prev_hash=prev, occurred_at=event.occurred_at, actor=event.actor, action=event.action,
                          entity_type=event.entity_type, entity_id=event.entity_id, incident_id=event.incident_id,
                          before_json=event.before_json, after_json=event.after_json)
            digest = (keyed_chain_hash(key=keyed_with, row_digests=event.row_digests, **fields) if keyed_with
                      else chain_hash(**fields))
            connection.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h, hash_alg = :a WHERE id = :i"),
                               {"p": prev, "h": digest, "a": alg, "i": event.id})
            prev = digest


def test_clean_demo__verifies_with_every_covered_row_checked_and_prints_its_head(databases, backend):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    result = verify_chain(engine)
    assert result.ok, result.problems
    assert result.unkeyed == 0 and result.keyed_from == 1 and result.head_alg == KEYED
    assert result.rows_checked["scope_revisions"] >= 5 and result.rows_checked["sign_offs"] >= 5
    assert result.development_key  # the tests run on the published development key
    engine.dispose()
    shown = _cli(url)
    assert shown.returncode == 0, shown.stderr
    assert f"Head: event #{result.head_id} hmac-sha256 {result.head_hash}" in shown.stdout
    assert "PUBLISHED DEVELOPMENT KEY" in shown.stdout and "Audit chain intact" in shown.stdout


def test_deleting_the_newest_event__caught_against_the_head_kept_elsewhere(databases, backend):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    kept = verify_chain(engine).head_hash
    _sql(engine, "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    result = verify_chain(engine, expect_head=kept)
    assert not result.ok and result.broken is None and result.expected_head_id is None
    assert any("not in the chain" in problem for problem in result.problems)
    engine.dispose()
    caught = _cli(url, "--expect-head", kept)
    assert caught.returncode == 1 and kept in caught.stderr and "not in the chain" in caught.stderr


def test_expect_head__an_older_head_is_fine_while_the_chain_grows(databases, backend):
    engine = make_engine(databases.fresh_url(backend, demo=True))
    kept = verify_chain(engine)
    incident = find_incident(engine, DEMO_SLUG)
    record_revision(engine, actor=system_actor(), incident_id=incident.id,
                    revision_in={"low": 1, "best": 2, "high": 3, "reason": "after the head was kept"})
    result = verify_chain(engine, expect_head=kept.head_hash)
    assert result.ok, result.problems
    assert result.expected_head_id == kept.head_id and result.head_id > kept.head_id
    engine.dispose()


@pytest.mark.parametrize("attack", ["sha256 under the keyed label", "relabelled unkeyed", "whole chain unkeyed",
                                    "wrong key"])
def test_editing_an_event_and_recomputing_the_chain__caught_without_the_key(databases, backend, attack):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    _sql(engine, "UPDATE audit_events SET actor = 'mallory@x.example' WHERE id = 12")
    if attack == "sha256 under the keyed label":
        _rewrite_chain(engine, from_id=12, keyed_with=None, alg=KEYED)
    elif attack == "relabelled unkeyed":
        _rewrite_chain(engine, from_id=12, keyed_with=None, alg=UNKEYED)
    elif attack == "whole chain unkeyed":
        _rewrite_chain(engine, from_id=1, keyed_with=None, alg=UNKEYED)
    else:
        _rewrite_chain(engine, from_id=12, keyed_with=WRONG_KEY, alg=KEYED)
    result = verify_chain(engine)
    assert not result.ok
    if attack == "whole chain unkeyed":
        # Every link checks as plain SHA-256, but nothing vouches for it: no keyed seal.
        assert result.broken is None and not result.sealed and "unkeyed" in result.problems[0]
    else:
        assert result.broken is not None and result.broken.event_id == 12, result.broken
    engine.dispose()
    caught = _cli(url)
    assert caught.returncode == 1 and "Traceback" not in caught.stderr


@pytest.mark.parametrize("statement, row", [
    ("UPDATE scope_revisions SET best = best + 1000 WHERE id = (SELECT max(id) FROM scope_revisions)",
     "scope_revisions"),
    ("UPDATE sign_offs SET decision = 'reject' WHERE id = (SELECT min(id) FROM sign_offs)", "sign_offs"),
])
def test_direct_update_of_a_data_row__caught_and_named(databases, backend, statement, row):
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    with engine.connect() as connection:
        target = connection.execute(text(statement.split("WHERE id = ")[1].strip("()"))).scalar_one()
    _sql(engine, statement)
    result = verify_chain(engine)
    assert not result.ok and result.broken is None
    assert [problem.row for problem in result.row_problems] == [f"{row}:{target}"]
    assert "differs from what audit event #" in result.row_problems[0].problem
    engine.dispose()
    caught = _cli(url)
    assert caught.returncode == 1 and f"{row} #{target}: its content differs" in caught.stderr


def test_direct_insert_and_delete__caught_and_named(databases, backend):
    engine = make_engine(databases.fresh_url(backend, demo=True))
    with engine.connect() as connection:
        newest_action = connection.execute(text("SELECT max(id) FROM remediation_actions")).scalar_one()
    _sql(engine, "INSERT INTO sign_offs (message_version_id, signer, role, decision, comment, content_sha256, "
                 "facts_revision_seq, signed_at) SELECT message_version_id, 'forger@x.example', role, 'approve', "
                 "comment, content_sha256, facts_revision_seq, signed_at FROM sign_offs "
                 "WHERE id = (SELECT min(id) FROM sign_offs)")
    _sql(engine, "DELETE FROM remediation_actions WHERE id = :i", i=newest_action)
    result = verify_chain(engine)
    problems = {problem.row: problem.problem for problem in result.row_problems}
    assert not result.ok and len(problems) == 2, problems
    forged = next(row for row in problems if row.startswith("sign_offs:"))
    assert "no audit event in the chain recorded this row" in problems[forged]
    assert "it is gone" in problems[f"remediation_actions:{newest_action}"]
    engine.dispose()


def test_later_versioned_updates__compared_with_their_latest_event_not_the_first(databases, backend):
    engine = make_engine(databases.fresh_url(backend, demo=True))
    with read_session(engine) as session:
        item = session.exec(select(ChecklistItem).order_by(ChecklistItem.id)).first()
    done = item.done_at is not None
    for _ in range(3):
        done = not done
        item = set_checklist_item(engine, actor=system_actor(), item_id=item.id, done=done,
                                  expected_version=item.version)
    assert verify_chain(engine).ok
    _sql(engine, "UPDATE checklist_items SET done_by = 'mallory@x.example' WHERE id = :i", i=item.id)
    result = verify_chain(engine)
    assert [problem.row for problem in result.row_problems] == [f"checklist_items:{item.id}"]
    engine.dispose()


def test_an_unkeyed_chain_from_before_the_key__sealed_then_keyed(databases, backend):
    """An older database: the chain is plain SHA-256. It verifies only once sealed (rekey-audit or
    the first write); after that an edit of the unkeyed prefix, even with the prefix recomputed, is
    caught, and every new event is keyed."""
    from alembic.script import ScriptDirectory

    from breachdash.backup import head_revision
    from breachdash.db import alembic_config

    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision()).down_revision
    url = databases.fresh_url(backend, demo=True)
    engine = make_engine(url)
    count = len(_events(engine))
    downgrade(engine, previous)  # re-hashes the verified keyed chain as plain SHA-256
    migrate(engine)
    legacy = verify_chain(engine)
    assert legacy.broken is None and legacy.unkeyed == count and not legacy.sealed and not legacy.ok
    assert _cli(url).returncode == 1

    seal = rekey_audit(engine)
    assert seal is not None and rekey_audit(engine) is None
    sealed = verify_chain(engine)
    assert sealed.ok, sealed.problems
    assert sealed.unkeyed == count and sealed.keyed_from == seal.id
    shown = _cli(url)
    assert shown.returncode == 0 and f"The first {count} events predate the audit key" in shown.stdout

    incident = find_incident(engine, DEMO_SLUG)
    record_revision(engine, actor=system_actor(), incident_id=incident.id,
                    revision_in={"low": 1, "best": 2, "high": 3, "reason": "after the seal"})
    assert verify_chain(engine).ok and _events(engine)[-1].hash_alg == KEYED

    # Editing an unkeyed event and recomputing the unkeyed prefix no longer matches the seal.
    _sql(engine, "UPDATE audit_events SET actor = 'mallory@x.example' WHERE id = 3")
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for event in _events(engine)[:count]:
            digest = chain_hash(prev_hash=prev, occurred_at=event.occurred_at, actor=event.actor,
                                action=event.action, entity_type=event.entity_type, entity_id=event.entity_id,
                                incident_id=event.incident_id, before_json=event.before_json,
                                after_json=event.after_json)
            connection.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :i"),
                               {"p": prev, "h": digest, "i": event.id})
            prev = digest
    result = verify_chain(engine)
    assert result.broken is not None and result.broken.event_id == seal.id
    engine.dispose()


def test_the_first_write_seals_an_unkeyed_chain_by_itself(databases, backend):
    from alembic.script import ScriptDirectory

    from breachdash.backup import head_revision
    from breachdash.db import alembic_config

    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision()).down_revision
    engine = make_engine(databases.fresh_url(backend, demo=True))
    downgrade(engine, previous)
    migrate(engine)
    incident = find_incident(engine, DEMO_SLUG)
    record_revision(engine, actor=system_actor(), incident_id=incident.id,
                    revision_in={"low": 1, "best": 2, "high": 3, "reason": "first keyed write"})
    result = verify_chain(engine)
    assert result.ok, result.problems
    assert [e.action for e in _events(engine)][result.keyed_from - 1] == "audit.keyed"
    engine.dispose()


def test_audit_key__required_unless_the_development_key_is_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("BREACHDASH_SECRETS", str(tmp_path / "none.toml"))
    monkeypatch.delenv("BREACHDASH_AUDIT_KEY", raising=False)
    monkeypatch.delenv("BREACHDASH_AUDIT_DEV_KEY", raising=False)
    with pytest.raises(AuditKeyMissing, match="BREACHDASH_AUDIT_KEY"):
        load_audit_key()
    monkeypatch.setenv("BREACHDASH_AUDIT_DEV_KEY", "1")
    assert load_audit_key().development
    monkeypatch.setenv("BREACHDASH_AUDIT_KEY", "too-short")
    with pytest.raises(AuditKeyMissing, match="at least 32"):
        load_audit_key()
    monkeypatch.delenv("BREACHDASH_AUDIT_KEY")
    (tmp_path / "secrets.toml").write_text('[audit]\nkey = "' + "k" * 40 + '"\n')
    monkeypatch.setenv("BREACHDASH_SECRETS", str(tmp_path / "secrets.toml"))
    key = load_audit_key()  # a configured key wins over the development switch
    assert not key.development and key.secret == b"k" * 40 and "secrets.toml" in key.source


def test_no_key__writes_refused_with_a_message_and_nothing_written(databases, monkeypatch, tmp_path):
    engine = make_engine(databases.fresh_url("sqlite", demo=True))
    before = len(_events(engine))
    monkeypatch.setenv("BREACHDASH_SECRETS", str(tmp_path / "none.toml"))
    monkeypatch.delenv("BREACHDASH_AUDIT_KEY", raising=False)
    monkeypatch.delenv("BREACHDASH_AUDIT_DEV_KEY", raising=False)
    incident = find_incident(engine, DEMO_SLUG)
    with pytest.raises(AuditKeyMissing):
        record_revision(engine, actor=system_actor(), incident_id=incident.id,
                        revision_in={"low": 1, "best": 2, "high": 3, "reason": "no key"})
    assert len(_events(engine)) == before
    result = verify_chain(engine)
    assert not result.ok and result.key_missing and "no audit key" in str(result.broken)
    engine.dispose()
