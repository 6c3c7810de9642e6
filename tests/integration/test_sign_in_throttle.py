"""Password guessing is slowed: five failures in fifteen minutes lock one address (any address,
account or not) until the oldest failure ages out; a success or a password reset clears them."""
from datetime import datetime, timedelta, timezone

import pytest

from breachdash.auth.rules import MAX_FAILED_SIGN_INS, SIGN_IN_WINDOW, sign_in_locked_until, system_actor
from breachdash.auth.service import add_user, authenticate, set_password
from breachdash.common import simulated_clock
from breachdash.errors import SignInLocked

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


def test_rule__locks_at_the_fifth_recent_failure_until_it_ages_out():
    minutes = [timedelta(minutes=m) for m in (1, 2, 3, 4)]
    assert sign_in_locked_until([NOW - m for m in minutes], NOW) is None
    failures = [NOW - m for m in (*minutes, timedelta(minutes=5))]
    assert sign_in_locked_until(failures, NOW) == NOW - timedelta(minutes=5) + SIGN_IN_WINDOW
    old = [NOW - SIGN_IN_WINDOW - timedelta(seconds=1)] * 10
    assert sign_in_locked_until(old + failures[:4], NOW) is None


def _fail(engine, email, times):
    for _ in range(times):
        assert authenticate(engine, email=email, password="wrong guess") is None


def test_account__locked_even_with_the_right_password_then_free_after_the_window(engine):
    add_user(engine, actor=system_actor(), user_in={"email": "pat@x.example", "password": PASSWORD, "roles": ["legal"]})
    with simulated_clock(NOW):
        _fail(engine, "Pat@X.example", MAX_FAILED_SIGN_INS)
        with pytest.raises(SignInLocked, match=r"Try again after 12:15 UTC"):
            authenticate(engine, email="pat@x.example", password=PASSWORD)
    with simulated_clock(NOW + SIGN_IN_WINDOW + timedelta(seconds=1)):
        assert authenticate(engine, email="pat@x.example", password=PASSWORD).email == "pat@x.example"


def test_unknown_address__locked_the_same_way(engine):
    with simulated_clock(NOW):
        _fail(engine, "nobody@x.example", MAX_FAILED_SIGN_INS)
        with pytest.raises(SignInLocked):
            authenticate(engine, email="nobody@x.example", password="anything at all")


def test_success_clears_earlier_failures_and_other_addresses_are_unaffected(engine):
    add_user(engine, actor=system_actor(), user_in={"email": "pat@x.example", "password": PASSWORD, "roles": ["legal"]})
    add_user(engine, actor=system_actor(), user_in={"email": "sam@x.example", "password": PASSWORD, "roles": ["pr"]})
    with simulated_clock(NOW):
        _fail(engine, "pat@x.example", MAX_FAILED_SIGN_INS - 1)
        assert authenticate(engine, email="pat@x.example", password=PASSWORD) is not None
        _fail(engine, "pat@x.example", MAX_FAILED_SIGN_INS - 1)
        assert authenticate(engine, email="pat@x.example", password=PASSWORD) is not None
        _fail(engine, "sam@x.example", MAX_FAILED_SIGN_INS)
        assert authenticate(engine, email="pat@x.example", password=PASSWORD) is not None


def test_password_reset_by_an_admin_unlocks(engine):
    add_user(engine, actor=system_actor(), user_in={"email": "pat@x.example", "password": PASSWORD, "roles": ["legal"]})
    with simulated_clock(NOW):
        _fail(engine, "pat@x.example", MAX_FAILED_SIGN_INS)
        set_password(engine, actor=system_actor(), email="pat@x.example", password="a brand new passphrase")
        assert authenticate(engine, email="pat@x.example", password="a brand new passphrase") is not None


class _CountingHasher:
    """The real hasher, counting the passwords it checks."""

    def __init__(self, real):
        self.real, self.checked, self.lock = real, 0, __import__("threading").Lock()

    def verify(self, stored, password):
        with self.lock:
            self.checked += 1
        return self.real.verify(stored, password)


def test_parallel_sign_ins_on_two_servers__at_most_five_passwords_checked(engine, monkeypatch):
    """Issue 19.4: twenty wrong attempts at once for one account, split over two servers' engines:
    the check and the record are one step under the write lock, so at most five passwords are
    checked and the rest are refused as locked (then the right password is refused too)."""
    import threading

    from breachdash import auth
    from breachdash.db import make_engine
    from tests.figures import report

    add_user(engine, actor=system_actor(), user_in={"email": "pat@x.example", "password": PASSWORD, "roles": ["legal"]})
    counter = _CountingHasher(auth.service._hasher)
    monkeypatch.setattr(auth.service, "_hasher", counter)
    servers = [engine, make_engine(engine.url.render_as_string(hide_password=False))]
    start, outcomes = threading.Barrier(20), []

    def attempt(index):
        start.wait()
        try:
            outcomes.append("signed in" if authenticate(servers[index % 2], email="pat@x.example",
                                                        password=f"wrong guess {index}") else "wrong")
        except SignInLocked:
            outcomes.append("locked")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    servers[1].dispose()
    checked = outcomes.count("wrong") + outcomes.count("signed in")
    assert len(outcomes) == 20
    assert counter.checked == checked <= MAX_FAILED_SIGN_INS, outcomes
    assert outcomes.count("locked") >= 20 - MAX_FAILED_SIGN_INS
    with pytest.raises(SignInLocked):
        authenticate(engine, email="pat@x.example", password=PASSWORD)
    report(f"parallel sign-in attempts made, two servers ({engine.dialect.name})", len(outcomes))
    report(f"parallel sign-in attempts whose password was checked ({engine.dialect.name})", checked)
