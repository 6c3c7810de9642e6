"""Hostile text end to end (issue #9, item 1).

Every free-text field a user can type into (INVENTORY, below) gets every payload (PAYLOADS) through
the real form in Chromium, signed in as a role that may use the form. After each submission, on
the page that shows the result, and again on every page where the text is displayed afterwards:

- nothing ran: the payloads set `window.__pwned` / `document.title`; no dialog opened;
- no request left 127.0.0.1 (the payloads point at http://evil.example/);
- no <img>/<a>/<script>/event-handler element from a payload is in the DOM;
- the layout held: no horizontal overflow, the sidebar and the page heading are visible;
- the outcome is one of: stored exactly as typed (and shown as literal text where the page shows
  it); refused by the widget's own length limit (Streamlit ignores input over `max_chars`: the
  field keeps its previous value and nothing of the payload is sent); or refused by the service
  with an error that names the field, shown on the page, with nothing written.

Several fields of one form take the same payload in one submission and count separately; one
signed-in page per role is reused. The pairs tried are counted and reported
("hostile text: field x payload pairs tried") and must equal len(INVENTORY) x len(PAYLOADS).
Screenshots: tests/artifacts/hostile-*.png.
"""
from __future__ import annotations

import ast
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in_journeys import TIMEOUT
from tests.figures import report

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


# --- The inventory: every free-text input in app.py and pages/*.py -------------------------------------
@dataclass(frozen=True)
class TextField:
    page: str      # file under pages/ (or app.py)
    label: str     # the widget's label as written in the source: the guard below matches call sites by it
    name: str      # unique name in this test's records
    roles: str     # who can type it
    limit: int | None  # the widget's max_chars (None: no widget limit; the service decides)
    error: str     # how the service's error names this field when it refuses the text


INVENTORY: tuple[TextField, ...] = (
    # Sign-in (signed-out visitors)
    TextField("sign_in.py", "Email", "sign-in email", "anyone signed out", 320, "Email or password"),
    TextField("sign_in.py", "Password", "sign-in password", "anyone signed out", 1024, "Email or password"),
    # Incident timeline
    TextField("timeline.py", "Show times in (IANA zone)", "timeline display zone", "every role", None, "time zone"),
    TextField("timeline.py", "Title", "entry title", "Architect, Legal", 300, "title"),
    TextField("timeline.py", "Factual detail", "entry detail", "Architect, Legal", 20_000, "detail"),
    TextField("timeline.py", "Systems involved (comma-separated)", "entry systems", "Architect, Legal", 10_000,
              "systems"),
    TextField("timeline.py", "Source / evidence reference", "entry source", "Architect, Legal", 500, "Source"),
    TextField("timeline.py", "Time zone", "entry time zone", "Architect, Legal", None, "When it happened"),
    TextField("timeline.py", "Title", "correction title", "Architect, Legal", 300, "title"),
    TextField("timeline.py", "Factual detail", "correction detail", "Architect, Legal", 20_000, "detail"),
    TextField("timeline.py", "Systems involved (comma-separated)", "correction systems", "Architect, Legal", 10_000,
              "systems"),
    TextField("timeline.py", "Source / evidence reference", "correction source", "Architect, Legal", 500,
              "Source"),
    TextField("timeline.py", "Time zone", "correction time zone", "Architect, Legal", None, "When it happened"),
    TextField("timeline.py", "Why the correction", "correction reason", "Architect, Legal", 2_000, "reason"),
    TextField("timeline.py", "Why it is retracted (required)", "retraction reason", "Architect, Legal", 2_000,
              "reason"),
    TextField("timeline.py", "Action", "remediation action", "Architect, Legal, Executive", 300, "action"),
    TextField("timeline.py", "Time zone", "milestone time zone", "Architect, Legal", None, "time"),
    # Scope & exposure
    TextField("scope.py", "Wording as published (optional)", "revision wording", "Architect", 300, "wording"),
    TextField("scope.py", "Method or source", "revision method", "Architect", 10_000, "method"),
    TextField("scope.py", "Public source address (optional)", "revision source address", "Architect", 2_000,
              "sources"),
    TextField("scope.py", "Sentence quoted from it (optional)", "revision source quote", "Architect", 4_000,
              "sources"),
    TextField("scope.py", "Population", "population label", "Architect", 100, "Name"),
    TextField("scope.py", "Key", "population key", "Architect", 40, "key"),
    TextField("scope.py", "Where they live (ISO 3166 codes, EU, EEA or ZZ, comma-separated)",
              "population jurisdictions", "Architect", 2_000, "jurisdictions"),
    TextField("scope.py", "Why the estimate changed", "revision reason", "Architect", 10_000, "reason"),
    TextField("scope.py", "Region", "revision region (table)", "Architect", 10, "region"),
    TextField("scope.py", "System", "revision system (table)", "Architect", 200, "system"),
    TextField("affected_import.py", "Why (shown in the history)", "import reason", "Architect", 10_000, "reason"),
    # Communications
    TextField("communications.py", "Contact line for the template", "template contact line", "PR, Legal", 500,
              "Contact line"),
    TextField("communications.py", "Subject", "message subject", "PR, Legal", 300, "subject"),
    TextField("communications.py", "Message", "message body", "PR, Legal", 200_000, "body"),
    TextField("communications.py", "Comment", "sign-off comment", "PR, Legal, Executive (required signers)", 10_000,
              "comment"),
    TextField("communications.py", "Name", "phase name", "PR, Legal", 200, "name"),
    TextField("communications.py", "Why change who must sign (shown to the second person)",
              "approver change reason", "PR, Legal", 2_000, "reason"),
    # Outreach
    TextField("outreach.py", "Pseudonymous customer id", "customer lookup id", "PR", 128, "Customer id"),
    TextField("outreach.py", "Region (ISO 3166, optional)", "outreach region", "PR", 10, "region"),
    TextField("outreach.py", "Segment (optional)", "outreach segment", "PR", 60, "segment"),
    TextField("outreach.py", "Note", "inquiry note (table)", "PR", 500, "note"),
    # Obligations
    TextField("obligations.py", "Time zone", "filing time zone", "Legal", None, "Filed on"),
    TextField("obligations.py", "Reference (portal receipt, case number)", "filing reference", "Legal", 300,
              "reference"),
    TextField("obligations.py", "Note", "filing note", "Legal", 20_000, "note"),
    TextField("obligations.py", "Why it does not apply (required for 'not applicable')", "not-applicable reason",
              "Legal", 5_000, "reason"),
    # Users & roles
    TextField("users.py", "Email", "new user email", "Admin", 320, "email"),
    TextField("users.py", "Name", "new user name", "Admin", 200, "Name"),
    TextField("users.py", "Password (leave empty for single sign-on only)", "new user password", "Admin", 1024,
              "password"),
    TextField("users.py", "New password (at least 10 characters)", "reset password", "Admin", 1024, "password"),
)
FIELDS = {field.name: field for field in INVENTORY}

