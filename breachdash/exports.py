"""Exports for Legal: the documented timeline (PDF, Markdown, CSV, JSON) and the obligations
register (CSV, PDF)."""
from __future__ import annotations

import csv
import io
import json
import re
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from breachdash.auth.rules import Actor, require_signed_in
from breachdash.common import spreadsheet_safe, utcnow
from breachdash.display import duration_text, local_time, moment
from breachdash.errors import InvalidInput
from breachdash.incidents.models import MILESTONE_NAMES
from breachdash.incidents.service import get_incident
from breachdash.scope.service import latest_systems, revision_history
from breachdash.timeline.rules import milestone_durations
from breachdash.timeline.service import milestone_precisions_as_known_at, milestones_as_known_at, timeline_frame

FORMATS = {"md": "text/markdown", "csv": "text/csv", "json": "application/json"}


@dataclass
class TimelineDocument:
    incident: object
    zone: str
    as_known_at: datetime | None
    produced_at: datetime
    produced_by: str
    milestones: dict
    precisions: dict  # milestone field -> precision (absent: exact)
    durations: list
    systems: list[str]
    events: pd.DataFrame
    history: pd.DataFrame


def timeline_document(engine: Engine, *, actor: Actor, incident_id: int, as_known_at: datetime | None = None,
                      zone: str | None = None) -> TimelineDocument:
    require_signed_in(actor)
    incident = get_incident(engine, actor=actor, incident_id=incident_id)
    milestones = milestones_as_known_at(engine, actor=actor, incident_id=incident_id, as_known_at=as_known_at)
    precisions = milestone_precisions_as_known_at(engine, actor=actor, incident_id=incident_id,
                                                  as_known_at=as_known_at)
    events = timeline_frame(engine, actor=actor, incident_id=incident_id, as_known_at=as_known_at)
    systems = set(latest_systems(engine, actor=actor, incident_id=incident_id)["system"]) if as_known_at is None else set()
    for value in events["systems"]:
        systems |= {s.strip() for s in value.split(",") if s.strip()}
    return TimelineDocument(
        incident=incident, zone=zone or incident.display_timezone, as_known_at=as_known_at, produced_at=utcnow(),
        produced_by=actor.email, milestones=milestones, precisions=precisions,
        durations=milestone_durations(milestones, precisions, zone or incident.display_timezone),
        systems=sorted(systems), events=events,
        history=revision_history(engine, actor=actor, incident_id=incident_id, as_known_at=as_known_at))


def _text(value: object) -> str:
    """A text cell: empty where the value is absent (pandas fills a text column holding Nones with
    NaN once any row has text, e.g. the reason of a retraction) — never "nan"."""
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _event_rows(doc: TimelineDocument) -> list[dict]:
    return [{
        "id": int(e.id), "happened": moment(e.occurred_at, _text(e.precision) or "exact", doc.zone),
        "precision": _text(e.precision),
        "kind": _text(e.kind), "title": _text(e.title), "detail": _text(e.detail), "systems": _text(e.systems),
        "source": _text(e.source_ref), "recorded": local_time(e.recorded_at, doc.zone),
        "recorded_by": _text(e.recorded_by), "state": _text(e.state),
        "supersedes": None if pd.isna(e.supersedes) else int(e.supersedes),
        "superseded_by": None if pd.isna(e.superseded_by) else int(e.superseded_by),
        "retraction_reason": _text(e.retraction_reason),
    } for e in doc.events.itertuples()]


def _state_text(row: dict) -> str:
    """'superseded by #12', 'correction (corrects #7)', 'retracted: reason' — for readers of the export."""
    state = row["state"]
    if row["superseded_by"]:
        state += f" by #{row['superseded_by']}"
    if row["supersedes"]:
        state += f" (corrects #{row['supersedes']})"
    if row["retraction_reason"]:
        state += f": {row['retraction_reason']}"
    return state


# Obligation recomputes write "Obligations after scope revision 7: 23 new: …" with every rule's
# reason as detail. In the PDF and Markdown chronology each becomes one short line; the rules are
# listed once in their own section (the CSV and JSON keep every entry whole).
_OBLIGATION_UPDATE = re.compile(r"^Obligations after (?P<cause>.+?): ")


@dataclass
class ObligationUpdate:
    id: int
    happened: str
    cause: str
    summary: str
    new: list[str]
    gone: list[str]


