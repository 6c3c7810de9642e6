"""Outreach: who has been told, through which channel, and what came back — from vendors'
delivery reports (millions of customers) and hand-entered counts for everything else."""
import pandas as pd
import streamlit as st

from breachdash import charts, ui
from breachdash.auth.rules import Action
from breachdash.comms.service import phase_progress
from breachdash.display import count, escape_markdown, local_time
from breachdash.errors import BreachdashError
from breachdash.importers.common import IDS_OVERRIDE_LABEL
from breachdash.importers.delivery import import_delivery_report
from breachdash.outreach.rules import OUTREACH_CHANNELS
from breachdash.outreach.service import (
    bounce_list_csv,
    completion_frame,
    customer_history,
    delivery_reports_frame,
    funnel_frame,
    inquiry_frame,
    inquiry_versions,
    outreach_cells,
    outreach_over_time,
    parse_inquiry_csv,
    recompute_outreach,
    reconciliation,
    reconciliation_ids_csv,
    record_outreach,
    save_inquiry_days,
)
from breachdash.outreach.state import RECONCILIATION_SETS

ctx = ui.page_context(__file__)
incident, zone = ctx.incident, ctx.incident.display_timezone
st.title("Outreach")
st.caption("Who has been told, through which channel, and what came back. Each customer counts once per phase and "
           "channel, by their latest delivery event, however many reports mention them.")
ui.show_flash()

phases = phase_progress(ctx.engine, actor=ctx.actor, incident_id=incident.id)
labels = {r.key: f"{r.phase} ({r.status})" for r in phases.itertuples()}
cells = outreach_cells(ctx.engine, actor=ctx.actor, incident_id=incident.id)
with_outreach = [key for key in labels if key in set(cells["key"])]
sent_phases = [r.key for r in phases.itertuples() if r.status in ("sent", "done")]
default = (with_outreach or sent_phases or list(labels) or [None])[0]
if not labels:
    st.info("This incident has no communication phases yet (see Communications).")
    st.stop()
phase_key = st.selectbox("Phase", list(labels), index=list(labels).index(default), format_func=labels.__getitem__,
                         key="outreach_phase")
phase_name = phases.loc[phases["key"] == phase_key, "phase"].iloc[0]
phase_cells = cells[cells["key"] == phase_key]
funnel = funnel_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id, phase_key=phase_key)
steps = dict(zip(funnel["step"], funnel["customers"]))
basis = funnel["basis"].iloc[0]


a, b, c, d, e = st.columns(5)
a.metric("To reach", count(steps["affected"]), help=f"From the {basis}.")
b.metric("Delivered", count(steps["delivered"]))
c.metric("Bounced or failed", count(steps["bounced"] + steps["failed"]))
d.metric("Replied or called back", count(steps["replied"]))
e.metric("Substitute notices", count(int(phase_cells["substitute_issued"].sum())),
         help="Entered by hand (Import & entry tab).")
if steps["affected"] or steps["targeted"]:
    parts = []
    if steps["affected"]:
        parts.append(f"delivered to {steps['delivered'] / steps['affected']:.1%} of the {count(steps['affected'])} "
                     f"to reach ({basis})")
    if steps["targeted"]:
        parts.append(f"{(steps['bounced'] + steps['failed']) / steps['targeted']:.1%} of the "
                     f"{count(steps['targeted'])} targeted bounced or failed")
    st.caption(f"{escape_markdown(phase_name)}: " + "; ".join(parts) + ".")

funnel_tab, breakdown_tab, reconcile_tab, bounce_tab, lookup_tab, inquiry_tab, import_tab = st.tabs(
    ["Funnel & progress", "By region & segment", "Reconciliation", "Bounces", "Customer lookup", "Inquiries",
     "Import & entry"])

