"""`python -m breachdash users …`: the operator's way to manage accounts."""
import subprocess
import sys

from breachdash.auth.service import authenticate
from breachdash.db import make_engine


def _cli(url, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "breachdash", "--database-url", url, *args],
                          input=stdin, capture_output=True, text=True)


def test_users_add__password_from_stdin_then_sign_in_works(databases):
    url = databases.fresh_url("sqlite")
    result = _cli(url, "users", "add", "--email", "Dana@Corp.example", "--role", "legal", "--role", "pr",
                  "--password-stdin", stdin="a long enough password\n")
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    actor = authenticate(engine, email="dana@corp.example", password="a long enough password")
    assert {role.value for role in actor.roles} == {"legal", "pr"}
    engine.dispose()
    listing = _cli(url, "users", "list")
    assert "dana@corp.example" in listing.stdout and "Legal, PR" in listing.stdout


def test_users_add__duplicate_and_unknown_role_exit_2_with_a_message(databases):
    url = databases.fresh_url("sqlite")
    assert _cli(url, "users", "add", "--email", "a@corp.example", "--role", "pr", "--sso-only").returncode == 0
    duplicate = _cli(url, "users", "add", "--email", "A@corp.example", "--role", "pr", "--sso-only")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    unknown = _cli(url, "users", "add", "--email", "b@corp.example", "--role", "ceo", "--sso-only")
    assert unknown.returncode == 2 and "unknown role 'ceo'" in unknown.stderr
    assert "Traceback" not in duplicate.stderr + unknown.stderr


def test_users_set_password__replaces_the_old_one_and_short_ones_are_refused(databases):
    url = databases.fresh_url("sqlite")
    assert _cli(url, "users", "add", "--email", "kim@corp.example", "--role", "legal", "--password-stdin",
                stdin="first password 1\n").returncode == 0
    assert _cli(url, "users", "set-password", "--email", "kim@corp.example", "--password-stdin",
                stdin="second password 2\n").returncode == 0
    short = _cli(url, "users", "set-password", "--email", "kim@corp.example", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    engine = make_engine(url)
    assert authenticate(engine, email="kim@corp.example", password="first password 1") is None
    assert authenticate(engine, email="kim@corp.example", password="second password 2") is not None
    engine.dispose()