def obligation_update(row: dict) -> ObligationUpdate | None:
    """The automatic obligations entry in a row (None for any other entry)."""
    match = _OBLIGATION_UPDATE.match(row["title"])
    if match is None or row["kind"] != "legal" or row["state"] not in ("current", ""):
        return None
    new, gone = [], []
    for line in row["detail"].splitlines():
        rule = re.match(r"^(\S+?)( no longer applies)?: ", line)
        if rule:
            (gone if rule.group(2) else new).append(rule.group(1))
    # "23 new: A (regulator), B …; 2 no longer apply: C, D" -> "23 new; 2 no longer apply"
    summary = "; ".join(part.split(":")[0].strip() for part in row["title"][match.end():].split(";"))
    return ObligationUpdate(row["id"], row["happened"], match.group("cause"), summary, new, gone)


def chronology_rows(doc: TimelineDocument) -> tuple[list[dict], list[ObligationUpdate]]:
    """The entries for a reader (PDF, Markdown): automatic obligation entries shortened to one
    line each, and those entries' rule lists apart."""
    rows, updates = [], []
    for row in _event_rows(doc):
        update = obligation_update(row)
        if update is not None:
            updates.append(update)
            row = {**row, "title": f"Obligations after {update.cause}: {update.summary} (automatic; rules listed "
                                   "under 'Automatic obligation updates')", "detail": ""}
        rows.append(row)
    return rows, updates


def to_csv(doc: TimelineDocument) -> bytes:
    buffer = io.StringIO()
    rows = _event_rows(doc)
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id"])
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue().encode("utf-8")


def to_json(doc: TimelineDocument) -> bytes:
    payload = {
        "incident": {"slug": doc.incident.slug, "title": doc.incident.title, "company": doc.incident.company},
        "times_shown_in": doc.zone,
        "as_known_at": doc.as_known_at.isoformat() if doc.as_known_at else None,
        "produced_at": doc.produced_at.isoformat(), "produced_by": doc.produced_by,
        "systems_involved": doc.systems,
        "milestones": {MILESTONE_NAMES[k]: (v.isoformat() if v else None) for k, v in doc.milestones.items()},
        # A day or month is stored as its earliest moment in the incident's zone; "shown" says it as known.
        "milestone_precisions": {MILESTONE_NAMES[k]: doc.precisions.get(k, "exact")
                                 for k, v in doc.milestones.items() if v is not None},
        "milestones_shown": {MILESTONE_NAMES[k]: moment(v, doc.precisions.get(k, "exact"), doc.zone)
                             for k, v in doc.milestones.items() if v is not None},
        "durations": [{"name": d.name, "definition": d.definition,
                       "seconds": d.value.total_seconds() if d.value is not None else None, "flag": d.flag,
                       "approximate": d.approximate, "shown": duration_text(d)}
                      for d in doc.durations],
        "events": _event_rows(doc),
    }
    # allow_nan=False: strict JSON or an error, never a bare NaN token that parsers reject.
    return (json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")


def markdown_cell(text: object) -> str:
    """Table-cell text that Markdown renders literally: markup characters are escaped, and
    angle brackets become entities so no HTML survives."""
    value = str(text or "").replace("\\", "\\\\").replace("\r", " ").replace("\n", " ")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "|*_`[]()#!~":
        value = value.replace(char, "\\" + char)
    return value


def to_markdown(doc: TimelineDocument) -> bytes:
    from breachdash.config import export_marking

    marking = export_marking()
    lines = [f"# Incident timeline: {markdown_cell(doc.incident.title)}", ""] + ([f"**{markdown_cell(marking)}**", ""] if marking else []) + [
             f"{markdown_cell(doc.incident.company)} · times in {doc.zone}",
             f"Produced {local_time(doc.produced_at, doc.zone)} by {markdown_cell(doc.produced_by)}"
             + (f" · **as known at {local_time(doc.as_known_at, doc.zone)}**" if doc.as_known_at else ""), "",
             "## Systems involved", ""]
    lines += [f"- {markdown_cell(s)}" for s in doc.systems] or ["- none recorded"]
    lines += ["", "## Milestones", "", "| milestone | when |", "|---|---|"]
    lines += [f"| {MILESTONE_NAMES[k]} | {moment(v, doc.precisions.get(k, 'exact'), doc.zone)} |"
              for k, v in doc.milestones.items()]
    lines += ["", "## Durations", "", "| duration | value | definition |", "|---|---|---|"]
    lines += [f"| {d.name} | {duration_text(d)}{' ⚠ ' + d.flag if d.flag else ''} | {d.definition} |"
              for d in doc.durations]
    lines += ["", "## Events (in the order they happened)", "",
              "| # | happened | kind | what | systems | recorded | by | state |", "|---|---|---|---|---|---|---|---|"]
    rows, updates = chronology_rows(doc)
    for row in rows:
        state = _state_text(row)
        what = markdown_cell(row["title"]) + (f" — {markdown_cell(row['detail'])}" if row["detail"] else "")
        lines.append(f"| {row['id']} | {row['happened']} | {row['kind']} | {what} | {markdown_cell(row['systems'])} | "
                     f"{row['recorded']} | {markdown_cell(row['recorded_by'])} | {markdown_cell(state)} |")
    if updates:
        lines += ["", "## Automatic obligation updates", "",
                  "Written by breachdash when a revision or milestone changed which notification rules apply; "
                  "each rule's reason is in the obligations register and in the CSV and JSON exports.", "",
                  "| # | happened | after | applies now | no longer applies |", "|---|---|---|---|---|"]
        lines += [f"| {u.id} | {u.happened} | {markdown_cell(u.cause)} | {markdown_cell(', '.join(u.new)) or '—'} | "
                  f"{markdown_cell(', '.join(u.gone)) or '—'} |" for u in updates]
    return ("\n".join(lines) + "\n").encode("utf-8")


RENDERERS = {"md": to_markdown, "csv": to_csv, "json": to_json}


def export_timeline(engine: Engine, *, actor: Actor, incident_id: int, fmt: str,
                    as_known_at: datetime | None = None, zone: str | None = None) -> bytes:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(RENDERERS)}")
    return RENDERERS[fmt](timeline_document(engine, actor=actor, incident_id=incident_id,
                                            as_known_at=as_known_at, zone=zone))