MEGABYTE = "MEGA" + "W" * (2 ** 20 - 4)  # one unbroken 1 MiB token: the worst case for wrapping
PAYLOADS: dict[str, str] = {
    "script tag": "<script>window.__pwned='script';document.title='pwned'</script>",
    "event handlers": "\"><img src=http://evil.example/h.png onerror=\"window.__pwned='img'\">"
                      "<svg onload=\"window.__pwned='svg'\"></svg>",
    "javascript links": "<a href=\"javascript:window.__pwned='a'\">js-a</a> [js-md](javascript:window.__pwned='md')",
    "external markdown": "![px](http://evil.example/px.png) [ext](http://evil.example/) <http://evil.example/auto>",
    "entities and bidi": "&lt;b&gt;x&lt;/b&gt; &amp;amp; &#60;i&#62; zero\u200bwidth\u200c\u200d\ufeff "
                         "\u202egnp.exe\u202c \u2067rtl",
    "1 MB": MEGABYTE,
}
# Fields not tried with some payloads, and why. (None: every field gets every payload.)
EXCLUSIONS: dict[tuple[str, str], str] = {
    # The regions table's cells take at most 10 characters (every payload is cut to its first 10,
    # then refused as an unknown ISO 3166 code), and a second table edit in the same form could not
    # be driven reliably through the canvas grid; the systems table of the same form is tried.
    **{("revision region (table)", payload): "see above" for payload in PAYLOADS},
    # The demo has no inquiry days, so the note cell exists only on a new row whose required day
    # must be picked in the grid's date editor on the canvas; not driven here. (The note's limit,
    # 500 characters, is enforced by InquiryDayIn; its CSV import path has integration tests.)
    **{("inquiry note (table)", payload): "see above" for payload in PAYLOADS},
    # A password is hashed and never shown; the new-user password field gets every payload.
    **{("reset password", payload): "see above" for payload in PAYLOADS},
    # Stored only with a proposal to change who must sign, which this journey does not make (the roles
    # stay as they are); tests/e2e/test_trust_journeys.py drives a proposal in Chromium.
    **{("approver change reason", payload): "see above" for payload in PAYLOADS},
    # Codes and addresses only: the services refuse anything but a key pattern, region codes or an
    # http(s) address without spaces (unit tests cover the refusals); the free text beside them (the
    # population's label, the source's quote) gets every payload, with valid codes here.
    **{(field, payload): "see above" for payload in PAYLOADS
       for field in ("population key", "population jurisdictions", "revision source address")},
}