with funnel_tab:
    left, right = st.columns(2)
    left.plotly_chart(charts.outreach_funnel(funnel, phase=phase_name), key="outreach_funnel")
    hourly = outreach_over_time(ctx.engine, actor=ctx.actor, incident_id=incident.id, phase_key=phase_key)
    right.plotly_chart(charts.outreach_over_time(hourly, phase=phase_name, target=int(steps["affected"]), zone=zone),
                       key="outreach_over_time")
    st.markdown("**By channel**")
    by_channel = (phase_cells.groupby(["channel", "source"], as_index=False)
                  [["targeted", "sent", "delivered", "bounced", "failed", "opened", "replied", "opted_out",
                    "substitute_issued"]].sum())
    ui.table(by_channel.assign(source=by_channel["source"].map({"report": "delivery reports",
                                                                    "entered": "entered by hand"})),
                 hide_index=True, key="outreach_by_channel",
                 column_config={"channel": st.column_config.TextColumn("Channel", width="medium"), "source": "Source",
                                **{m: st.column_config.NumberColumn(m.replace("_", " ").capitalize(), format="localized")
                                   for m in by_channel.columns if m not in ("channel", "source")}})
    if (phase_cells["source"] == "report").any() and (cells["source"] == "entered").any():
        st.caption("Where delivery reports cover a channel, they replace hand-entered counts for it.")

with breakdown_tab:
    progress_column = st.column_config.ProgressColumn("Share delivered", format="percent", min_value=0.0, max_value=1.0)
    numbers = {m: st.column_config.NumberColumn(m.capitalize(), format="localized")
               for m in ("targeted", "sent", "delivered", "bounced", "failed", "replied")}
    left, right = st.columns(2)
    for column, by in ((left, "region"), (right, "segment")):
        table = completion_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id, phase_key=phase_key, by=by)
        column.markdown(f"**By {by}** (lagging first)")
        ui.table(container=column, data=table[[by, "delivered_share", "targeted", "delivered", "bounced", "failed", "replied"]],
                         hide_index=True, key=f"completion_{by}",
                         column_config={by: by.capitalize(), "delivered_share": progress_column, **numbers})

with reconcile_tab:
    recon = reconciliation(ctx.engine, actor=ctx.actor, incident_id=incident.id)
    counts = recon.counts
    if not counts:
        st.info("Reconciliation needs a delivery report (Import & entry tab).")
    else:
        st.caption(f"Computed {local_time(recon.computed_at, zone)} ({escape_markdown(recon.computed_by)}) from every "
                   "delivery report "
                   + (f"against the affected-customers list of scope revision {recon.affected_revision_seq}."
                      if counts.get("affected_list") else "; no affected-customers list has been imported."))
        if recon.stale:
            st.warning(f"A newer affected-customers list (revision {recon.latest_affected_seq}) exists than the one "
                       "these figures were computed against.")
            if ui.can(ctx.actor, Action.record_outreach) and st.button("Recount against the latest list",
                                                                        key="recount"):
                ui.run_action(lambda: recompute_outreach(ctx.engine, actor=ctx.actor, incident_id=incident.id),
                              "Recounted outreach against the latest affected-customers list.")
        a, b, c = st.columns(3)
        a.metric("Affected customers (list)", count(counts.get("affected_customers")))
        b.metric("Targeted customers", count(counts.get("targeted")))
        c.metric("Rows in the affected file", count(counts.get("affected_rows")))
        rows = [{"list": label, "customers": counts.get(key, 0), "key": key}
                for key, (label, _sql) in RECONCILIATION_SETS.items()]
        ui.table(pd.DataFrame(rows)[["list", "customers"]], hide_index=True, key="reconciliation_table",
                     column_config={"customers": st.column_config.NumberColumn("Customers", format="localized")})
        if ui.can(ctx.actor, Action.record_outreach):
            st.caption("Each list holds pseudonymous customer ids only.")
            columns = st.columns(len(rows))
            for column, row in zip(columns, rows):
                column.download_button(
                    f"{row['list'].split(' (')[0]} ({count(row['customers'])})",
                    data=lambda key=row["key"]: reconciliation_ids_csv(
                        ctx.engine, actor=ctx.actor, incident_id=incident.id, key=key),
                    file_name=f"{incident.slug}-{row['key']}.csv", mime="text/csv", on_click="ignore",
                    disabled=not row["customers"], key=f"download_{row['key']}")