# ---------------------------------------------------------------- PDF

_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
# Chinese, Japanese and Korean titles (the CAC measures, APPI): Debian's fonts-noto-cjk, used where
# DejaVu has no glyph.
_CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
# Han, kana, Hangul, CJK punctuation and full-width forms: characters DejaVu has no glyph for.
_CJK_TEXT = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")


# kaleido 1.x starts a Chromium for every image unless its sync server runs: started once per
# process on the first chart export and kept alive (about 2 s once, then about 0.1 s per image).
# Its request and reply queues are shared, so one image is drawn at a time (Streamlit serves each
# browser session on its own thread).
_RENDER_LOCK = threading.Lock()


def figure_images(figures: list, *, width: int, height: int, scale: float = 1) -> list[bytes] | None:
    """PNGs of Plotly figures, drawn by kaleido's kept-alive Chromium; None if they cannot be
    drawn here (the export then says so instead of failing)."""
    if not figures:
        return []
    try:
        import kaleido

        with _RENDER_LOCK:
            server = _kaleido_server()
            if server is not None and server.is_running() and not server._thread.is_alive():  # noqa: SLF001
                server.close(silence_warnings=True)
            if server is not None and not server.is_running():
                kaleido.start_sync_server(silence_warnings=True)
            with warnings.catch_warnings():  # "kopts ignored if using a server": plotly passes none we need
                warnings.simplefilter("ignore", UserWarning)
                return [figure.to_image(format="png", width=width, height=height, scale=scale) for figure in figures]
    except Exception:  # noqa: BLE001 - kaleido/Chromium missing or failing must not block an export
        return None


def _kaleido_server():
    try:
        from kaleido._sync_server import GlobalKaleidoServer

        return GlobalKaleidoServer()
    except ImportError:  # a kaleido without the kept-alive server: one Chromium per image
        return None


def stop_renderer() -> None:
    """Close the kept-alive Chromium (tests and the benchmark measure a cold start with it)."""
    with _RENDER_LOCK:
        server = _kaleido_server()
        if server is not None and server.is_running():
            server.close(silence_warnings=True)


