"""Local sign-in sessions (auth.sessions) on SQLite and PostgreSQL: a token signs in until sign-out,
its lifetime or the idle timeout; only its SHA-256 is stored; an admin's password reset,
deactivation or role change ends the person's other sessions; two servers (two engines) share them."""
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from breachdash.auth.models import UserSession
from breachdash.auth.rules import system_actor
from breachdash.auth.service import (
    add_user,
    authenticate,
    deactivate_user,
    grant_role,
    reactivate_user,
    revoke_role,
    set_password,
)
from breachdash.auth.sessions import end_session, hash_token, resume_session, sessions_of, start_session
from breachdash.common import utcnow
from breachdash.config import SessionSettings
from breachdash.db import make_engine
from breachdash.errors import Conflict, StaleUpdate

SETTINGS = SessionSettings(max_age=timedelta(hours=12), idle_timeout=timedelta(minutes=30))
PAT, ADA = "pat@x.example", "ada@x.example"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def people(engine):
    for email, roles in ((PAT, ["pr"]), (ADA, ["admin"])):
        add_user(engine, actor=system_actor(), user_in={"email": email, "roles": roles, "password": PASSWORD})
    return engine


def _signed_in(engine, email=PAT, **kwargs):
    assert authenticate(engine, email=email, password=PASSWORD) is not None
    return start_session(engine, email=email, settings=SETTINGS, **kwargs)


def test_session__token_signs_in_and_only_its_hash_is_stored(people):
    token = _signed_in(people)
    assert resume_session(people, token=token, settings=SETTINGS) == PAT
    with Session(people) as session:
        stored = session.exec(select(UserSession.token_hash)).all()
    assert stored == [hash_token(token)] and token not in stored and len(token) >= 40


def test_session__unknown_or_mangled_token_gives_nothing(people):
    token = _signed_in(people)
    for other in ("", None, token + "x", token[:-1], "a" * 500, hash_token(token)):
        assert resume_session(people, token=other, settings=SETTINGS) is None


def test_session__signed_out_token_gives_nothing(people):
    token = _signed_in(people)
    end_session(people, token=token)
    assert resume_session(people, token=token, settings=SETTINGS) is None
    assert sessions_of(people, email=PAT) == 0


def test_session__expired_token_gives_nothing_and_is_removed(people):
    start = utcnow()
    token = _signed_in(people, now=start)
    later = start + SETTINGS.max_age
    # Kept busy all along (never idle), it still ends at its absolute lifetime.
    moment = start
    while moment < later - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        assert resume_session(people, token=token, settings=SETTINGS, now=moment) == PAT
    assert resume_session(people, token=token, settings=SETTINGS, now=later) is None
    assert sessions_of(people, email=PAT) == 0


def test_session__idle_timeout_ends_it_and_use_keeps_it_alive(people):
    start = utcnow()
    token = _signed_in(people, now=start)
    used = start + timedelta(minutes=29)
    assert resume_session(people, token=token, settings=SETTINGS, now=used) == PAT
    assert resume_session(people, token=token, settings=SETTINGS, now=used + timedelta(minutes=29)) == PAT
    idle = used + timedelta(minutes=29) + SETTINGS.idle_timeout
    assert resume_session(people, token=token, settings=SETTINGS, now=idle) is None
    assert resume_session(people, token=token, settings=SETTINGS, now=start) is None  # gone for good


def test_session__a_shorter_idle_setting_applies_to_sessions_already_open(people):
    start = utcnow()
    token = _signed_in(people, now=start)
    strict = SessionSettings(max_age=SETTINGS.max_age, idle_timeout=timedelta(minutes=5))
    assert resume_session(people, token=token, settings=strict, now=start + timedelta(minutes=6)) is None


def test_password_reset__ends_the_persons_other_sessions(people):
    first, second = _signed_in(people), _signed_in(people)
    other = _signed_in(people, email=ADA)
    set_password(people, actor=system_actor(), email=PAT, password="another long passphrase")
    assert resume_session(people, token=first, settings=SETTINGS) is None
    assert resume_session(people, token=second, settings=SETTINGS) is None
    assert resume_session(people, token=other, settings=SETTINGS) == ADA  # someone else's stays