TRIED: list[tuple[str, str, str]] = []  # (field, payload, outcome)


# --- The guard: a new free-text input in pages/ must be added to INVENTORY ------------------------------
TEXT_WIDGETS = {"text_input", "text_area", "chat_input"}


def _text_inputs_in_source() -> set[tuple[str, str]]:
    """(page file, label) of every text_input / text_area / chat_input call, and of every TextColumn
    inside a data_editor call, in app.py, pages/*.py and the page parts in breachdash/ui/."""
    found: set[tuple[str, str]] = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "breachdash" / "ui").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        editors = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                   and isinstance(node.func, ast.Attribute) and node.func.attr == "data_editor"]
        in_editor = {id(sub) for editor in editors for sub in ast.walk(editor)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name in TEXT_WIDGETS or (name == "TextColumn" and id(node) in in_editor):
                label = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "label"), None)
                assert isinstance(label, ast.Constant), f"{path.name}:{node.lineno}: give the {name} a literal label"
                found.add((path.name, label.value))
    return found


def test_the_inventory_lists_every_free_text_input_in_the_pages():
    listed = {(field.page, field.label) for field in INVENTORY}
    in_source = _text_inputs_in_source()
    assert in_source - listed == set(), "free-text inputs missing from INVENTORY (add them, and try them below)"
    assert listed - in_source == set(), "INVENTORY lists inputs the pages no longer have"
    assert len(FIELDS) == len(INVENTORY), "field names must be unique"


# --- Checks ---------------------------------------------------------------------------------------------
_DOM_STATE = """() => {
  const hrefs = [];
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href') || a.getAttribute('xlink:href')
                 || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
    if (/evil\\.example|^\\s*javascript:/i.test(href)) hrefs.push(href + ' in ' + a.parentElement.outerHTML.slice(0, 300));
  }
  const handlers = [];
  for (const el of document.querySelectorAll('body *')) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name) && /pwned/.test(attr.value)) handlers.push(el.tagName + ' ' + attr.name);
    }
  }
  const heading = document.querySelector('section.stMain h1, [data-testid="stMain"] h1');
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const visible = el => !!el && el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().height > 0;
  return {
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    title: document.title,
    scrollWidth: document.documentElement.scrollWidth,
    width: window.innerWidth,
    evilImages: Array.from(document.querySelectorAll('img, image')).map(i => i.getAttribute('src') ||
                i.getAttribute('href') || i.getAttribute('xlink:href') || '').filter(s => /evil\\.example/.test(s)),
    badLinks: hrefs,
    scripts: Array.from(document.scripts).filter(s => /pwned/.test(s.textContent)).length,
    handlers,
    heading: visible(heading), sidebar: visible(sidebar),
  };
}"""


def _assert_clean(page, where: str, *, sidebar: bool = True) -> None:
    state = page.evaluate(_DOM_STATE)
    assert state["pwned"] is None and "pwned" not in state["title"], f"{where}: a payload ran: {state}"
    assert page.dialogs == [], f"{where}: a payload opened a dialog: {page.dialogs}"
    assert page.external_requests == [], f"{where}: requests left 127.0.0.1: {page.external_requests[:5]}"
    for key in ("evilImages", "badLinks", "handlers"):
        assert state[key] == [], f"{where}: payload markup in the DOM: {key} {state[key][:5]}"
    assert state["scripts"] == 0, f"{where}: a payload <script> is in the DOM"
    assert state["scrollWidth"] <= state["width"] + 4, (
        f"{where}: the page overflows sideways ({state['scrollWidth']} px in a {state['width']} px window)")
    if sidebar:  # the sign-in page has none
        assert state["sidebar"], f"{where}: the sidebar is gone"
    assert state["heading"], f"{where}: the page heading is gone"