def _chart_figure(doc: TimelineDocument):
    from breachdash.charts import incident_timeline

    figure = incident_timeline(doc.events, doc.milestones, doc.history, zone=doc.zone, precisions=doc.precisions)
    figure.update_xaxes(rangeslider=dict(visible=False), rangeselector=dict(visible=False))
    figure.update_layout(legend=dict(font=dict(size=9)))
    return figure


def _chart_png(doc: TimelineDocument) -> tuple[bytes, int, int] | None:
    """The timeline chart as (PNG, width, height) in pixels; None if it cannot be drawn here."""
    try:
        figure = _chart_figure(doc)
    except Exception:  # noqa: BLE001 - a chart that cannot be built must not block Legal's export
        return None
    width, height = 1400, int(figure.layout.height or 600) + 100
    images = figure_images([figure], width=width, height=height)
    return (images[0], width, height) if images else None


@dataclass
class _Pdf:
    """A landscape A4 document with DejaVu (full Unicode) when installed, else Latin-1 core fonts."""

    pdf: object
    family: str
    cjk_ready: bool = False

    def clean(self, text: object) -> str:
        """Text the document's fonts can draw. The CJK font (about 2 s to load and subset) is
        added only to a document whose text needs it; every user-entered text passes here."""
        text = str(text or "")
        if self.family != "body":
            return text.encode("latin-1", "replace").decode("latin-1")
        if not self.cjk_ready and _CJK_TEXT.search(text) and Path(_CJK_FONT).exists():
            self.pdf.add_font("cjk", "", _CJK_FONT)
            self.pdf.add_font("cjk", "B", _CJK_FONT)
            self.pdf.set_fallback_fonts(["cjk"])
            self.cjk_ready = True
        return text

    def heading(self, text: str) -> None:
        self.keep_with_next(14)  # the heading and a first line
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "B", 12)
        self.pdf.cell(0, 7, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, "", 8)

    @property
    def header_style(self):
        from fpdf.fonts import FontFace

        return FontFace(emphasis="BOLD", fill_color=(229, 231, 235))


    def keep_with_next(self, height: float) -> None:
        """Start a new page unless `height` mm fit below: a heading never stands alone at a page foot."""
        if self.pdf.get_y() + height > self.pdf.page_break_trigger:
            self.pdf.add_page()


def export_file_name(slug: str, kind: str, fmt: str, *, at: datetime | None = None,
                     as_known_at: datetime | None = None, zone: str = "UTC") -> str:
    """A dated download name, e.g. 'kestrel-briefing-2026-12-02-0915.pdf' (time in `zone`, the
    incident's); an 'as known at' export says so: '…-timeline-as-known-2026-11-24-0800-….pdf'."""
    import zoneinfo

    tz = zoneinfo.ZoneInfo(zone)
    stamp = (at or utcnow()).astimezone(tz).strftime("%Y-%m-%d-%H%M")
    known = f"-as-known-{as_known_at.astimezone(tz):%Y-%m-%d-%H%M}" if as_known_at else ""
    return f"{slug}-{kind}{known}-{stamp}.{fmt}"


def _pdf_class():
    from fpdf import FPDF

    class MarkedPdf(FPDF):
        """Every page carries the marking line (settings: `export_marking`) at the top, and the
        document's title with 'Page N of M' at the foot."""

        marking, footer_text, family = "", "", "helvetica"

        def header(self):
            if self.marking:
                self.set_font(self.family, "B", 7.5)
                self.set_text_color(153, 27, 27)
                self.set_y(4)
                self.cell(0, 4, self.marking, align="C")
                self.set_text_color(0, 0, 0)
                self.set_y(9)

        def footer(self):
            self.set_y(-8)
            self.set_font(self.family, "", 7)
            self.set_text_color(90, 90, 90)
            self.cell(self.epw * 0.75, 4, self.footer_text[:160])
            self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    return MarkedPdf


