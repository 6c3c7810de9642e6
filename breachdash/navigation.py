"""The page registry: which pages exist and which roles see them. Pure; app.py renders it."""
from __future__ import annotations

from dataclasses import dataclass

from breachdash.auth.rules import Action, Actor, may


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    needs: Action | None = None  # None: every signed-in user with a role
    default: bool = False


# Emoji icons, not Material ones: those make the browser fetch a web font.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", "📊", "overview", default=True),
    PageSpec("pages/scope.py", "Scope & exposure", "🎯", "scope"),
    PageSpec("pages/timeline.py", "Incident timeline", "🕒", "timeline"),
    PageSpec("pages/communications.py", "Communications", "✉️", "communications"),
    PageSpec("pages/outreach.py", "Outreach", "📬", "outreach"),
    PageSpec("pages/obligations.py", "Obligations", "⚖️", "obligations"),
    PageSpec("pages/audit_trail.py", "Audit trail", "🧾", "audit", needs=Action.view_audit),
    PageSpec("pages/users.py", "Users & roles", "👥", "users", needs=Action.manage_users),
)
SIGN_IN_PAGE = PageSpec("pages/sign_in.py", "Sign in", "🔐", "sign-in", default=True)
NO_ACCESS_PAGE = PageSpec("pages/no_access.py", "No access", "⛔", "no-access", default=True)
ALL_PAGES = (*PAGES, SIGN_IN_PAGE, NO_ACCESS_PAGE)
ALL_PAGE_FILES = tuple(p.path for p in ALL_PAGES)


def pages_for(actor: Actor | None) -> list[PageSpec]:
    """What this visitor may open. Signed-out: only sign-in; no role: only the no-access page."""
    if actor is None:
        return [SIGN_IN_PAGE]
    if not actor.roles:
        return [NO_ACCESS_PAGE]
    return [page for page in PAGES if page.needs is None or may(actor, page.needs)]
