"""Obligations: which notification clocks the live record triggers, to whom, by when — with the
reason for every decision, live countdowns, filings, and the register for Legal."""
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from breachdash import charts, ui
from breachdash.auth.rules import Action
from breachdash.common import utcnow
from breachdash.display import countdown, local_time
from breachdash.exports import export_obligations
from breachdash.incidents.models import SECTOR_NAMES, SectorFlag
from breachdash.incidents.service import get_incident, update_incident
from breachdash.obligations.models import ObligationStatus
from breachdash.obligations.rules import RECIPIENT_NAMES
from breachdash.obligations.service import (
    FILED_LATE,
    LATE_STATUSES,
    file_obligation,
    filings_frame,
    not_applicable_summary,
    obligations_register,
    recompute_for,
    set_obligation_status,
)
from breachdash.timeline.rules import local_input_to_utc

ctx = ui.page_context(__file__)
incident, zone = ctx.incident, ctx.incident.display_timezone
st.title("Obligations")
st.caption("Which notification clocks the scope, the company's sector and the milestones trigger. Recomputed with "
           "every scope revision, milestone and filing. Decided by the rules in data/notification_rules.csv — not "
           "legal advice: ⚠ marks rules to check against the source before relying on them.")
ui.show_flash()
if ui.can(ctx.actor, Action.manage_obligations) and st.button(
        "Recompute obligations", key="recompute_obligations",
        help="Re-decide every rule from the live record (after an import, a restore or a rules update). Audited and "
             "put on the timeline; a recompute that changes nothing writes nothing."):
    ui.run_action(lambda: recompute_for(ctx.engine, actor=ctx.actor, incident_id=incident.id),
                  lambda changes: changes.summary())

register = obligations_register(ctx.engine, actor=ctx.actor, incident_id=incident.id)
applicable = register[register["applicability"].isin(["applies", "may apply"])]

left, middle, right = st.columns([2, 2, 1])
jurisdictions = left.multiselect("Jurisdiction", sorted(register["jurisdiction"].unique()), key="filter_jurisdiction",
                                 placeholder="all")
recipients = middle.multiselect("Recipient", sorted(register["recipient"].unique()), key="filter_recipient",
                                format_func=lambda r: RECIPIENT_NAMES.get(r, r), placeholder="all")
interval = right.selectbox("Refresh every", [10, 30, 60, 300], index=1, key="countdown_interval",
                           format_func=lambda s: f"{s} s" if s < 60 else f"{s // 60} min")


def _filtered(frame: pd.DataFrame) -> pd.DataFrame:
    if jurisdictions:
        frame = frame[frame["jurisdiction"].isin(jurisdictions)]
    if recipients:
        frame = frame[frame["recipient"].isin(recipients)]
    return frame