with bounce_tab:
    unreached = int(phase_cells["bounced"].sum() + phase_cells["failed"].sum())
    st.write(f"{count(unreached)} customers' notices for {escape_markdown(phase_name)} bounced or failed. "
             "They need another channel "
             "or a substitute notice (postal letter, web notice).")
    if ui.can(ctx.actor, Action.record_outreach):
        st.download_button(
            "Download the bounce follow-up list (CSV)",
            data=lambda: bounce_list_csv(ctx.engine, actor=ctx.actor, incident_id=incident.id, phase_key=phase_key),
            file_name=f"{incident.slug}-{phase_key}-bounces.csv", mime="text/csv", on_click="ignore",
            disabled=not unreached or not (phase_cells["source"] == "report").any(), key="download_bounces",
            help="Per customer and channel: status, event time, vendor reference, region, segment and whether "
                 "another channel reached them. From delivery reports only.")


@ui.live_fragment(run_every=None)
def customer_lookup() -> None:
    """A lookup reruns this fragment only, not the whole page."""
    if not ui.can(ctx.actor, Action.lookup_customer):
        st.info("Support agents (PR role) look up a customer's notifications here.")
    else:
        with st.form("customer_lookup"):
            customer_id = st.text_input("Pseudonymous customer id", max_chars=128, key="lookup_id",
                                        placeholder="e.g. cus_9e3779b97f4a7c15")
            look_up = st.form_submit_button("Look up")
        if look_up:
            try:
                history = customer_history(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                           customer_id=customer_id)
            except BreachdashError as exc:
                ui.show_error(exc)
            else:
                if history.affected:
                    # Region and segment come from an imported file: shown as typed, never as markup.
                    st.success(f"In the affected-customers list: region {escape_markdown(history.affected['region'])}, "
                               f"segment {escape_markdown(history.affected['segment'] or '—')}.", icon="🎯")
                else:
                    st.warning("Not in the latest affected-customers list.", icon="🔍")
                if history.events.empty:
                    st.write("No notification events for this id.")
                else:
                    st.markdown("**Current state per phase and channel**")
                    labels = {"phase": "Phase", "channel": "Channel", "status": "Status", "event_time": "Event time",
                              "vendor_ref": "Vendor reference", "report": "From report"}
                    ui.table(history.states.assign(event_time=history.states["event_time"].map(
                        lambda v: local_time(v, zone))), hide_index=True, key="lookup_states", column_config=labels)
                    st.markdown("**Every event received**")
                    ui.table(history.events.assign(event_time=history.events["event_time"].map(
                        lambda v: local_time(v, zone))), hide_index=True, key="lookup_events", column_config=labels)


with lookup_tab:
    customer_lookup()

with inquiry_tab:
    days = inquiry_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id)
    st.plotly_chart(charts.inquiries_vs_capacity(days), key="inquiries_chart")
    if ui.can(ctx.actor, Action.record_outreach):
        st.caption("One row per day. Calls and mailbox messages received; call capacity is what the call centre can "
                   "answer that day.")
        shown_versions = ui.version_seen(f"inquiry_days:{incident.id}", inquiry_versions(days))
        edited = st.data_editor(
            days, num_rows="dynamic", hide_index=True, key="inquiry_editor",
            column_config={"version": None,
                           "day": st.column_config.DateColumn("Day", required=True),
                           "calls": st.column_config.NumberColumn("Calls", min_value=0, step=1),
                           "mailbox": st.column_config.NumberColumn("Mailbox", min_value=0, step=1),
                           "call_capacity": st.column_config.NumberColumn("Call capacity", min_value=0, step=1),
                           "note": st.column_config.TextColumn("Note", max_chars=500)})
        if st.button("Save inquiry volumes", key="save_inquiries"):
            rows = [{k: v for k, v in row.items()
                     if k != "version" and not (v is None or (not isinstance(v, str) and pd.isna(v)))}
                    for row in edited.to_dict("records")]
            ui.run_action(lambda: save_inquiry_days(ctx.engine, actor=ctx.actor, incident_id=incident.id, rows=rows,
                                                    shown_versions=shown_versions),
                          lambda changed: f"Saved inquiry volumes ({changed} days changed).")
        with st.form("inquiry_upload"):
            inquiry_file = st.file_uploader("Or import a CSV (day, calls, mailbox, call_capacity, note)", type=["csv"],
                                            key="inquiry_file")
            if st.form_submit_button("Import inquiry volumes") and inquiry_file is not None:
                ui.run_action(lambda: save_inquiry_days(
                    ctx.engine, actor=ctx.actor, incident_id=incident.id,
                    rows=parse_inquiry_csv(inquiry_file.getvalue())),
                    lambda changed: f"Imported inquiry volumes ({changed} days changed).", clear=["inquiry_file"])

