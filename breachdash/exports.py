"""Exports for Legal: the documented timeline (PDF, Markdown, CSV, JSON) and the obligations
register (CSV, PDF)."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from breachdash.auth.rules import Actor, require_signed_in
from breachdash.common import spreadsheet_safe, utcnow
from breachdash.display import local_time, moment, span
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
        durations=milestone_durations(milestones, precisions),
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
                       "approximate": d.approximate, "shown": span(d.value, d.approximate)}
                      for d in doc.durations],
        "events": _event_rows(doc),
    }
    # allow_nan=False: strict JSON or an error, never a bare NaN token that parsers reject.
    return (json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _md(text: object) -> str:
    """Table-cell text that Markdown renders literally: markup characters are escaped, and
    angle brackets become entities so no HTML survives."""
    value = str(text or "").replace("\\", "\\\\").replace("\r", " ").replace("\n", " ")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "|*_`[]()#!~":
        value = value.replace(char, "\\" + char)
    return value


def to_markdown(doc: TimelineDocument) -> bytes:
    lines = [f"# Incident timeline: {_md(doc.incident.title)}", "",
             f"{_md(doc.incident.company)} · times in {doc.zone}",
             f"Produced {local_time(doc.produced_at, doc.zone)} by {_md(doc.produced_by)}"
             + (f" · **as known at {local_time(doc.as_known_at, doc.zone)}**" if doc.as_known_at else ""), "",
             "## Systems involved", ""]
    lines += [f"- {_md(s)}" for s in doc.systems] or ["- none recorded"]
    lines += ["", "## Milestones", "", "| milestone | when |", "|---|---|"]
    lines += [f"| {MILESTONE_NAMES[k]} | {moment(v, doc.precisions.get(k, 'exact'), doc.zone)} |"
              for k, v in doc.milestones.items()]
    lines += ["", "## Durations", "", "| duration | value | definition |", "|---|---|---|"]
    lines += [f"| {d.name} | {span(d.value, d.approximate)}{' ⚠ ' + d.flag if d.flag else ''} | {d.definition} |"
              for d in doc.durations]
    lines += ["", "## Events (in the order they happened)", "",
              "| # | happened | kind | what | systems | recorded | by | state |", "|---|---|---|---|---|---|---|---|"]
    for row in _event_rows(doc):
        state = _state_text(row)
        what = _md(row["title"]) + (f" — {_md(row['detail'])}" if row["detail"] else "")
        lines.append(f"| {row['id']} | {row['happened']} | {row['kind']} | {what} | {_md(row['systems'])} | "
                     f"{row['recorded']} | {_md(row['recorded_by'])} | {_md(state)} |")
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


def _chart_png(doc: TimelineDocument) -> bytes | None:
    """The timeline chart as a PNG, drawn by kaleido with the system Chromium; None if it cannot
    be drawn here (the PDF then says so instead of failing)."""
    from breachdash.charts import incident_timeline

    try:
        figure = incident_timeline(doc.events, doc.milestones, doc.history, zone=doc.zone)
        figure.update_xaxes(rangeslider=dict(visible=False), rangeselector=dict(visible=False))
        figure.update_layout(legend=dict(font=dict(size=9)))
        return figure.to_image(format="png", width=1400, height=int(figure.layout.height or 600) + 100, scale=1)
    except Exception:  # noqa: BLE001 - kaleido/Chromium missing or failing must not block Legal's export
        return None


@dataclass
class _Pdf:
    """A landscape A4 document with DejaVu (full Unicode) when installed, else Latin-1 core fonts."""

    pdf: object
    family: str

    def clean(self, text: object) -> str:
        text = str(text or "")
        return text if self.family == "body" else text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "B", 12)
        self.pdf.cell(0, 7, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, "", 8)

    @property
    def header_style(self):
        from fpdf.fonts import FontFace

        return FontFace(emphasis="BOLD", fill_color=(229, 231, 235))


def _pdf_document(title: str, subtitle: str, author: str) -> _Pdf:
    from pathlib import Path

    from fpdf import FPDF

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    regular = Path(_FONT_DIR) / "DejaVuSans.ttf"
    family = "helvetica"
    if regular.exists():
        pdf.add_font("body", "", str(regular))
        pdf.add_font("body", "B", str(Path(_FONT_DIR) / "DejaVuSans-Bold.ttf"))
        family = "body"
        if Path(_CJK_FONT).exists():
            pdf.add_font("cjk", "", _CJK_FONT)
            pdf.add_font("cjk", "B", _CJK_FONT)
            pdf.set_fallback_fonts(["cjk"])
    document = _Pdf(pdf, family)
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
    document = _pdf_document(f"Incident timeline: {doc.incident.title}",
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
            table.row([item.name, span(item.value, item.approximate) + (f" (check: {item.flag})" if item.flag else ""),
                       item.definition])
    heading("Systems involved")
    pdf.multi_cell(0, 4.5, clean("; ".join(doc.systems) or "none recorded"), new_x="LMARGIN", new_y="NEXT")

    image = _chart_png(doc) if chart else None
    heading("Timeline chart")
    if image is not None:
        import io

        pdf.image(io.BytesIO(image), w=pdf.epw)
    else:
        pdf.multi_cell(0, 4.5, "The chart could not be drawn on this server (kaleido needs Chromium); the entries "
                               "below are the complete record.", new_x="LMARGIN", new_y="NEXT")

    heading("Entries, in the order they happened (superseded and retracted entries kept)")
    with pdf.table(col_widths=(9, 30, 22, 95, 38, 30, 36, 25), headings_style=header_style,
                   line_height=4, text_align="LEFT") as table:
        table.row(["#", "Happened", "Kind", "What", "Systems", "Recorded", "By", "State"])
        for row in _event_rows(doc):
            state = _state_text(row)
            detail = row["detail"] if len(row["detail"]) <= 1500 else row["detail"][:1500] + " … (full text in the JSON export)"
            what = row["title"] + (f"\n{detail}" if detail else "")
            table.row([str(row["id"]), row["happened"], row["kind"], clean(what), clean(row["systems"]),
                       row["recorded"], clean(row["recorded_by"]), clean(state)])
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
    name = f"{incident.slug}-obligations-{produced_at:%Y%m%d-%H%M}"
    if fmt == "csv":
        out = register[REGISTER_EXPORT_COLUMNS].copy()
        for column in ("clock_started_at", "due_at", "filed_at"):
            out[column] = out[column].map(lambda v: "" if v is None or pd.isna(v) else v.isoformat())
        out = out.map(spreadsheet_safe)
        return out.to_csv(index=False).encode("utf-8"), "text/csv", f"{name}.csv"
    if fmt != "pdf":
        raise InvalidInput.single("format", f"unknown format {fmt!r}; csv or pdf")
    zone = incident.display_timezone
    document = _pdf_document(f"Obligations register: {incident.title}",
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
    return bytes(pdf.output()), "application/pdf", f"{name}.pdf"