def pdf_document(title: str, subtitle: str, author: str) -> _Pdf:
    from breachdash.config import export_marking

    pdf = _pdf_class()(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=11)
    regular = Path(_FONT_DIR) / "DejaVuSans.ttf"
    family = "helvetica"
    if regular.exists():
        pdf.add_font("body", "", str(regular))
        pdf.add_font("body", "B", str(Path(_FONT_DIR) / "DejaVuSans-Bold.ttf"))
        family = "body"
    document = _Pdf(pdf, family)
    pdf.family = family
    pdf.marking = document.clean(export_marking())
    pdf.footer_text = document.clean(title)
    pdf.set_title(document.clean(title))
    pdf.set_author(document.clean(author))
    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 9, document.clean(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    pdf.multi_cell(0, 5, document.clean(subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    return document


def to_pdf(doc: TimelineDocument, *, chart: bool = True) -> bytes:
    known = f" · as known at {local_time(doc.as_known_at, doc.zone)}" if doc.as_known_at else ""
    document = pdf_document(f"Incident timeline: {doc.incident.title}",
                             f"{doc.incident.company} · times in {doc.zone} · produced "
                             f"{local_time(doc.produced_at, doc.zone)} by {doc.produced_by}{known}", doc.produced_by)
    pdf, clean, heading, header_style = document.pdf, document.clean, document.heading, document.header_style
    heading("Milestones")
    with pdf.table(col_widths=(60, 70), headings_style=header_style, line_height=4.5, text_align="LEFT",
                   width=130, align="LEFT") as table:
        table.row(["Milestone", "When"])
        for field, name in MILESTONE_NAMES.items():
            table.row([name, moment(doc.milestones.get(field), doc.precisions.get(field, "exact"), doc.zone)])
    heading("Durations")
    with pdf.table(col_widths=(55, 45, 170), headings_style=header_style, line_height=4.5,
                   text_align="LEFT") as table:
        table.row(["Duration", "Value", "Definition"])
        for item in doc.durations:
            table.row([item.name, duration_text(item) + (f" (check: {item.flag})" if item.flag else ""),
                       item.definition])
    heading("Systems involved")
    pdf.multi_cell(0, 4.5, clean("; ".join(doc.systems) or "none recorded"), new_x="LMARGIN", new_y="NEXT")

    image = _chart_png(doc) if chart else None
    if image is not None:
        png, width, height = image
        # The heading goes with its chart: both on a new page unless they fit below.
        chart_height = min(pdf.epw * height / width, pdf.page_break_trigger - pdf.t_margin - 12)
        document.keep_with_next(11 + chart_height)
        heading("Timeline chart")
        pdf.image(io.BytesIO(png), h=chart_height, keep_aspect_ratio=True, w=pdf.epw)
    else:
        document.keep_with_next(20)
        heading("Timeline chart")
        pdf.multi_cell(0, 4.5, "The chart could not be drawn on this server (kaleido needs Chromium); the entries "
                               "below are the complete record.", new_x="LMARGIN", new_y="NEXT")

    rows, updates = chronology_rows(doc)
    document.keep_with_next(30)
    heading("Entries, in the order they happened (superseded and retracted entries kept)")
    with pdf.table(col_widths=(9, 30, 22, 95, 38, 30, 36, 25), headings_style=header_style,
                   line_height=4, text_align="LEFT", repeat_headings=1) as table:
        table.row(["#", "Happened", "Kind", "What", "Systems", "Recorded", "By", "State"])
        for row in rows:
            state = _state_text(row)
            detail = row["detail"] if len(row["detail"]) <= 1500 else row["detail"][:1500] + " … (full text in the JSON export)"
            what = row["title"] + (f"\n{detail}" if detail else "")
            table.row([str(row["id"]), row["happened"], row["kind"], clean(what), clean(row["systems"]),
                       row["recorded"], clean(row["recorded_by"]), clean(state)])
    if updates:
        document.keep_with_next(30)
        heading(f"Automatic obligation updates ({len(updates)})")
        pdf.multi_cell(0, 4.5, "Written by breachdash when a revision or milestone changed which notification rules "
                               "apply; each rule's reason is in the obligations register and in the CSV and JSON "
                               "exports.", new_x="LMARGIN", new_y="NEXT")
        with pdf.table(col_widths=(9, 30, 48, 130, 60), headings_style=header_style, line_height=4,
                       text_align="LEFT", repeat_headings=1) as table:
            table.row(["#", "Happened", "After", "Applies now", "No longer applies"])
            for u in updates:
                table.row([str(u.id), u.happened, clean(u.cause), clean(", ".join(u.new)) or "—",
                           clean(", ".join(u.gone)) or "—"])
    return bytes(pdf.output())


RENDERERS["pdf"] = to_pdf
FORMATS["pdf"] = "application/pdf"


# ---------------------------------------------------------------- obligations register

REGISTER_EXPORT_COLUMNS = [
    "rule_id", "jurisdiction", "regime", "citation", "recipient_name", "applicability", "reason", "deadline", "trigger",
    "clock_started_at", "due_at", "status", "filed_at", "filed_by", "reference", "filings", "timeliness",
    "corrections", "in_force", "flags", "confidence", "source_urls",
]


def export_obligations(engine: Engine, *, actor: Actor, incident_id: int, fmt: str) -> tuple[bytes, str, str]:
    """The obligations register for Legal: every rule's decision with its reason, clock, status and
    filing. Returns (bytes, mime type, file name)."""
    from breachdash.obligations.service import not_applicable_summary, obligations_register

    require_signed_in(actor)
    incident = get_incident(engine, actor=actor, incident_id=incident_id)
    register = obligations_register(engine, actor=actor, incident_id=incident_id)
    produced_at = utcnow()
    name = export_file_name(incident.slug, "obligations", fmt, at=produced_at, zone=incident.display_timezone)
    if fmt == "csv":
        out = register[REGISTER_EXPORT_COLUMNS].copy()
        for column in ("clock_started_at", "due_at", "filed_at"):
            out[column] = out[column].map(lambda v: "" if v is None or pd.isna(v) else v.isoformat())
        out = out.map(spreadsheet_safe)
        return out.to_csv(index=False).encode("utf-8"), "text/csv", name
    if fmt != "pdf":
        raise InvalidInput.single("format", f"unknown format {fmt!r}; csv or pdf")
    zone = incident.display_timezone
    document = pdf_document(f"Obligations register: {incident.title}",
                             f"{incident.company} · times in {zone} · produced {local_time(produced_at, zone)} by "
                             f"{actor.email} · decided from the live record by data/notification_rules.csv "
                             "(not legal advice: check flagged rules against the source)", actor.email)
    pdf, clean = document.pdf, document.clean
    not_applicable = register[register["applicability"] == "not applicable"]

    def rule_table(rows: pd.DataFrame) -> None:
        with pdf.table(col_widths=(30, 34, 38, 22, 26, 22, 105), headings_style=document.header_style,
                       line_height=4, text_align="LEFT") as table:
            table.row(["Rule", "Regime", "Recipient", "Deadline", "Due", "Status", "Why (and flags)"])
            for r in rows.itertuples():
                filed = ""
                if r.filings:
                    filed = (f"\nFirst filed {local_time(r.filed_at, zone)} by {r.filed_by}"
                             + (f": {r.reference}" if r.reference else "") + (f" — {r.timeliness}" if r.timeliness
                                                                              else ""))
                    if r.corrections:
                        filed += f"\nCorrections: {r.corrections}"
                why = r.reason + (f"\nFlags: {r.flags}" if r.flags else "") + filed
                table.row([clean(r.rule_id), clean(r.regime), clean(r.recipient_name), clean(r.deadline),
                           local_time(r.due_at, zone) if r.due_at is not None and not pd.isna(r.due_at) else
                           clean(r.clock_note or "—"), clean(r.status), clean(why)])

    for title, rows in (("Applies or may apply, by deadline",
                         register[register["applicability"].isin(["applies", "may apply"])]),
                        ("No longer applies", register[register["applicability"] == "no longer applies"])):
        document.heading(f"{title} ({len(rows)})")
        if rows.empty:
            pdf.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
            continue
        rule_table(rows)
    document.heading(f"Does not apply ({len(not_applicable)}): why, in summary")
    summary = not_applicable_summary(register)
    if summary.empty:
        pdf.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
    else:
        with pdf.table(col_widths=(110, 20, 147), headings_style=document.header_style, line_height=4,
                       text_align="LEFT") as table:
            table.row(["Why it does not apply", "Rules", "For example"])
            for r in summary.itertuples():
                table.row([clean(r.why), str(r.rules), clean(r.examples)])
        pdf.multi_cell(0, 4.5, "Every rule that does not apply, with its full reason, is listed in the appendix.",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.add_page()
        document.heading(f"Appendix: rules that do not apply ({len(not_applicable)})")
        rule_table(not_applicable)
    return bytes(pdf.output()), "application/pdf", name