with import_tab:
    reports = delivery_reports_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id)
    if not reports.empty:
        st.markdown("**Delivery reports imported**")
        ui.table(reports.assign(imported_at=reports["imported_at"].map(lambda v: local_time(v, zone)),
                                    first_event=reports["first_event"].map(lambda v: local_time(v, zone)),
                                    last_event=reports["last_event"].map(lambda v: local_time(v, zone))),
                     hide_index=True, key="reports_table",
                     column_config={"imported_at": "Imported", "file": "File", "first_event": "First event",
                                    "last_event": "Last event", "imported_by": "By", "sha256": "SHA-256 (start)",
                                    "events": st.column_config.NumberColumn("Events", format="localized"),
                                    "customers": st.column_config.NumberColumn("Customers", format="localized"),
                                    "states_changed": st.column_config.NumberColumn("States changed",
                                                                                    format="localized")})
    if not ui.can(ctx.actor, Action.record_outreach):
        st.info("PR imports delivery reports and records outreach.")
    else:
        st.caption("A vendor's delivery-status report, CSV or Parquet, with pseudonymous customer ids "
                   "(docs/file-formats.md). Re-imports are refused; overlapping reports never double-count. Larger "
                   "files: python -m breachdash import-outreach FILE --incident SLUG")
        with st.form("import_delivery"):
            upload = st.file_uploader("Delivery-status report", type=["csv", "parquet"], key="delivery_file")
            pseudonymous = st.checkbox(IDS_OVERRIDE_LABEL, key="delivery_ids_pseudonymous",
                                       help="Only if you know they are: the override is recorded in the audit log.")
            start_import = st.form_submit_button("Import report", type="primary")
        if start_import and upload is None:
            st.warning("Choose a file first.")
        elif start_import:
            ui.import_upload(upload, lambda path, progress: import_delivery_report(
                ctx.engine, actor=ctx.actor, incident_id=incident.id, path=path, progress=progress,
                ids_are_pseudonymous=pseudonymous),
                lambda summary: f"Imported {summary.file_name}: {summary.describe()}.",
                clear=["delivery_file", "delivery_ids_pseudonymous"])

        st.markdown("**Enter counts by hand** (channels without per-customer reports: web notice, press release, "
                    "phone campaigns, substitute notices)")
        phase_ids = dict(zip(phases["key"], phases["phase_id"]))
        with st.form("record_outreach"):
            a, b, c = st.columns(3)
            channel = a.selectbox("Channel", [ch.value for ch in OUTREACH_CHANNELS], key="entry_channel")
            region = b.text_input("Region (ISO 3166, optional)", max_chars=10, key="entry_region")
            segment = c.text_input("Segment (optional)", max_chars=60, key="entry_segment")
            measures = ["targeted", "sent", "delivered", "bounced", "failed", "opened", "replied", "opted_out",
                        "substitute_issued"]
            values = {}
            for index, columns in enumerate((st.columns(5), st.columns(4))):
                for column, measure in zip(columns, measures[index * 5:index * 5 + len(columns)]):
                    values[measure] = column.number_input(measure.replace("_", " ").capitalize(), min_value=0,
                                                          step=1, key=f"entry_{measure}")
            if st.form_submit_button("Save counts"):
                ui.run_action(lambda: record_outreach(
                    ctx.engine, actor=ctx.actor, phase_id=int(phase_ids[phase_key]),
                    counts_in={"channel": channel, "region": region, "segment": segment,
                               **{m: int(v) for m, v in values.items()}}),
                    f"Saved {channel} counts for {phase_name}.")