def _watch_websocket(page) -> None:
    """Count the frames Streamlit's websocket sends (a submit, a widget change) and note when the
    server last sent one: a run has finished when the server has been quiet for a moment."""
    page.ws_sent, page.ws_last = 0, time.monotonic()

    def sent(_):
        page.ws_sent += 1

    def received(_):
        page.ws_last = time.monotonic()

    page.on("websocket", lambda ws: (ws.on("framesent", sent), ws.on("framereceived", received)))


def _idle(page, quiet: float = 0.25) -> None:
    deadline = time.monotonic() + TIMEOUT / 1000
    while time.monotonic() < deadline:
        page.wait_for_timeout(50)
        if time.monotonic() - page.ws_last >= quiet and page.evaluate(
                "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
                " === 'notRunning'"):
            return
    raise AssertionError("the app did not finish its run")


def _settled(page, action) -> None:
    """Do `action` (a click or key press that reruns the script) and wait until the runs it caused,
    including a run_action's st.rerun(), have finished."""
    before, started = page.ws_sent, time.monotonic()
    action()
    deadline = started + TIMEOUT / 1000
    while page.ws_sent == before or page.ws_last <= started:  # sent, and the server has answered
        assert time.monotonic() < deadline, "the action got no answer from the server"
        page.wait_for_timeout(20)
    _idle(page)


def _alerts(page, kind: str) -> str:
    return "\n".join(page.locator(f'[data-testid="stAlertContent{kind}"]').all_inner_texts())


def _db_texts(database_url: str) -> list[str]:
    """Every text value in the database (the demo database is small)."""
    connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    values = []
    try:
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                values += [v for (v,) in connection.execute(f'SELECT "{column}" FROM "{table}"') if isinstance(v, str)]
    finally:
        connection.close()
    return values


def _stored(database_url: str, text: str) -> bool:
    """Whether `text` is in the database exactly as typed (or as JSON text, for list columns)."""
    import json

    encoded = json.dumps(text)[1:-1]
    return any(text in value or encoded in value for value in _db_texts(database_url))


class Journey:
    """One signed-in page for a role; fills fields, submits, checks, and records each pair tried."""

    def __init__(self, page, server, artifacts, role: str):
        self.page, self.server, self.artifacts, self.role = page, server, artifacts, role
        self.sidebar = role != "visitor"
        page.dialogs = []
        _watch_websocket(page)
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))

    def sign_in(self, email: str, password: str, heading: str = "Loyalty database breach") -> None:
        from tests.e2e.test_sign_in_journeys import _sign_in

        _sign_in(self.page, self.server.url, email, password)
        expect(self.page.get_by_role("heading", name=heading)).to_be_visible(timeout=TIMEOUT)

    def open(self, link: str, heading: str) -> None:
        page = self.page
        page.get_by_test_id("stSidebar").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=TIMEOUT)
        _idle(page)

    def fill(self, locator, payload: str) -> bool:
        """Type the payload; False when the widget refused it (over its max_chars)."""
        locator.fill(payload)
        return locator.input_value() == payload

    def submit(self, fields: dict[str, bool], payload_name: str, click, *, kept=None, shot: str | None = None,
               scope=None) -> None:
        """Submit a form whose `fields` (name -> the widget took the payload) all hold the payload,
        then check the page and record each field's outcome. `kept`: the fields the app stores as
        typed when it accepts them (default: all; a password is hashed, a search is not stored)."""
        page, payload = self.page, PAYLOADS[payload_name]
        kept = set(fields) if kept is None else set(kept)
        _settled(page, click)
        _assert_clean(page, f"{self.role}: {', '.join(fields)} × {payload_name}", sidebar=self.sidebar)
        errors = _alerts(scope if scope is not None else page, "Error")
        in_db = _stored(self.server.database_url, payload) if kept else False
        for name, taken in fields.items():
            field = FIELDS[name]
            if not taken:
                assert field.limit is not None and len(payload) > field.limit, (
                    f"{name} refused {payload_name} ({len(payload)} chars) below its limit")
                outcome = f"refused or cut by the widget (over {field.limit:,} characters)"
            elif field.error.lower() in errors.lower():  # the field in words, any case (issue 16)
                outcome = f"refused by the service: {field.error}"
            elif name in kept:
                assert not errors, f"{name} × {payload_name}: unexpected error {errors[:300]}"
                assert in_db, f"{name} × {payload_name}: saved without an error, but not stored as typed"
                outcome = "stored as typed"
            else:
                outcome = "used (not stored)"
            if payload_name == "1 MB":
                assert outcome != "stored as typed", f"{name}: a 1 MB text was written"
                assert "W" * 200 not in errors, f"{name}: the error repeats the 1 MB text"
            TRIED.append((name, payload_name, outcome))
        if shot or payload_name == "1 MB":
            self.screenshot(shot or "-".join(n.replace(" ", "_") for n in list(fields)[:2]), payload_name)

    def screenshot(self, what: str, payload_name: str) -> None:
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.role}-{what}-{payload_name}".lower()).strip("-")
        self.page.screenshot(path=str(self.artifacts / f"hostile-{slug}.png"), full_page=False)

    def table_shows(self, index: int, text: str) -> bool:
        """Search the page's `index`th dataframe with its own search box; whether a cell then shows
        `text` as typed."""
        table = self.page.get_by_test_id("stDataFrame").nth(index)
        table.scroll_into_view_if_needed()
        table.hover()
        table.get_by_role("button", name="Search").click()
        self.page.keyboard.type(text[:40])
        self.page.wait_for_timeout(400)
        found = table.evaluate("""(table, text) => Array.from(table.querySelectorAll('[role=gridcell]'))
            .some(cell => cell.textContent.includes(text))""", text)
        self.page.keyboard.press("Escape")
        return found

    def shows_literal(self, text: str) -> bool:
        """The text appears, as typed, in the page's text, a table cell, an input or an option."""
        return self.page.evaluate("""(text) => {
          // Markdown displays keep bare URLs as text with an invisible word joiner (display.escape_markdown).
          const plain = s => (s || '').replace(/[\\u2060\\u2068\\u2069]/g, '');
          if (plain(document.body.innerText).includes(text)) return true;
          for (const el of document.querySelectorAll('[role=gridcell], [role=option], input, textarea, pre, code')) {
            if (plain(el.value || el.textContent).includes(text)) return true;
          }
          return false;
        }""", text)


