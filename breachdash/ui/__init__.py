"""The only part of breachdash that imports Streamlit: engine cache, identity, shared widgets.

Pages call `page_context()` first: it returns the engine, the signed-in actor and the selected
incident, or stops the page when there is no identity (the navigation already hides pages a
visitor may not open; this is the second lock on the same door).
"""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, TypeVar

import streamlit as st
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from breachdash.auth.rules import Actor
from breachdash.auth.service import actor_for_email, authenticate, demo_mode
from breachdash.auth.sessions import COOKIE_NAME, end_session, resume_session, start_session
from breachdash.config import AuthMode, load_session_settings, load_settings, outage_retry_seconds
from breachdash.display import column_label, escape_markdown, redline_html
from breachdash.db import check_database, current_revision, make_engine
from breachdash.errors import BreachdashError, DatabaseUnavailable, DatabaseUnreachable
from breachdash.incidents.models import Incident
from breachdash.ui.figure_cache import FigureCache

# Who is signed in with a local password in this browser session. AppTest sets it directly (with
# no session token): that path stays as it was, in memory only.
SIGNED_IN_KEY = "breachdash_signed_in_email"
# The session token behind SIGNED_IN_KEY (auth.sessions): checked against the database on every
# run, so sign-out elsewhere, expiry, idle timeout and an admin's change take effect at once.
SESSION_TOKEN_KEY = "breachdash_session_token"
_COOKIE_REFUSED_KEY = "breachdash_cookie_refused"
_in_app_frame: ContextVar[bool] = ContextVar("breachdash_in_app_frame", default=False)
_in_outage_guard: ContextVar[bool] = ContextVar("breachdash_in_outage_guard", default=False)
# Who app.py found signed in for this run (its sign-in check reads the database): the page
# reuses it instead of checking again a moment later. Unset outside the frame.
_NOT_GIVEN = object()
_frame_actor: ContextVar[object] = ContextVar("breachdash_frame_actor", default=_NOT_GIVEN)
INCIDENT_KEY = "breachdash_incident_id"
_log = logging.getLogger("breachdash")


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    check_database(engine)
    return engine


# Database URLs whose breachdash tables this server process has seen: the schema is checked once
# per process (a page run asks for the engine several times), not on every call.
_schema_seen: set[str] = set()


def get_engine() -> Engine:
    """The one engine for this server process, or a readable stop if the database is unusable.
    An unreachable database is not stopped here: it propagates to `outage_guard`, which says so in
    one line and retries. Whether the database holds breachdash tables is asked once per process."""
    url = load_settings().database_url
    try:
        engine = _engine_for(url)
        if url not in _schema_seen:
            if current_revision(engine) is None:
                raise DatabaseUnavailable("The database has no breachdash tables yet. Run: python -m breachdash migrate")
            _schema_seen.add(url)
        return engine
    except DatabaseUnreachable:
        raise
    except DatabaseUnavailable as exc:
        _schema_seen.discard(url)
        _engine_for.clear()
        st.error(escape_markdown(str(exc)), icon="🛑")
        st.stop()


def current_actor() -> Actor | None:
    """Who is signed in: OIDC identity (st.user) or a local account; None when signed out.
    An identity with no role grant comes back with no roles (it sees the no-access page).

    A local sign-in is a server-side session (auth.sessions): this browser session's token, or
    else the session cookie the browser sent when it connected (a reload, a bookmark, a new tab),
    is checked against the database on every run."""
    engine = get_engine()
    if load_settings().auth_mode == AuthMode.oidc:
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or "")
        if not email:
            return Actor(email="(no email from identity provider)")
        return actor_for_email(engine, email) or Actor(email=email)
    token = st.session_state.get(SESSION_TOKEN_KEY)
    if token:
        email = resume_session(engine, token=token)
        if email is None:  # signed out elsewhere, expired, idle, or ended by an admin's change
            _forget_sign_in(token)
            return None
        st.session_state[SIGNED_IN_KEY] = email
    else:
        email = st.session_state.get(SIGNED_IN_KEY) or _resume_from_cookie(engine)
    if not email:
        return None
    actor = actor_for_email(engine, email)
    if actor is None:  # deactivated or removed since sign-in
        _forget_sign_in(st.session_state.get(SESSION_TOKEN_KEY))
    return actor


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no browser connection (e.g. AppTest): no cookie
        return None
    return value if isinstance(value, str) and value else None


