"""Services on SQLite and PostgreSQL: versions, users, audit chain, concurrency, database errors."""
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from breachdash.audit.service import verify_chain
from breachdash.auth.models import Role
from breachdash.auth.rules import system_actor
from breachdash.auth.service import add_user, authenticate, grant_role, revoke_role
from breachdash.common import utcnow
from breachdash.db import check_database, make_engine
from breachdash.errors import Conflict, DatabaseUnavailable, InvalidInput, StaleUpdate
from breachdash.incidents.service import create_incident, set_milestone, update_incident
from breachdash.scope.service import record_revision, revision_history
from breachdash.timeline.service import add_event, timeline_frame
from tests.conftest import actor_with


def _incident(engine, slug="inc-1"):
    return create_incident(engine, actor=system_actor(), incident_in={"slug": slug, "title": "T", "company": "C"})


def test_update_incident__stale_version_is_refused_naming_who_changed_it(engine):
    incident = _incident(engine)
    legal = actor_with(Role.legal, email="priya@x.example")
    update_incident(engine, actor=legal, incident_id=incident.id, expected_version=1, incident_in={"summary": "first"})
    with pytest.raises(StaleUpdate, match=r"changed by priya@x\.example at .* UTC — reload"):
        update_incident(engine, actor=actor_with(Role.executive), incident_id=incident.id, expected_version=1,
                        incident_in={"summary": "second"})


def test_update_incident__milestone_goes_on_the_timeline(engine):
    incident = _incident(engine)
    detected = utcnow() - timedelta(days=2)
    set_milestone(engine, actor=actor_with(Role.architect), incident_id=incident.id, milestone="detected_at",
                  at=detected, expected_version=1)
    events = timeline_frame(engine, actor=system_actor(), incident_id=incident.id)
    assert events.loc[events["title"] == "Breach detected", "occurred_at"].iloc[0] == detected


def test_create_incident__duplicate_slug_and_bad_slug_are_refused(engine):
    _incident(engine)
    with pytest.raises(Conflict, match="already exists"):
        _incident(engine)
    with pytest.raises(InvalidInput, match=r"Short name \(for links\): use lower-case"):
        _incident(engine, slug="Bad Slug!")


def test_add_event__future_time_is_refused(engine):
    incident = _incident(engine)
    with pytest.raises(InvalidInput, match="When it happened: is in the future"):
        add_event(engine, actor=actor_with(Role.architect), incident_id=incident.id,
                  event_in={"occurred_at": utcnow() + timedelta(hours=1), "kind": "other", "title": "x"})


def test_users__add_authenticate_and_wrong_password(engine):
    add_user(engine, actor=system_actor(), user_in={"email": "Pat@X.example", "password": "correct horse", "roles": ["legal"]})
    actor = authenticate(engine, email="pat@x.example", password="correct horse")
    assert actor.email == "pat@x.example" and actor.roles == frozenset({Role.legal})
    assert authenticate(engine, email="pat@x.example", password="wrong password") is None
    assert authenticate(engine, email="nobody@x.example", password="correct horse") is None


def test_users__duplicate_unknown_role_short_password_and_bad_email_are_refused(engine):
    add_user(engine, actor=system_actor(), user_in={"email": "a@x.example", "roles": ["pr"]})
    with pytest.raises(Conflict, match="already exists"):
        add_user(engine, actor=system_actor(), user_in={"email": "A@x.example", "roles": ["pr"]})
    with pytest.raises(InvalidInput, match="unknown role 'ceo'"):
        add_user(engine, actor=system_actor(), user_in={"email": "b@x.example", "roles": ["ceo"]})
    with pytest.raises(InvalidInput, match="Password: must be at least 10 characters"):
        add_user(engine, actor=system_actor(), user_in={"email": "c@x.example", "roles": ["pr"], "password": "short"})
    with pytest.raises(InvalidInput, match="Email: is not an email address"):
        add_user(engine, actor=system_actor(), user_in={"email": "not an email", "roles": ["pr"]})


