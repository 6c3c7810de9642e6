"""Issue 19.9, second half: an admin cannot hold both keys alone. Granting oneself a role whose
sign-offs the approval policy requires from different people (Legal, PR, Executive) is refused
and the attempt audited; another admin (or the command line) grants it. SQLite and PostgreSQL."""
import json

import pytest
from sqlmodel import Session, select

from breachdash.audit.models import AuditEvent
from breachdash.auth.models import Role, RoleGrant, User
from breachdash.auth.rules import system_actor
from breachdash.auth.service import actor_for_email, add_user, grant_role, revoke_role
from breachdash.comms.policy import load_policy
from breachdash.errors import PolicyRefused

ROOT = "root@x.example"
OTHER = "other-admin@x.example"


@pytest.fixture
def admins(engine):
    for email in (ROOT, OTHER):
        add_user(engine, actor=system_actor(), user_in={"email": email, "password": "a long passphrase",
                                                         "roles": ["admin"]})
    return engine


def _roles(engine, email):
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return sorted(session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user.id)).all()), user.version


def _audit(engine):
    with Session(engine) as session:
        return session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()


def test_the_roles_refused_are_the_policys_different_people():
    assert load_policy().different_people == {"legal", "pr", "executive"}


@pytest.mark.parametrize("role", ["legal", "pr", "executive"])
def test_an_admin_granting_themselves_a_sign_off_role__refused_audited_nothing_else_changes(admins, role):
    engine = admins
    me = actor_for_email(engine, ROOT)
    roles_before, version_before = _roles(engine, ROOT)
    events_before = len(_audit(engine))
    with pytest.raises(PolicyRefused, match=r"cannot grant yourself .*another admin grants it"):
        grant_role(engine, actor=me, email="  Root@X.example ", role=role)  # any spelling of one's own address
    assert _roles(engine, ROOT) == (roles_before, version_before)  # no grant, no version move, sessions kept
    events = _audit(engine)
    assert len(events) == events_before + 1
    assert (events[-1].action, events[-1].actor, events[-1].entity_id) == ("user.self_grant_refused", ROOT, ROOT)
    assert json.loads(events[-1].after_json) == {"refused_role": role}
    assert not any(Role(role) in a.roles for a in [actor_for_email(engine, ROOT)])


def test_another_admin_grants_it__then_the_different_people_rule_still_holds_at_sign_off(admins):
    engine = admins
    grant_role(engine, actor=actor_for_email(engine, OTHER), email=ROOT, role="legal")
    assert _roles(engine, ROOT)[0] == ["admin", "legal"]
    assert _audit(engine)[-1].action == "user.role_granted"
    # Holding Legal now, the admin still cannot add PR to themselves.
    with pytest.raises(PolicyRefused):
        grant_role(engine, actor=actor_for_email(engine, ROOT), email=ROOT, role="pr")


def test_the_command_line_and_other_roles_are_unaffected(admins):
    engine = admins
    grant_role(engine, actor=system_actor(), email=ROOT, role="pr")        # `users grant` on the server
    grant_role(engine, actor=actor_for_email(engine, ROOT), email=ROOT, role="architect")  # no sign-off role
    revoke_role(engine, actor=actor_for_email(engine, ROOT), email=ROOT, role="pr")   # giving up a key is fine
    grant_role(engine, actor=actor_for_email(engine, ROOT), email=OTHER, role="legal")  # someone else's grant
    assert _roles(engine, ROOT)[0] == ["admin", "architect"]
    assert _roles(engine, OTHER)[0] == ["admin", "legal"]