def _resume_from_cookie(engine: Engine) -> str | None:
    """The cookie sent with this browser session's connection, if it names a live session. A
    refused cookie is cleared in the browser and not looked up again in this browser session."""
    token = _cookie_token()
    if not token or token == st.session_state.get(_COOKIE_REFUSED_KEY):
        return None
    email = resume_session(engine, token=token)
    if email is None:
        st.session_state[_COOKIE_REFUSED_KEY] = token
        return None
    st.session_state[SESSION_TOKEN_KEY] = token
    st.session_state[SIGNED_IN_KEY] = email
    return email


def _forget_sign_in(token: str | None) -> None:
    for key in (SIGNED_IN_KEY, SESSION_TOKEN_KEY, INCIDENT_KEY):
        st.session_state.pop(key, None)
    if token:
        st.session_state[_COOKIE_REFUSED_KEY] = token


def sign_in_local(email: str, password: str) -> bool:
    """Sign in with a local password; False for a wrong one. Raises SignInLocked after too many.
    Starts a server-side session whose token the browser keeps in a cookie."""
    engine = get_engine()
    actor = authenticate(engine, email=email, password=password)
    if actor is None:
        return False
    token = start_session(engine, email=actor.email)
    st.session_state[SIGNED_IN_KEY] = actor.email
    st.session_state[SESSION_TOKEN_KEY] = token
    return True


def session_token() -> str | None:
    """This browser session's sign-in token (to keep it when an admin changes their own account)."""
    return st.session_state.get(SESSION_TOKEN_KEY)


def sign_out() -> None:
    if load_settings().auth_mode == AuthMode.oidc:
        st.logout()
    token = st.session_state.get(SESSION_TOKEN_KEY) or _cookie_token()
    if token:
        end_session(get_engine(), token=token)
    _forget_sign_in(token)


def write_session_cookie() -> None:
    """Bring the browser's session cookie in line with this browser session's sign-in. Call once
    per run, at the end of the page: it draws nothing.

    Streamlit has no API to set a cookie from a script, and the server under `streamlit run`
    offers no hook to add a Set-Cookie header, so a tiny script sets it in the page
    (docs/security.md says why that cannot be HttpOnly). The cookie holds only the random token;
    SameSite=Strict; Secure whenever the page is served over HTTPS; it lasts as long as the
    session may. The wanted state is derived on every run (not a one-off instruction), so a run
    interrupted by a click cannot lose it: the browser's cookie as sent when this browser session
    connected is compared with the session signed in now."""
    if load_settings().auth_mode == AuthMode.oidc:
        return
    wanted, sent = st.session_state.get(SESSION_TOKEN_KEY), _cookie_token()
    # Tokens are URL-safe base64 (letters, digits, '-' and '_'): nothing to escape.
    if wanted and wanted != sent:
        max_age = int(load_session_settings().max_age.total_seconds())
        script = (f"document.cookie = '{COOKIE_NAME}={wanted}; Path=/; Max-Age={max_age}; SameSite=Strict'"
                  " + (location.protocol === 'https:' ? '; Secure' : '');")
    elif not wanted and sent and all(c.isalnum() or c in "-_" for c in sent):
        # Only this cookie: another tab may have signed in meanwhile and set a new one.
        script = (f"if (document.cookie.split('; ').includes('{COOKIE_NAME}={sent}')) "
                  f"document.cookie = '{COOKIE_NAME}=; Path=/; Max-Age=0; SameSite=Strict';")
    else:
        return
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True, width=1)


# --- outages: any database error reads as an outage, in one line, and the page retries ---------

OUTAGE_MESSAGE = "The database is unreachable — retrying every {seconds:g} s"
_DATABASE_ERRORS = (SQLAlchemyError, DatabaseUnreachable)


class _OutageInFragment(BaseException):
    """A database error inside a live fragment drawn as part of a full run. Streamlit's fragment
    wrapper catches every `Exception` (logging a traceback and drawing an error box), so the
    error crosses it as a BaseException and `outage_guard` takes it like any other."""