@ui.live_fragment(run_every=interval)
def deadlines_table() -> None:
    """Countdowns tick without rerunning the page; figures are re-read on every tick."""
    now = utcnow()
    live = _filtered(obligations_register(ctx.engine, actor=ctx.actor, incident_id=incident.id, now=now))
    live = live[live["applicability"].isin(["applies", "may apply"])]
    counts = live["status"].value_counts()
    # The next deadline gets the widest column: its countdown ("overdue by 2d 4h") is never cut.
    a, b, c, d = st.columns([1, 1, 1, 2])
    a.metric("Applicable clocks", len(live))
    b.metric("Late", int(sum(counts.get(s, 0) for s in LATE_STATUSES)),
             help="Overdue and not filed, or filed after the due time.")
    c.metric("Filed", int(counts.get("filed", 0) + counts.get(FILED_LATE, 0)),
             help=f"{int(counts.get(FILED_LATE, 0))} of them filed late")
    next_due = live[live["due_at"].notna() & ~live["status"].isin(["filed", FILED_LATE])]
    if next_due.empty:
        d.metric("Next deadline", "—")
    else:
        soonest = next_due.sort_values("due_at").iloc[0]
        d.metric("Next deadline", countdown(soonest["due_at"], now).removeprefix("due "),
                 help=f"{soonest['regime']} → {soonest['recipient_name']} (rule {soonest['rule_id']})")
        d.caption(f"to {soonest['recipient_short']}")
    table = live.assign(
        countdown=[countdown(r.due_at, now, started=r.clock_started_at) if r.status not in ("filed", FILED_LATE)
                   else f"{r.timeliness or 'filed'} · first filed {local_time(r.filed_at, zone, '%d %b %Y %H:%M')}"
                   for r in live.itertuples()],
        due=live["due_at"].map(lambda v: local_time(v, zone)),
        recipient=live["recipient_short"],
        check=live["flags"].map(lambda f: f"⚠ {f}" if f else ""))
    ui.table(table[["due", "countdown", "status", "recipient", "jurisdiction", "regime", "rule_id",
                    "applicability", "check", "reason"]],
                 hide_index=True, key="obligations_table",
                 column_config={"due": "Due", "countdown": "Countdown", "status": "Status", "rule_id": "Rule",
                                "jurisdiction": "Jurisdiction", "regime": "Regime", "recipient": "Recipient",
                                "applicability": "Applies?", "check": "Check",
                                "reason": st.column_config.TextColumn("Why", width="large")})
    st.caption(f"Read {local_time(now, zone, '%H:%M:%S %Z')}; refreshes every {interval} s. Rules with no fixed "
               "limit (\"without undue delay\") show the time elapsed since their clock started.")


deadlines_table()

milestones = {"detected_at": incident.detected_at, "legal_aware_at": incident.legal_aware_at}
st.plotly_chart(charts.obligation_deadlines(_filtered(register), milestones, now=utcnow(),
                                            zone=zone), key="deadline_chart")

no_longer = _filtered(register[register["applicability"] == "no longer applies"])
if not no_longer.empty:
    st.warning(f"{len(no_longer)} obligation(s) applied earlier and no longer do after a later revision; their "
               "history stays in the register and on the timeline.", icon="↩️")
    ui.table(no_longer[["recipient_short", "regime", "rule_id", "reason", "filings"]], hide_index=True,
                 key="no_longer_table", column_config={"rule_id": "Rule", "regime": "Regime",
                                                       "recipient_short": "Recipient", "reason": "Why not now",
                                                       "filings": "Filings"})
rest = _filtered(register[register["applicability"] == "not applicable"])
st.markdown(f"**Does not apply ({len(rest)})**, by reason")
ui.table(not_applicable_summary(rest), hide_index=True, key="not_applicable_summary",
             column_config={"why": "Why not", "rules": "Rules", "examples": "For example"})
with st.expander(f"Every rule that does not apply ({len(rest)}), with its reason"):
    ui.table(rest[["recipient_short", "jurisdiction", "regime", "rule_id", "reason", "flags"]], hide_index=True,
                 key="not_applicable_table",
                 column_config={"rule_id": "Rule", "jurisdiction": "Jurisdiction", "regime": "Regime",
                                "recipient_short": "Recipient", "reason": "Why not", "flags": "Check"})

st.subheader("Register for Legal")
a, b = st.columns(2)
for column, fmt, label in ((a, "csv", "Download the register (CSV)"), (b, "pdf", "Download the register (PDF)")):
    column.download_button(
        label, data=lambda fmt=fmt: export_obligations(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                                       fmt=fmt)[0],
        file_name=f"{incident.slug}-obligations.{fmt}", mime="text/csv" if fmt == "csv" else "application/pdf",
        on_click="ignore", key=f"register_{fmt}")

st.subheader("One obligation")
choices = {int(r.obligation_id): f"{r.recipient_short} — {r.regime} ({r.rule_id}, {r.applicability})"
           for r in register.itertuples()}