def test_own_password_reset__keeps_the_session_that_made_it(people):
    from breachdash.auth.service import actor_for_email

    mine, elsewhere = _signed_in(people, email=ADA), _signed_in(people, email=ADA)
    set_password(people, actor=actor_for_email(people, ADA), email=ADA, password="another long passphrase",
                 keep_session=mine)
    assert resume_session(people, token=mine, settings=SETTINGS) == ADA
    assert resume_session(people, token=elsewhere, settings=SETTINGS) is None


def test_keep_session__only_for_ones_own_account(people):
    from breachdash.auth.service import actor_for_email

    pats = _signed_in(people)
    set_password(people, actor=actor_for_email(people, ADA), email=PAT, password="another long passphrase",
                 keep_session=pats)
    assert resume_session(people, token=pats, settings=SETTINGS) is None


@pytest.mark.parametrize("change", ["grant", "revoke", "deactivate"])
def test_role_change_or_deactivation__ends_the_persons_sessions(people, change):
    token = _signed_in(people)
    if change == "grant":
        grant_role(people, actor=system_actor(), email=PAT, role="legal")
    elif change == "revoke":
        grant_role(people, actor=system_actor(), email=PAT, role="legal")
        token = _signed_in(people)
        revoke_role(people, actor=system_actor(), email=PAT, role="legal")
    else:
        deactivate_user(people, actor=system_actor(), email=PAT)
        assert authenticate(people, email=PAT, password=PASSWORD) is None
    assert resume_session(people, token=token, settings=SETTINGS) is None


def test_deactivate__reactivate_and_refusals(people):
    from breachdash.auth.service import actor_for_email

    ada = actor_for_email(people, ADA)
    with pytest.raises(Conflict, match="your own account"):
        deactivate_user(people, actor=ada, email=ADA)
    deactivate_user(people, actor=ada, email=PAT, expected_version=1)
    with pytest.raises(Conflict, match="already deactivated"):
        deactivate_user(people, actor=ada, email=PAT)
    with pytest.raises(StaleUpdate, match=f"changed by {ADA}"):
        reactivate_user(people, actor=ada, email=PAT, expected_version=1)  # the page showed version 1
    reactivate_user(people, actor=ada, email=PAT, expected_version=2)
    assert authenticate(people, email=PAT, password=PASSWORD) is not None


@pytest.mark.parametrize("write", ["grant", "revoke", "set_password", "deactivate"])
def test_user_changes__refuse_a_stale_version(people, write):
    grant_role(people, actor=system_actor(), email=PAT, role="executive")  # now at version 2
    call = {
        "grant": lambda v: grant_role(people, actor=system_actor(), email=PAT, role="legal", expected_version=v),
        "revoke": lambda v: revoke_role(people, actor=system_actor(), email=PAT, role="executive", expected_version=v),
        "set_password": lambda v: set_password(people, actor=system_actor(), email=PAT, password="x" * 12,
                                               expected_version=v),
        "deactivate": lambda v: deactivate_user(people, actor=system_actor(), email=PAT, expected_version=v),
    }[write]
    with pytest.raises(StaleUpdate, match="changed by system@breachdash.local"):
        call(1)
    call(2)


def test_two_servers__a_session_from_one_is_valid_on_the_other_and_ends_on_both(people):
    other_server = make_engine(str(people.url.render_as_string(hide_password=False)))
    try:
        token = _signed_in(people)
        assert resume_session(other_server, token=token, settings=SETTINGS) == PAT
        end_session(other_server, token=token)
        assert resume_session(people, token=token, settings=SETTINGS) is None
        token = _signed_in(other_server)
        set_password(people, actor=system_actor(), email=PAT, password="another long passphrase")
        assert resume_session(other_server, token=token, settings=SETTINGS) is None
    finally:
        other_server.dispose()
