"""The executive briefing: one to two pages from the live record — headline figures (each with its
"as of" time), small charts, what changed since the last review, decisions needed, next deadlines.
Markdown and PDF; the page and `python -m breachdash briefing SLUG` use the same document."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from breachdash.analytics import Overview, overview
from breachdash.auth.rules import Actor, require_signed_in
from breachdash.display import countdown, duration, local_time
from breachdash.errors import InvalidInput
from breachdash.outreach.service import funnel_frame, reconciliation
from breachdash.reviews.rules import TIER_CALLOUTS, Change, populations_in
from breachdash.reviews.service import since_last_review
from breachdash.scope.rules import PROTECTION_WORDS


@dataclass
class HeadlineFigure:
    label: str
    value: str
    as_of: datetime | None
    note: str = ""


@dataclass
class Briefing:
    data: Overview
    figures: list[HeadlineFigure]
    changes: list[Change]
    review_started: datetime | None
    review_by: str
    decisions: list[str]
    deadlines: pd.DataFrame
    main_phase: str | None
    funnel: pd.DataFrame | None
    produced_by: str

    @property
    def zone(self) -> str:
        return self.data.incident.display_timezone


def _decisions(data: Overview, recon_counts: dict) -> list[str]:
    """What leadership must decide or unblock, derived from the record."""
    needed = []
    for phase in data.phases.itertuples():
        if not phase.approvals_missing or phase.status in ("sent", "done"):
            continue
        if phase.status == "approved" and phase.reconfirm:
            needed.append(f"{phase.phase}: approved, but the approvals of {phase.reconfirm} no longer cover the "
                          f"current facts: they re-confirm version {int(phase.latest_version)} on the Communications "
                          "page (Sign-offs) before it can be sent.")
        elif phase.status == "approved":
            needed.append(f"{phase.phase}: approved, but {phase.approvals_missing} must still approve the latest "
                          "version before it can be sent.")
        else:
            needed.append(f"{phase.phase}: awaiting approval from {phase.approvals_missing}.")
    pending = data.obligations[data.obligations["applicability"] == "may apply"]
    for row in pending.itertuples():
        needed.append(f"{row.rule_id} ({row.regime}) may apply: {row.clock_note or row.reason}.")
    late = data.obligations[data.obligations["status"].isin(["late", "filed late"])]
    for row in late.itertuples():
        needed.append(f"{row.rule_id} was {row.timeliness} ({row.regime} → {row.recipient_name}): record the reasons "
                      "for the delay." if row.status == "filed late" else
                      f"{row.rule_id} is late ({row.regime} → {row.recipient_name}): file or record why not.")
    if not data.incident.contained_at:
        needed.append("The breach is not yet recorded as contained.")
    if recon_counts.get("uncontactable"):
        needed.append(f"{recon_counts['uncontactable']:,} affected customers could not be reached on any channel: "
                      "approve a substitute notice (letter, web notice).")
    return needed


def briefing_document(engine: Engine, *, actor: Actor, incident_id: int) -> Briefing:
    require_signed_in(actor)
    data = overview(engine, actor=actor, incident_id=incident_id)
    since = since_last_review(engine, actor=actor, incident_id=incident_id)
    recon = reconciliation(engine, actor=actor, incident_id=incident_id)
    scope, read_at, incident = data.scope, data.read_at, data.incident
    figures = []
    if scope is None:
        figures.append(HeadlineFigure("Affected", "no estimate yet", read_at))
    else:
        if scope.total is not None and len(scope.populations) > 1:
            figures.append(HeadlineFigure(f"Affected {scope.total_unit}, all populations", scope.total.headline(),
                                          scope.recorded_at, f"{scope.total.range_text(short=False)}; populations "
                                                             "counted in no other, added up"))
        for population in scope.populations:
            figures.append(HeadlineFigure(
                f"{population.label}: affected {population.unit}", population.figure.headline(),
                population.recorded_at, f"{population.figure.range_text(short=False)}; revision {population.seq}, "
                                        f"confidence {population.confidence}"))
        if since.marker is not None:
            before = populations_in(since.marker.snapshot)
            moved = [f"{p.label}: {before[p.key]['figure']} → {p.figure.describe(p.unit)}" for p in scope.populations
                     if p.key in before and before[p.key]["figure"] != p.figure.describe(p.unit)]
            new = [p.label for p in scope.populations if p.key not in before]
            text = "; ".join(moved + [f"new population: {label}" for label in new]) or "no change"
            figures.append(HeadlineFigure("Change since the last review", "changed" if moved or new else "no change",
                                          scope.recorded_at, f"{text}; review started "
                                          f"{local_time(since.marker.started_at, incident.display_timezone)}"))
        types = scope.data_types.drop_duplicates("data_type")
        callouts = scope.data_types[scope.data_types["tier"].isin(TIER_CALLOUTS)]
        figures.append(HeadlineFigure(
            "Exposed data types", f"{len(types)} types", scope.recorded_at,
            ("Sensitive: " + ", ".join(
                f"{r.name} ({r.status}, {r.figure.describe()}, {PROTECTION_WORDS.get(r.protection, r.protection)}"
                + (f"; {r.population})" if len(scope.populations) > 1 else ")")
                for r in callouts.itertuples())) if len(callouts)
            else "no financial, government ID, credential or health data"))
    figures.append(HeadlineFigure(
        "Containment", f"contained {local_time(incident.contained_at, incident.display_timezone)}"
        if incident.contained_at else "NOT contained", incident.contained_at or read_at,
        f"{duration(read_at - incident.detected_at)} since detection" if incident.detected_at else "not detected"))
    tracker = " · ".join(f"{p.phase}: {p.status}" for p in data.phases.itertuples())
    figures.append(HeadlineFigure("Communication phases", f"{(data.phases['status'].isin(['sent', 'done'])).sum()} of "
                                                          f"{len(data.phases)} sent", read_at, tracker))
    main_phase, funnel = None, None
    if not data.outreach.empty:
        best_row = data.outreach.sort_values("targeted", ascending=False).iloc[0]
        main_phase = best_row["key"]
        funnel = funnel_frame(engine, actor=actor, incident_id=incident_id, phase_key=main_phase)
        steps = dict(zip(funnel["step"], funnel["customers"]))
        share = f"{steps['delivered'] / steps['affected']:.0%} of {steps['affected']:,} to reach" if steps["affected"] else ""
        figures.append(HeadlineFigure(f"Outreach: {best_row['phase']}", f"{steps['delivered']:,} delivered", read_at,
                                      f"{share}; {steps['bounced'] + steps['failed']:,} bounced or failed; "
                                      f"{steps['replied']:,} replied"))
    deadlines = data.obligations[data.obligations["due_at"].notna()
                                 & (data.obligations["status"] != "filed late")].head(3)
    return Briefing(data=data, figures=figures, changes=since.changes,
                    review_started=since.marker.started_at if since.marker else None,
                    review_by=since.marker.started_by if since.marker else "",
                    decisions=_decisions(data, recon.counts), deadlines=deadlines, main_phase=main_phase,
                    funnel=funnel, produced_by=actor.email)


def to_markdown(doc: Briefing) -> bytes:
    from breachdash.config import export_marking
    from breachdash.exports import markdown_cell

    zone, read_at, incident = doc.zone, doc.data.read_at, doc.data.incident
    marking = export_marking()
    lines = [f"# Executive briefing: {markdown_cell(incident.title)}", ""] + ([f"**{markdown_cell(marking)}**", ""] if marking else []) + [
        f"{markdown_cell(incident.company)} · produced {local_time(read_at, zone)} by {markdown_cell(doc.produced_by)} · "
        f"times in {zone}", "", "## Decisions needed", ""]
    lines += [f"- {markdown_cell(d)}" for d in doc.decisions] or ["- None."]
    lines += ["", "## Where we stand", "", "| | figure | as of | detail |", "|---|---|---|---|"]
    lines += [f"| {markdown_cell(f.label)} | **{markdown_cell(f.value)}** | {local_time(f.as_of, zone)} | {markdown_cell(f.note)} |" for f in doc.figures]
    lines += ["", "## Next deadlines", ""]
    if doc.deadlines.empty:
        lines.append("No deadline is running.")
    for row in doc.deadlines.itertuples():
        flag = f" (check: {row.flags})" if row.flags else ""
        lines.append(f"- **{countdown(row.due_at, read_at)}** — {markdown_cell(row.rule_id)}: {markdown_cell(row.regime)} → "
                     f"{markdown_cell(row.recipient_name)}, due {local_time(row.due_at, zone)}, {row.status}{markdown_cell(flag)}")
    since = (f"since the review started {local_time(doc.review_started, zone)} by {markdown_cell(doc.review_by)}"
             if doc.review_started else "(no review started yet)")
    lines += ["", f"## What changed {since}", ""]
    lines += [f"- {markdown_cell(c.text)}" for c in doc.changes] or ["- Nothing."]
    lines += ["", f"_Every figure is from the live record as of {local_time(read_at, zone)}._", ""]
    return "\n".join(lines).encode("utf-8")


def _chart_images(doc: Briefing) -> list[bytes]:
    """Static images of the estimate trend, exposure by tier and the outreach funnel; none if
    kaleido cannot draw here (the briefing then says so)."""
    from breachdash import charts

    figures = []
    scope = doc.data.scope
    if scope is not None:
        figures.append(charts.estimate_trend(doc.data.history, zone=doc.zone))
        figures.append(charts.exposure_by_type(scope.data_types))
    if doc.funnel is not None:
        name = doc.data.phases.loc[doc.data.phases["key"] == doc.main_phase, "phase"].iloc[0]
        figures.append(charts.outreach_funnel(doc.funnel, phase=name))
    from breachdash.exports import figure_images

    for figure in figures:
        figure.update_layout(height=330, width=620, margin=dict(l=10, r=10, t=50, b=10), showlegend=False,
                             title=dict(font=dict(size=14)))
    # One kept-alive Chromium draws them (see exports.figure_images); none if it cannot run here.
    return figure_images(figures, width=620, height=330, scale=2) or []


def to_pdf(doc: Briefing) -> bytes:
    from breachdash.exports import pdf_document

    zone, read_at, incident = doc.zone, doc.data.read_at, doc.data.incident
    document = pdf_document(f"Executive briefing: {incident.title}",
                             f"{incident.company} · produced {local_time(read_at, zone)} by {doc.produced_by} · "
                             f"times in {zone} · every figure from the live record, with its as-of time",
                             doc.produced_by)
    pdf, clean = document.pdf, document.clean
    # Decisions first: what the executives must decide or unblock, before the figures behind it.
    document.heading("Decisions needed")
    for decision in doc.decisions or ["None."]:
        pdf.multi_cell(0, 4.5, clean(f"• {decision}"), new_x="LMARGIN", new_y="NEXT")
    document.heading("Where we stand")
    pdf.set_font(document.family, "", 9)
    with pdf.table(col_widths=(55, 45, 38, 135), headings_style=document.header_style, line_height=5,
                   text_align="LEFT") as table:
        table.row(["", "Figure", "As of", "Detail"])
        for f in doc.figures:
            table.row([clean(f.label), clean(f.value), local_time(f.as_of, zone), clean(f.note)])
    images = _chart_images(doc)
    if images:
        pdf.ln(2)
        width = (pdf.epw - 6) / len(images)
        y = pdf.get_y()
        for index, image in enumerate(images):
            pdf.image(io.BytesIO(image), x=pdf.l_margin + index * (width + 3), y=y, w=width)
        pdf.set_y(y + width * 330 / 620 + 2)
    else:
        pdf.cell(0, 5, "Charts could not be drawn on this server; the figures above are complete.",
                 new_x="LMARGIN", new_y="NEXT")
    document.heading("Next deadlines")
    if doc.deadlines.empty:
        pdf.cell(0, 5, "No deadline is running.", new_x="LMARGIN", new_y="NEXT")
    for row in doc.deadlines.itertuples():
        flag = f" (check: {row.flags})" if row.flags else ""
        pdf.multi_cell(0, 5, clean(f"• {countdown(row.due_at, read_at)} — {row.rule_id}: {row.regime} → "
                                   f"{row.recipient_name}; due {local_time(row.due_at, zone)}; {row.status}{flag}"),
                       new_x="LMARGIN", new_y="NEXT")
    since = (f"since the review started {local_time(doc.review_started, zone)} by {doc.review_by}"
             if doc.review_started else "(no review started yet)")
    document.heading(f"What changed {since}")
    for change in doc.changes or [Change("", "Nothing.")]:
        pdf.multi_cell(0, 4.5, clean(f"• {change.text}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def export_briefing(engine: Engine, *, actor: Actor, incident_id: int, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, mime type, file name) of the briefing as PDF or Markdown."""
    if fmt not in ("pdf", "md"):
        raise InvalidInput.single("format", f"unknown format {fmt!r}; pdf or md")
    from breachdash.exports import export_file_name

    doc = briefing_document(engine, actor=actor, incident_id=incident_id)
    name = export_file_name(doc.data.incident.slug, "briefing", fmt, at=doc.data.read_at, zone=doc.zone)
    if fmt == "md":
        return to_markdown(doc), "text/markdown", name
    return to_pdf(doc), "application/pdf", name
