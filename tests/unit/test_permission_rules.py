import pytest

from breachdash.auth.models import Role
from breachdash.auth.rules import PERMISSIONS, Action, Actor, may, parse_role, require, require_signed_in
from breachdash.errors import PermissionDenied
from breachdash.navigation import NO_ACCESS_PAGE, PAGES, SIGN_IN_PAGE, pages_for


def test_every_action_has_at_least_one_role():
    assert set(PERMISSIONS) == set(Action)
    assert all(PERMISSIONS[action] for action in Action)


def test_require__denial_names_the_action_and_the_roles_that_may():
    with pytest.raises(PermissionDenied, match="may not record a scope revision: that needs the role Architect"):
        require(Actor("pr@x.example", frozenset({Role.pr})), Action.revise_scope)


def test_require__signed_out_is_denied():
    with pytest.raises(PermissionDenied, match="Sign in"):
        require(None, Action.view_audit)
    with pytest.raises(PermissionDenied):
        require_signed_in(None)


def test_require_signed_in__identity_without_role_sees_nothing():
    with pytest.raises(PermissionDenied, match="no role"):
        require_signed_in(Actor("new@x.example"))


def test_may__any_held_role_suffices():
    both = Actor("two@x.example", frozenset({Role.pr, Role.architect}))
    assert may(both, Action.revise_scope) and may(both, Action.mark_sent)
    assert not may(both, Action.manage_users)


def test_parse_role__unknown_role_lists_the_known_ones():
    assert parse_role(" Legal ") is Role.legal
    with pytest.raises(ValueError, match="unknown role 'ceo'; known roles: executive, pr, legal"):
        parse_role("ceo")


def test_pages_for__signed_out_sees_only_sign_in_and_roleless_only_no_access():
    assert pages_for(None) == [SIGN_IN_PAGE]
    assert pages_for(Actor("x@x.example")) == [NO_ACCESS_PAGE]


@pytest.mark.parametrize("role", list(Role))
def test_pages_for__each_role_sees_overview_and_only_permitted_pages(role):
    actor = Actor("x@x.example", frozenset({role}))
    titles = {page.title for page in pages_for(actor)}
    assert "Overview" in titles
    for page in PAGES:
        assert (page.title in titles) == (page.needs is None or may(actor, page.needs))
