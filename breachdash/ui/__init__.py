"""The only part of breachdash that imports Streamlit: engine cache, identity, shared widgets.

Pages call `page_context()` first: it returns the engine, the signed-in actor and the selected
incident, or stops the page when there is no identity (the navigation already hides pages a
visitor may not open; this is the second lock on the same door).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

import streamlit as st
from sqlalchemy.engine import Engine

from breachdash.auth.rules import Actor
from breachdash.auth.service import actor_for_email, authenticate, demo_mode
from breachdash.config import AuthMode, load_settings
from breachdash.display import escape_markdown
from breachdash.db import check_database, current_revision, make_engine
from breachdash.errors import BreachdashError, DatabaseUnavailable
from breachdash.incidents.models import Incident

SIGNED_IN_KEY = "breachdash_signed_in_email"
_in_app_frame: ContextVar[bool] = ContextVar("breachdash_in_app_frame", default=False)
INCIDENT_KEY = "breachdash_incident_id"


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    check_database(engine)
    return engine


def get_engine() -> Engine:
    """The one engine for this server process, or a readable stop if the database is unusable."""
    try:
        engine = _engine_for(load_settings().database_url)
        if current_revision(engine) is None:
            raise DatabaseUnavailable("The database has no breachdash tables yet. Run: python -m breachdash migrate")
        return engine
    except DatabaseUnavailable as exc:
        _engine_for.clear()
        st.error(escape_markdown(str(exc)), icon="🛑")
        st.stop()


def current_actor() -> Actor | None:
    """Who is signed in: OIDC identity (st.user) or a local account; None when signed out.
    An identity with no role grant comes back with no roles (it sees the no-access page)."""
    engine = get_engine()
    if load_settings().auth_mode == AuthMode.oidc:
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or "")
        if not email:
            return Actor(email="(no email from identity provider)")
        return actor_for_email(engine, email) or Actor(email=email)
    email = st.session_state.get(SIGNED_IN_KEY)
    if not email:
        return None
    actor = actor_for_email(engine, email)
    if actor is None:  # deactivated or removed since sign-in
        st.session_state.pop(SIGNED_IN_KEY, None)
    return actor


def sign_in_local(email: str, password: str) -> bool:
    """Sign in with a local password; False for a wrong one. Raises SignInLocked after too many."""
    actor = authenticate(get_engine(), email=email, password=password)
    if actor is None:
        return False
    st.session_state[SIGNED_IN_KEY] = actor.email
    return True


def sign_out() -> None:
    if load_settings().auth_mode == AuthMode.oidc:
        st.logout()
    for key in (SIGNED_IN_KEY, INCIDENT_KEY):
        st.session_state.pop(key, None)


def is_demo() -> bool:
    return demo_mode(get_engine())


def demo_banner() -> None:
    st.warning("**Demo database.** The incident, company and people here are fictional.", icon="🧪")


@dataclass(frozen=True)
class PageContext:
    engine: Engine
    actor: Actor
    incident: Incident | None


@contextmanager
def app_frame() -> Iterator[None]:
    """app.py runs the selected page inside this, so a page knows the frame (sign-in gate,
    role-aware navigation) ran first."""
    token = _in_app_frame.set(True)
    try:
        yield
    finally:
        _in_app_frame.reset(token)


def ensure_app_frame() -> None:
    # With a pages/ folder, Streamlit starts in its legacy multipage mode and keeps it until a
    # run calls st.navigation: a server's first request for /users would run pages/users.py
    # alone, without app.py's sign-in gate and role-aware navigation. Then run app.py here, in
    # this same run (so widget events are not lost); it calls st.navigation, which ends the
    # legacy mode, and runs the page this visitor may see. This script's own body must not run.
    if _in_app_frame.get():
        return
    import runpy

    from streamlit.runtime.pages_manager import PagesManager

    from breachdash.config import PROJECT_ROOT

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(PROJECT_ROOT / "app.py"), run_name="__main__")
        st.stop()
    # Run as a script of its own (`streamlit run pages/x.py`): there is no frame to defer to.
    st.info("breachdash pages open through the app: streamlit run app.py")
    st.stop()


def page_context(page_file: str, *, needs_incident: bool = True) -> PageContext:
    """Call first on every page with `__file__`: the page runs only inside the app frame, for
    a signed-in actor whose roles may open it (the same registry app.py navigates by)."""
    from pathlib import Path

    from breachdash.incidents.service import get_incident
    from breachdash.navigation import pages_for

    ensure_app_frame()
    engine = get_engine()
    actor = current_actor()
    if actor is None or not actor.roles:
        st.info("Sign in to see incident data.")
        st.stop()
    if Path(page_file).name not in {Path(spec.path).name for spec in pages_for(actor)}:
        st.info("This page is not available to your role.")
        st.stop()
    incident = None
    incident_id = st.session_state.get(INCIDENT_KEY)
    if incident_id is not None:
        try:
            incident = get_incident(engine, actor=actor, incident_id=incident_id)
        except BreachdashError:
            st.session_state.pop(INCIDENT_KEY, None)
    if needs_incident and incident is None:
        st.info("No incident selected. Choose one in the sidebar, or import one (python -m breachdash import-incident).")
        st.stop()
    return PageContext(engine=engine, actor=actor, incident=incident)


def incident_selector(engine: Engine, actor: Actor) -> None:
    """Sidebar picker; remembers the choice for this browser session."""
    from breachdash.incidents.service import list_incidents

    incidents = list_incidents(engine, actor=actor)
    if incidents.empty:
        st.sidebar.caption("No incidents recorded yet.")
        return
    ids = incidents["id"].tolist()
    labels = {row.id: f"{row.title} · {row.slug}" + (" (closed)" if row.status == "closed" else "")
              for row in incidents.itertuples()}
    current = st.session_state.get(INCIDENT_KEY)
    index = ids.index(current) if current in ids else 0
    chosen = st.sidebar.selectbox("Incident", ids, index=index, format_func=labels.__getitem__,
                                  key="incident_selector")
    st.session_state[INCIDENT_KEY] = chosen


def financial_callout(financial) -> None:
    """The first thing leadership asks: is financial data involved? (Our own wording and the
    catalogue's display names only.)"""
    from breachdash.display import escape_markdown

    details = "  \n".join(escape_markdown(line) for line in financial.lines)
    protected = " (all of it protected: see how it was held)" if financial.all_protected else ""
    if financial.state == "confirmed":
        st.error(f"**Financial data CONFIRMED exposed**{protected}  \n{details}", icon="💳")
    elif financial.state == "suspected":
        st.warning(f"**Financial data SUSPECTED** — forensics has not confirmed it{protected}  \n{details}", icon="💳")
    else:
        st.success("**No financial data found exposed** in the latest revision.", icon="💳")


_FLASH_KEY = "breachdash_flash"


def flash(message: str) -> None:
    """A success message that survives the rerun which shows the new data."""
    st.session_state[_FLASH_KEY] = message


def show_flash() -> None:
    # Always one element, so what follows keeps its place on the next run (tabs stay open).
    slot = st.empty()
    message = st.session_state.pop(_FLASH_KEY, None)
    if message:
        slot.success(escape_markdown(message), icon="✅")


_SEEN_KEY = "breachdash_versions_seen"


def version_seen(key: str, current: int) -> int:
    """The version of a record this browser session was shown on its previous run — the one a
    form or button used now was filled in against — and remember `current` for the next run.
    Pass it as `expected_version`: a record someone else changed meanwhile (in this server or in
    another one) is then refused with "changed by X — reload" instead of silently overwritten.
    The version read in the run that handles a submit cannot serve: that run already sees the
    other person's change. Call it on every run that shows the record, before its forms."""
    seen = st.session_state.setdefault(_SEEN_KEY, {})
    shown = seen.get(key, current)
    seen[key] = current
    return shown


def run_action(action, success) -> None:
    """Run a service call from a form: on success keep `success` (a message, or a function of the
    result giving one) for the rerun that shows the new data; on a refusal show why and stay."""
    try:
        result = action()
    except BreachdashError as exc:
        show_error(exc)
        return
    flash(success(result) if callable(success) else success)
    st.rerun()


def import_upload(upload, importer, success) -> None:
    """Run a file importer on an uploaded file with a progress bar. `importer(path, progress)`
    does the work; `success(result)` words the message kept for the rerun that shows the data."""
    from pathlib import Path

    from breachdash.importers.common import scratch_directory

    bar = st.progress(0.0, text="starting")
    # A scratch directory: if the server is killed mid-import, the next import removes the copy.
    with scratch_directory("upload") as workdir:
        name = Path(upload.name).name
        path = Path(workdir) / (name if name not in {"", ".", ".."} else "upload")
        path.write_bytes(upload.getbuffer())
        try:
            result = importer(path, lambda fraction, message: bar.progress(min(fraction, 1.0), text=message))
        except BreachdashError as exc:
            bar.empty()
            show_error(exc)
            return
    flash(success(result))
    st.rerun()


def can(actor: Actor, action) -> bool:
    """Whether to offer a form: the same rule the service enforces (auth.rules.may)."""
    from breachdash.auth.rules import may

    return may(actor, action)


def show_error(exc: BreachdashError) -> None:
    """Service errors are written for users; show them as plain text (never as markup), one
    line per problem when there are several."""
    from breachdash.errors import InvalidInput

    if isinstance(exc, InvalidInput) and len(exc.problems) > 1:
        lines = "\n".join(f"- {escape_markdown(f'{loc}: {msg}' if loc else msg)}" for loc, msg in exc.problems)
        st.error(f"Please fix:\n{lines}", icon="⚠️")
    else:
        st.error(escape_markdown(str(exc)), icon="⚠️")