@pytest.fixture
def new_page(browser, demo_server):
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        contexts.append(context)
        page = context.new_page()
        page.external_requests = []
        page.on("request", lambda request: page.external_requests.append(request.url)
                if not request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)
        return page

    yield make
    for context in contexts:
        context.close()


LITERAL = {  # what must be visible, as typed, where a stored payload is shown
    "script tag": "<script>window.__pwned='script'",
    "event handlers": "<img src=http://evil.example/h.png",
    "javascript links": "[js-md](javascript:",
    "external markdown": "![px](http://evil.example/px.png)",
    "entities and bidi": "&lt;b&gt;x&lt;/b&gt;",
}


def _choose(page, combobox: str, option) -> None:
    """Pick an option of a Streamlit selectbox (option: its label, a regex, or its position)."""
    _settled(page, lambda: (page.get_by_role("combobox", name=combobox).click(),
                            (page.get_by_role("option").nth(option) if isinstance(option, int)
                             else page.get_by_role("option", name=option)).click()))


# --- The journeys: one signed-in page per role ------------------------------------------------------------
def test_sign_in_form(new_page, demo_server, artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "visitor")
    page = journey.page
    page.goto(demo_server.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT)
    for name, payload in PAYLOADS.items():
        taken = {"sign-in email": journey.fill(page.get_by_role("textbox", name="Email"), payload),
                 "sign-in password": journey.fill(page.get_by_role("textbox", name="Password"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Sign in").click(), kept=())
        assert "Email or password is not right" in _alerts(page, "Error")


def test_admin_adds_users(new_page, demo_server, artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "admin")
    page = journey.page
    journey.sign_in("admin@demo.example", "demo-admin-user")
    journey.open("Users & roles", "Users & roles")
    form = page.get_by_test_id("stForm").filter(has_text="Add a user")
    for index, (name, payload) in enumerate(PAYLOADS.items()):
        taken = {"new user email": journey.fill(form.get_by_label("Email"), payload)}
        form.get_by_label("Name").fill("x")
        journey.submit(taken, name, lambda: form.get_by_role("button", name="Add user").click())
        email = f"hostile{index}@test.example"
        assert journey.fill(form.get_by_label("Email"), email)
        roles = form.get_by_test_id("stMultiSelect")
        if "Executive" not in roles.inner_text():  # the form keeps its values after a save
            form.get_by_role("combobox", name="Roles").click()
            page.get_by_role("option", name="Executive").click()
            form.get_by_text("Add a user", exact=True).click()  # closes the list (Esc would stop the app's run)
        # The widgets hold both values before the submit (a submit that beat them sent them empty).
        expect(form.get_by_label("Email")).to_have_value(email, timeout=TIMEOUT)
        expect(roles).to_contain_text("Executive", timeout=TIMEOUT)
        expect(page.get_by_role("option", name="Legal")).to_have_count(0, timeout=TIMEOUT)  # the list is closed
        taken = {"new user name": journey.fill(form.get_by_label("Name"), payload),
                 "new user password": journey.fill(form.get_by_label("Password (leave empty for single sign-on only)"),
                                                   payload)}
        journey.submit(taken, name, lambda: form.get_by_role("button", name="Add user").click(),
                       kept={"new user name"}, shot="users")
        if name in LITERAL:
            assert journey.shows_literal(LITERAL[name]), f"the users table does not show {name} as typed"


def test_architect_timeline_forms(new_page, demo_server, artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "architect")
    page = journey.page
    journey.sign_in("architect@demo.example", "demo-architect")
    journey.open("Incident timeline", "Incident timeline")

    def tab(name):
        page.get_by_role("tab", name=name).click()

    def form(button):
        return page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name=button))

    def visible(label):  # the open tab's input (every tab's inputs are in the DOM)
        return page.get_by_label(label, exact=True).filter(visible=True).first

    for name, payload in PAYLOADS.items():
        tab("Add an entry")
        taken = {f"entry {part}": journey.fill(visible(label), payload)
                 for part, label in (("title", "Title"), ("detail", "Factual detail"),
                                     ("systems", "Systems involved (comma-separated)"),
                                     ("source", "Source / evidence reference"))}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Add entry").click(), shot="add-entry",
                       scope=form("Add entry"))
        tab("Add an entry")
        visible("Title").fill("time zone probe")
        zone = visible("Time zone").input_value()
        taken = {"entry time zone": journey.fill(visible("Time zone"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Add entry").click(),
                       scope=form("Add entry"))
        # A refused form keeps what was typed (issue 16): give the next entry its zone back.
        tab("Add an entry")
        visible("Time zone").fill(zone)

        tab("Correct an entry")
        taken = {f"correction {part}": journey.fill(visible(label), payload)
                 for part, label in (("title", "Title"), ("detail", "Factual detail"),
                                     ("systems", "Systems involved (comma-separated)"),
                                     ("source", "Source / evidence reference"))}
        taken["correction reason"] = journey.fill(page.get_by_label("Why the correction"), payload)
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Record correction").click(),
                       kept=set(taken) - {"correction reason"},  # the reason goes to the audit trail (as JSON)
                       scope=form("Record correction"))
        tab("Correct an entry")
        taken = {"correction time zone": journey.fill(visible("Time zone"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Record correction").click(),
                       scope=form("Record correction"))

        tab("Retract an entry")
        taken = {"retraction reason": journey.fill(page.get_by_label("Why it is retracted (required)"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Retract entry").click(),
                       scope=form("Retract entry"))

        tab("Set a milestone")
        taken = {"milestone time zone": journey.fill(visible("Time zone"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Set milestone").click(),
                       scope=form("Set milestone"))

        taken = {"remediation action": journey.fill(page.get_by_role("textbox", name="Action", exact=True), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Add action").click(),
                       scope=form("Add action"))

        box = page.get_by_label("Show times in (IANA zone)")
        taken = {"timeline display zone": journey.fill(box, payload)}
        journey.submit(taken, name, lambda: box.press("Enter"), kept=(), shot="display-zone")
        # The display zone stays as typed for the next round's forms (the page falls back to the
        # incident's zone); their errors are read inside each form.
    _assert_clean(page, "architect: timeline with every payload")
    journey.screenshot("timeline-after", "all")
    for name in ("script tag", "external markdown"):
        assert journey.table_shows(0, LITERAL[name]), f"the entries table does not show {name} as typed"


def test_architect_scope_forms(new_page, demo_server, artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "architect")
    page = journey.page
    journey.sign_in("architect@demo.example", "demo-architect")
    journey.open("Scope & exposure", "Scope & exposure")
    for index, (name, payload) in enumerate(PAYLOADS.items()):
        page.get_by_role("tab", name="Record a revision").click()
        taken = {"revision wording": journey.fill(page.get_by_label("Wording as published (optional)"), payload),
                 "revision method": journey.fill(page.get_by_label("Method or source"), payload),
                 "revision source quote": journey.fill(page.get_by_label("Sentence quoted from it (optional)"),
                                                       payload),
                 "revision reason": journey.fill(page.get_by_label("Why the estimate changed"), payload)}
        page.get_by_label("Public source address (optional)").fill(f"https://source.example/{index}")
        taken.update(_edit_cell(page, "rev_systems", payload, "revision system (table)"))
        revision = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Record revision"))
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Record revision").click(),
                       shot="revision", scope=revision)
        page.get_by_role("tab", name="Import customer file").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files({
            "name": f"affected-{index}.csv", "mimeType": "text/csv",
            "buffer": ('customer_id,region,segment,system,data_types\n'
                       f'cus_hostile{index:04d},US-CA,rewards,loyalty-db-02,name;email\n').encode()})
        taken = {"import reason": journey.fill(page.get_by_label("Why (shown in the history)"), payload)}
        journey.submit(taken, name, lambda: _import_and_record(page), scope=page.get_by_test_id("stMain"))
        page.get_by_role("tab", name="Populations").click()
        population = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Add population"))
        taken = {"population label": journey.fill(population.get_by_label("Population", exact=True), payload)}
        population.get_by_label("Key", exact=True).fill(f"hostile-{index}")
        population.get_by_label("Where they live (ISO 3166 codes, EU, EEA or ZZ, comma-separated)").fill("GB")
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Add population").click(),
                       scope=population)
    page.get_by_role("tab", name="History").click()
    _assert_clean(page, "architect: scope with every payload")
    journey.screenshot("scope-after", "all")


def _import_and_record(page) -> None:
    """Check the uploaded file, then confirm the revision in the dialog that says what it changes."""
    page.get_by_role("button", name="Import", exact=True).click()
    record = page.get_by_test_id("stDialog").get_by_role("button", name="Record this revision")
    expect(record).to_be_visible(timeout=TIMEOUT)
    record.click()
    expect(page.get_by_test_id("stDialog")).to_have_count(0, timeout=TIMEOUT)


def _edit_cell(page, key: str, payload: str, field: str, column: int = 0) -> dict[str, bool]:
    """Type the payload into the first row's cell of a data editor's `column` (a text column): select
    the first cell, move right, press Enter for the editor."""
    grid = page.locator(f".st-key-{key}").get_by_test_id("stDataFrame").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 70, box["y"] + 35 + 17)  # past the row-marker column
    page.wait_for_timeout(150)
    for _ in range(column):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(150)
    editor = page.locator("textarea.gdg-input, input.gdg-input").first
    page.keyboard.press("Enter")
    if not editor.is_visible():
        page.mouse.dblclick(box["x"] + 70, box["y"] + 35 + 17) if column == 0 else page.keyboard.type("x")
    try:
        expect(editor).to_be_visible(timeout=3_000)
    except AssertionError:
        page.screenshot(path=str(ROOT / "tests" / "artifacts" / f"hostile-editor-failure-{key}.png"))
        raise
    editor.fill(payload)
    took = editor.input_value() == payload
    editor.press("Enter")
    return {field: took}


def test_pr_communications_and_outreach_forms(new_page, demo_server, artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "pr")
    page = journey.page
    journey.sign_in("pr@demo.example", "demo-pr-lead")
    journey.open("Communications", "Communications")
    _choose(page, "Phase", re.compile(r"^3\. "))  # Detailed follow-up: PR drafts and signs it
    for name, payload in PAYLOADS.items():
        page.get_by_role("tab", name="Draft").click()
        taken = {"template contact line": journey.fill(page.get_by_label("Contact line for the template"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Use template").click(), kept=())
        taken = {"message subject": journey.fill(page.get_by_label("Subject", exact=True), payload),
                 "message body": journey.fill(page.get_by_label("Message", exact=True), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Save as new version").click(),
                       shot="draft")
        if name in LITERAL:
            page.get_by_role("tab", name="Versions").click()
            assert journey.shows_literal(LITERAL[name]), f"the versions tab does not show {name} as typed"
        page.get_by_role("tab", name="Sign-offs").click()
        taken = {"sign-off comment": journey.fill(page.get_by_label("Comment", exact=True), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name=re.compile("^Sign version")).click())
        page.get_by_role("tab", name="Status & sending").click()
        if not page.get_by_label("Name", exact=True).is_visible():
            page.get_by_text("Edit this phase of the plan").click()
        taken = {"phase name": journey.fill(page.get_by_label("Name", exact=True), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Save plan").click(), shot="plan")
        if taken["phase name"] and name in LITERAL:  # the flash quotes the name, through escape_markdown
            assert journey.shows_literal(LITERAL[name]), f"the saved-plan message does not show {name} as typed"

    journey.open("Outreach", "Outreach")
    _choose(page, "Phase", 2)  # the phase renamed above: its name is in captions and chart titles
    for name, payload in PAYLOADS.items():
        page.get_by_role("tab", name="Customer lookup").click()
        taken = {"customer lookup id": journey.fill(page.get_by_label("Pseudonymous customer id"), payload)}
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Look up").click(), kept=())
        page.get_by_role("tab", name="Import & entry").click()
        taken = {"outreach region": journey.fill(page.get_by_label("Region (ISO 3166, optional)"), payload),
                 "outreach segment": journey.fill(page.get_by_label("Segment (optional)"), payload)}
        page.get_by_label("Targeted").fill("1")
        journey.submit(taken, name, lambda: page.get_by_role("button", name="Save counts").click())
    page.get_by_role("tab", name="Funnel & progress").click()
    _assert_clean(page, "pr: outreach with every payload")
    journey.screenshot("outreach-after", "all")


def test_legal_obligation_forms(new_page, demo_server, artifacts):
    journey = Journey(new_page(), demo_server, artifacts, "legal")
    page = journey.page
    journey.sign_in("legal@demo.example", "demo-legal-counsel")
    journey.open("Obligations", "Obligations")
    filing = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Record filing"))
    status = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Save status"))
    for name, payload in PAYLOADS.items():
        taken = {"filing reference": journey.fill(filing.get_by_label("Reference (portal receipt, case number)"),
                                                  payload),
                 "filing note": journey.fill(filing.get_by_label("Note"), payload)}
        journey.submit(taken, name, lambda: filing.get_by_role("button", name="Record filing").click(),
                       scope=filing, shot="filing")
        zone = filing.get_by_label("Time zone")
        taken = {"filing time zone": journey.fill(zone, payload)}
        journey.submit(taken, name, lambda: filing.get_by_role("button", name="Record filing").click(), scope=filing)
        zone.fill("America/New_York")
        status.get_by_role("combobox", name="Status").click()  # inside a form: no run
        page.get_by_role("option", name="not applicable").click()
        taken = {"not-applicable reason": journey.fill(
            status.get_by_label("Why it does not apply (required for 'not applicable')"), payload)}
        journey.submit(taken, name, lambda: status.get_by_role("button", name="Save status").click(), scope=status)
        if taken["not-applicable reason"] and name in LITERAL:
            assert journey.shows_literal(LITERAL[name]), f"the obligation's reason does not show {name} as typed"


def test_every_page_shows_the_payloads_inertly(new_page, demo_server, artifacts):
    """After the journeys: each page, for a role that reads it, with every stored payload on it."""
    for email, password, pages in (
            ("ceo@demo.example", "demo-executive", [("Overview", None), ("Scope & exposure", "Scope & exposure"),
                                                   ("Incident timeline", "Incident timeline"),
                                                   ("Communications", "Communications"), ("Outreach", "Outreach"),
                                                   ("Obligations", "Obligations"), ("Audit trail", "Audit trail")]),
            ("admin@demo.example", "demo-admin-user", [("Users & roles", "Users & roles")])):
        journey = Journey(new_page(), demo_server, artifacts, email.split("@")[0])
        journey.sign_in(email, password)
        for link, heading in pages:
            if heading is not None:
                journey.open(link, heading)
            journey.page.wait_for_timeout(500)
            _assert_clean(journey.page, f"{email}: {link}")
            journey.page.screenshot(path=str(artifacts / f"hostile-sweep-{link.split()[0].lower()}.png"),
                                    full_page=True)


def test_every_field_met_every_payload():
    if not TRIED:
        pytest.skip("the journeys above did not run in this session")
    expected = len(INVENTORY) * len(PAYLOADS) - len(EXCLUSIONS)
    tried = {(field, payload) for field, payload, _ in TRIED}
    report("hostile text: field x payload pairs tried", len(tried))
    missing = {(f.name, p) for f in INVENTORY for p in PAYLOADS} - tried - set(EXCLUSIONS)
    assert not missing, f"pairs not tried (did a journey fail?): {sorted(missing)[:10]}"
    assert len(tried) == expected