def test_users__grant_and_revoke_are_audited(engine):
    add_user(engine, actor=system_actor(), user_in={"email": "a@x.example", "roles": ["pr"]})
    grant_role(engine, actor=system_actor(), email="a@x.example", role="legal")
    with pytest.raises(Conflict):
        grant_role(engine, actor=system_actor(), email="a@x.example", role="legal")
    revoke_role(engine, actor=system_actor(), email="a@x.example", role="pr")
    with engine.connect() as connection:
        actions = connection.execute(text("SELECT action FROM audit_events ORDER BY id")).scalars().all()
    assert actions == ["user.added", "user.role_granted", "user.role_revoked"]


def test_every_write_is_audited_in_its_transaction(engine):
    incident = _incident(engine)
    with pytest.raises(InvalidInput):
        record_revision(engine, actor=actor_with(Role.architect), incident_id=incident.id,
                        revision_in={"low": 5, "best": 2, "high": 3})
    record_revision(engine, actor=actor_with(Role.architect), incident_id=incident.id,
                    revision_in={"low": 1, "best": 2, "high": 3})
    with engine.connect() as connection:
        actions = connection.execute(text("SELECT action FROM audit_events ORDER BY id")).scalars().all()
    # Every scope revision re-decides the notification obligations in the same transaction.
    # The first revision of the default population creates it.
    assert actions == ["incident.created", "comms.plan_created", "obligations.recomputed", "scope.population_added",
                       "scope.revised", "obligations.recomputed"]


def test_verify_chain__catches_an_edited_audit_row(demo_engine):
    assert verify_chain(demo_engine).ok
    with demo_engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'mallory@x.example' WHERE id = 5"))
    result = verify_chain(demo_engine)
    assert not result.ok and result.broken.event_id == 5


def test_verify_chain__catches_a_removed_audit_row(demo_engine):
    with demo_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = 7"))
    result = verify_chain(demo_engine)
    assert not result.ok and result.broken.event_id == 8


def test_verify_audit_cli__exits_non_zero_and_names_the_broken_link(databases):
    url = databases.fresh_url("sqlite", demo=True)
    ok = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "verify-audit"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout and "Head: event #" in ok.stdout
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET after_json = '{}' WHERE id = 12"))
    engine.dispose()
    broken = subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, "verify-audit"],
                            capture_output=True, text=True)
    assert broken.returncode == 1 and "audit event #12" in broken.stderr


def test_concurrent_revisions_by_two_architects__both_kept_in_order(engine):
    incident = _incident(engine)
    errors = []

    def work(name):
        actor = actor_with(Role.architect, email=f"{name}@x.example")
        for n in range(8):
            try:
                record_revision(engine, actor=actor, incident_id=incident.id,
                                revision_in={"low": n, "best": n + 1, "high": n + 2, "reason": name})
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(name,)) for name in ("ana", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = revision_history(engine, actor=system_actor(), incident_id=incident.id)
    assert history["seq"].tolist() == list(range(1, 17))
    assert sorted(history["reason"].value_counts().tolist()) == [8, 8]
    assert verify_chain(engine).ok


def test_unreachable_database__readable_error(backend):
    url = ("postgresql+psycopg://postgres@127.0.0.1:1/nothing" if backend == "postgres"
           else "sqlite:////nonexistent-dir/sub/breachdash.db")
    with pytest.raises(DatabaseUnavailable, match="Cannot reach the database"):
        check_database(make_engine(url))


@pytest.mark.parametrize("url", ["not a url", "mysql+nosuchdriver://u@h/db", "postgresql+nosuch://u@h/db"])
def test_misconfigured_database_url__readable_error(url):
    with pytest.raises(DatabaseUnavailable):
        check_database(make_engine(url))


def test_cli__bad_database_url_gives_message_not_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "breachdash", "migrate"], capture_output=True, text=True,
                            env={"DATABASE_URL": "postgresql+psycopg://postgres:secret@127.0.0.1:1/x",
                                 "PATH": "/usr/bin:/bin", "BREACHDASH_SECRETS": str(tmp_path / "none.toml")})
    assert result.returncode == 3
    assert "Cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr


@pytest.mark.parametrize("revision, field", [
    ({"low": -1, "best": 2, "high": 3}, "low"),
    ({"low": 1, "best": 2.5, "high": 3}, "best"),
    ({"low": 1, "best": "2", "high": 3}, "best"),
    ({"low": 4, "best": 2, "high": 3}, "low"),
    ({"low": 1, "best": 2, "high": 3, "data_types": [{"data_type": "shoe_size", "count": 1}]},
     "data_types[0].data_type"),
    ({"low": 1, "best": 2, "high": 3, "regions": [{"region": "US-ZZ", "count": 1}]}, "regions[0].region"),
    ({"low": 1, "best": 2, "high": 3, "regions": [{"region": "DE", "count": 2}, {"region": "FR", "count": 2}]},
     "regions"),
])
def test_record_revision__bad_input_names_the_field_and_writes_nothing(engine, revision, field):
    incident = _incident(engine)
    with pytest.raises(InvalidInput) as caught:
        record_revision(engine, actor=actor_with(Role.architect), incident_id=incident.id, revision_in=revision)
    assert field in [location for location, _ in caught.value.problems]
    assert revision_history(engine, actor=system_actor(), incident_id=incident.id).empty


def test_record_revision__correction_says_what_it_corrects(engine):
    incident = _incident(engine)
    architect = actor_with(Role.architect)
    record_revision(engine, actor=architect, incident_id=incident.id, revision_in={"low": 1, "best": 2, "high": 3})
    record_revision(engine, actor=architect, incident_id=incident.id,
                    revision_in={"low": 1, "best": 1, "high": 3, "corrects_seq": 1, "reason": "double count"})
    with pytest.raises(InvalidInput, match="Revision it corrects"):
        record_revision(engine, actor=architect, incident_id=incident.id,
                        revision_in={"low": 1, "best": 1, "high": 3, "corrects_seq": 9})
    events = timeline_frame(engine, actor=system_actor(), incident_id=incident.id)
    assert events["title"].str.contains("corrects revision 1").any()
    history = revision_history(engine, actor=system_actor(), incident_id=incident.id)
    assert history["change"].tolist()[1] == -1


def test_outreach__delivery_milestones_go_on_the_timeline_once(engine):
    from breachdash.comms.service import phase_progress
    from breachdash.outreach.service import crossed_milestones, record_outreach

    assert crossed_milestones(0.48, 0.52) == [0.5] and crossed_milestones(0.0, 1.0) == [0.25, 0.5, 0.75, 1.0]
    incident = _incident(engine)
    phase_id = int(phase_progress(engine, actor=system_actor(), incident_id=incident.id)
                   .set_index("key").loc["initial_notice", "phase_id"])
    pr = actor_with(Role.pr)
    for delivered in (10, 30, 30, 60):
        record_outreach(engine, actor=pr, phase_id=phase_id, counts_in={
            "channel": "email", "region": "DE", "targeted": 100, "sent": 100, "delivered": delivered})
    titles = [t for t in timeline_frame(engine, actor=system_actor(), incident_id=incident.id)["title"]
              if t.startswith("Outreach milestone")]
    assert titles == ["Outreach milestone: Initial notice delivered to 25% of targeted (30 of 100)",
                      "Outreach milestone: Initial notice delivered to 50% of targeted (60 of 100)"]
    record_revision(engine, actor=actor_with(Role.architect), incident_id=incident.id,
                    revision_in={"low": 200, "best": 200, "high": 200})
    record_outreach(engine, actor=pr, phase_id=phase_id, counts_in={
        "channel": "email", "region": "FR", "targeted": 100, "sent": 100, "delivered": 100})
    last = timeline_frame(engine, actor=system_actor(), incident_id=incident.id)["title"].iloc[-1]
    assert last == "Outreach milestone: Initial notice delivered to 75% of affected customers (160 of 200)"
