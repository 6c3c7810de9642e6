"""The only part of breachdash that imports Streamlit: engine cache, identity, shared widgets.

Pages call `page_context()` first: it returns the engine, the signed-in actor and the selected
incident, or stops the page when there is no identity (the navigation already hides pages a
visitor may not open; this is the second lock on the same door).
"""
from __future__ import annotations

from dataclasses import dataclass

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


def page_context(page_file: str, *, needs_incident: bool = True) -> PageContext:
    """Call first on every page with `__file__`. Streamlit can run a file in pages/ directly
    (its legacy multipage mode, e.g. on a server's first request), skipping app.py's
    navigation; so the page checks again here, through the same registry."""
    from pathlib import Path

    from breachdash.incidents.service import get_incident
    from breachdash.navigation import pages_for

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


def show_error(exc: BreachdashError) -> None:
    """Service errors are written for users; show them as plain text (never as markup)."""
    st.error(escape_markdown(str(exc)), icon="⚠️")