@contextmanager
def outage_guard() -> Iterator[None]:
    """app.py runs everything inside this. A database error anywhere in the run (the engine, the
    sign-in check, the sidebar, the page) ends it with one line — nothing of the driver's text,
    no crash box — and a small fragment that checks the database every few seconds and reruns
    the page when it answers again. The driver's error goes to the server log only."""
    token = _in_outage_guard.set(True)
    try:
        yield
    except (*_DATABASE_ERRORS, _OutageInFragment) as exc:
        cause = exc.__cause__ if isinstance(exc, _OutageInFragment) else exc
        _log.warning("database error, page shows the outage message and retries: %s",
                     cause.__class__.__name__)
        _show_outage()
    finally:
        _in_outage_guard.reset(token)


def database_error_types() -> tuple[type[BaseException], ...]:
    return _DATABASE_ERRORS


def _show_outage() -> None:
    seconds = outage_retry_seconds()
    st.fragment(run_every=seconds)(_outage_notice)(seconds)


def _outage_notice(seconds: float) -> None:
    """Shown in place of the page. Each of its own reruns (not the page's) probes the database;
    when it answers, the whole page runs again."""
    if not _in_outage_guard.get() and _database_answers():
        st.rerun(scope="app")
    st.warning(OUTAGE_MESSAGE.format(seconds=seconds), icon="🔌")


def _database_answers() -> bool:
    try:
        engine = _engine_for(load_settings().database_url)
        check_database(engine)
        return current_revision(engine) is not None
    except (DatabaseUnavailable, SQLAlchemyError):
        return False


def live_fragment(*, run_every):
    """st.fragment(run_every=...) for live tiles, with outages handled: a database error in one
    of the fragment's own reruns hands over to a full run of the page, where `outage_guard`
    shows the one-line message and retries."""
    def decorate(body):
        @functools.wraps(body)
        def guarded(*args, **kwargs):
            try:
                return body(*args, **kwargs)
            except _DATABASE_ERRORS as exc:
                if _in_outage_guard.get():  # part of a full run: the guard takes it
                    raise _OutageInFragment() from exc
                st.rerun(scope="app")
        return st.fragment(run_every=run_every)(guarded)
    return decorate


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
def app_frame(actor: object = _NOT_GIVEN) -> Iterator[None]:
    """app.py runs the selected page inside this, so a page knows the frame (sign-in gate,
    role-aware navigation) ran first. `actor`: who the frame found signed in in this run
    (`current_actor()`), so the page does not read it again."""
    token = _in_app_frame.set(True)
    actor_token = _frame_actor.set(actor)
    try:
        yield
    finally:
        _frame_actor.reset(actor_token)
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
    framed = _frame_actor.get()
    actor = current_actor() if framed is _NOT_GIVEN else framed
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


INCIDENT_PARAM = "incident"  # the link's query parameter (?incident=slug)
INCIDENT_PICKER_KEY = "incident_selector"
_INCIDENT_SHOWN_KEY = "breachdash_incident_shown"


def incident_selector(engine: Engine, actor: Actor) -> None:
    """Sidebar picker, bound to the address: the chosen incident's slug is kept in the link
    (?incident=slug), so a reload, a bookmark or a link pasted to a colleague opens the same
    incident. The link decides on a browser session's first run; after that the picker does, and
    the link follows it. (Streamlit's own `bind="query-params"` would put the picker's label, which
    changes with the title, in the link instead of the slug.)"""
    from breachdash.incidents.service import list_incidents

    incidents = list_incidents(engine, actor=actor)
    if incidents.empty:
        st.sidebar.caption("No incidents recorded yet.")
        return
    slugs = incidents["slug"].tolist()
    ids = dict(zip(slugs, incidents["id"].tolist()))
    labels = {row.slug: f"{row.title} · {row.slug}" + (" (closed)" if row.status == "closed" else "")
              for row in incidents.itertuples()}
    # The incident chosen by other means since the last run (the Overview's "Open", a test) moves
    # the picker; otherwise the picker holds its value.
    chosen_elsewhere = next((slug for slug, id_ in ids.items() if id_ == st.session_state.get(INCIDENT_KEY)), None)
    if chosen_elsewhere and st.session_state.get(INCIDENT_KEY) != st.session_state.get(_INCIDENT_SHOWN_KEY):
        st.session_state[INCIDENT_PICKER_KEY] = chosen_elsewhere
    if st.session_state.get(INCIDENT_PICKER_KEY) not in ids:
        linked = st.query_params.get(INCIDENT_PARAM)
        st.session_state[INCIDENT_PICKER_KEY] = linked if linked in ids else slugs[0]
    chosen = st.sidebar.selectbox("Incident", slugs, format_func=labels.__getitem__, key=INCIDENT_PICKER_KEY)
    if st.query_params.get(INCIDENT_PARAM) != chosen:
        st.query_params[INCIDENT_PARAM] = chosen
    st.session_state[INCIDENT_KEY] = st.session_state[_INCIDENT_SHOWN_KEY] = int(ids[chosen])