if choices:
    chosen = st.selectbox("Obligation", list(choices), format_func=choices.__getitem__, key="obligation_choice")
    row = register[register["obligation_id"] == chosen].iloc[0]
    obligation_version_seen = ui.version_seen(f"obligation_{chosen}", int(row["version"]))
    st.markdown(f"**{row['regime']}** · {row['citation']} · to {row['recipient_name']}")
    st.text(f"Deadline: {row['deadline']}, counted from {row['trigger']}. Clock: {row['clock_note'] or 'not started'}.")
    st.text(f"Why: {row['reason']}")
    if row["in_force"]:
        st.text(f"In force: {row['in_force']}.")
    if row["filings"]:
        st.text(f"First filed {local_time(row['filed_at'], zone)} by {row['filed_by']}: {row['timeliness']}."
                + (f" Corrections: {row['corrections']}." if row["corrections"] else ""))
    if row["flags"]:
        st.warning(f"Check before relying on it: {row['flags']}.", icon="⚠️")
    if row["source_urls"]:
        st.caption("Sources: " + " · ".join(row["source_urls"].split()))
    filings = filings_frame(ctx.engine, actor=ctx.actor, obligation_id=chosen)
    if not filings.empty:
        ui.table(filings.assign(filed_at=filings["filed_at"].map(lambda v: local_time(v, zone))),
                     hide_index=True, key="filings_table")
    if ui.can(ctx.actor, Action.manage_obligations):
        with st.form("record_filing"):
            st.markdown("**Record a filing** (append-only: a correction is a new filing)")
            c1, c2, c3 = st.columns(3)
            local_now = utcnow().astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
            filed_day = c1.date_input("Filed on", value=local_now.date(), key="filed_day")
            filed_time = c2.time_input("at", value=local_now.time(), key="filed_time", step=60)
            filed_zone = c3.text_input("Time zone", value=zone, key="filed_zone")
            reference = st.text_input("Reference (portal receipt, case number)", max_chars=300, key="filing_ref")
            note = st.text_area("Note", max_chars=20_000, key="filing_note")
            corrects = st.selectbox("Corrects filing", [None] + filings["filing_id"].tolist(), key="filing_corrects",
                                    format_func=lambda v: "— (not a correction)" if v is None else f"filing {v}")
            if st.form_submit_button("Record filing", type="primary"):
                ui.run_action(lambda: file_obligation(
                    ctx.engine, actor=ctx.actor, obligation_id=chosen,
                    filed_at=local_input_to_utc(filed_day, filed_time, filed_zone, field="filed_at"), reference=reference, note=note,
                    corrects_id=corrects), f"Filing recorded: {row['recipient_short']} ({row['rule_id']}).",
                    clear=["filed_day", "filed_time", "filed_zone", "filing_ref", "filing_note", "filing_corrects"])
        with st.form("set_status"):
            st.markdown("**Tracking status**")
            status = st.selectbox("Status", [ObligationStatus.not_due.value, ObligationStatus.in_preparation.value,
                                             ObligationStatus.not_applicable.value], key="obligation_status")
            why = st.text_input("Why it does not apply (required for 'not applicable')", max_chars=5000,
                                key="obligation_why")
            if st.form_submit_button("Save status"):
                ui.run_action(lambda: set_obligation_status(
                    ctx.engine, actor=ctx.actor, obligation_id=chosen, status=status, reason=why,
                    expected_version=obligation_version_seen), f"{row['recipient_short']} ({row['rule_id']}): {status}.")

st.subheader("The company")
current = get_incident(ctx.engine, actor=ctx.actor, incident_id=incident.id)
incident_version_seen = ui.version_seen(f"incident_{incident.id}", current.version)
flags = [SECTOR_NAMES[f] for f in current.sector_flags if f in SECTOR_NAMES]
st.write("Sector facts that decide which regimes apply: " + (", ".join(flags) if flags else "none recorded") + ".")
if ui.can(ctx.actor, Action.update_incident):
    with st.form("sector_flags"):
        chosen_flags = st.multiselect("The company is …", [f.value for f in SectorFlag], default=current.sector_flags,
                                      format_func=lambda f: SECTOR_NAMES[f], key="sector_flag_choice")
        if st.form_submit_button("Save sector facts"):
            ui.run_action(lambda: update_incident(
                ctx.engine, actor=ctx.actor, incident_id=incident.id, expected_version=incident_version_seen,
                incident_in={"sector_flags": chosen_flags}), "Saved; obligations recomputed.")