def open_incident(incident_id: int) -> None:
    """Switch the whole app (and its link) to another incident: a button callback, run before the
    sidebar picker is drawn."""
    from breachdash.incidents.service import get_incident

    st.session_state[INCIDENT_PICKER_KEY] = get_incident(get_engine(), actor=current_actor(),
                                                         incident_id=incident_id).slug


# Built Plotly figures for this server process, keyed by their inputs (ui/figure_cache.py).
_FIGURES = FigureCache()


def chart(where, builder, *args, key: str, layout: dict | None = None, **kwargs) -> None:
    """Draw `builder(*args, **kwargs)` (a charts.py builder) with `layout` applied, in `where` (st
    or a column). The figure is built once per distinct input and kept (bounded) for every viewer:
    a page run that shows the same data draws it without building it again."""
    where.plotly_chart(_FIGURES.figure(builder, *args, layout=layout, **kwargs), key=key)


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
_Version = TypeVar("_Version")  # a version number, or a record's versions as shown (a dict)


def version_seen(key: str, current: _Version) -> _Version:
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


def clear_widgets(keys) -> None:
    """Forget what these widgets hold, so the next run draws them empty (their defaults). Forms
    use this instead of `clear_on_submit`: what was typed stays when a save is refused, and is
    cleared only once it is saved."""
    for key in keys:
        st.session_state.pop(key, None)


def run_action(action, success, *, clear=()) -> None:
    """Run a service call from a form: on success keep `success` (a message, or a function of the
    result giving one) for the rerun that shows the new data and empty the widgets keyed `clear`;
    on a refusal show why and stay, keeping everything the person typed."""
    try:
        result = action()
    except BreachdashError as exc:
        show_error(exc)
        return
    flash(success(result) if callable(success) else success)
    clear_widgets(clear)
    st.rerun()


def import_upload(upload, importer, success, *, clear=()) -> None:
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
    clear_widgets(clear)
    st.rerun()


def table(data, *, column_config: dict | None = None, container=None, **kwargs):
    """st.dataframe (in `container`, if given) with every header in words: columns without their own
    label in `column_config` get `display.column_label` (no snake_case a person has to read)."""
    config = dict(column_config or {})
    for name in getattr(data, "columns", []):
        if name not in config:
            config[name] = column_label(name)
    return (container or st).dataframe(data, column_config=config, **kwargs)


def redline(old_subject: str, old_body: str, new_subject: str, new_body: str) -> None:
    """Word-level redline between two message versions: struck-through removals, underlined
    additions; text escaped and drawn with st.html (never markdown), subject then body."""
    from breachdash.comms.rules import redline_counts, word_redline

    subject, body = word_redline(old_subject, new_subject), word_redline(old_body, new_body)
    removed, added = (a + b for a, b in zip(redline_counts(subject), redline_counts(body)))
    if removed == added == 0 and old_subject == new_subject and old_body == new_body:
        st.caption("The two versions are identical.")
        return
    st.caption(f"{removed:,} word{'s' if removed != 1 else ''} removed (struck through), {added:,} added "
               "(underlined).")
    st.html(f"<div><b>Subject:</b> {redline_html(subject)}</div>")
    st.html(redline_html(body))


def can(actor: Actor, action) -> bool:
    """Whether to offer a form: the same rule the service enforces (auth.rules.may)."""
    from breachdash.auth.rules import may

    return may(actor, action)


def show_error(exc: BreachdashError) -> None:
    """Service errors are written for users; show them as plain text (never as markup), one
    line per problem when there are several."""
    from breachdash.errors import InvalidInput

    if isinstance(exc, InvalidInput) and len(exc.lines()) > 1:
        lines = "\n".join(f"- {escape_markdown(line)}" for line in exc.lines())
        st.error(f"Please fix:\n{lines}", icon="⚠️")
    else:
        st.error(escape_markdown(str(exc)), icon="⚠️")
