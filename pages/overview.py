"""Overview: where we stand on the selected incident — scope, exposure, phases, deadlines."""
import pandas as pd
import streamlit as st

from breachdash import charts, ui
from breachdash.analytics import overview
from breachdash.display import compact, count, countdown, duration, local_time
from breachdash.remediation.service import actions_frame

ctx = ui.page_context(__file__)
data = overview(ctx.engine, actor=ctx.actor, incident_id=ctx.incident.id)
incident, scope, zone = data.incident, data.scope, data.incident.display_timezone

st.title(incident.title)
st.caption(f"{incident.company} · status: {incident.status} · times in {zone} · read {local_time(data.read_at, zone)}")

# Headline figures
cols = st.columns(4)
if scope is None:
    cols[0].metric("Affected (best estimate)", "no estimate yet")
else:
    delta = None if scope.previous_best is None else scope.best - scope.previous_best
    cols[0].metric(
        f"Affected {scope.unit}", count(scope.best),
        delta=None if delta is None else (f"{delta:+,} since revision {scope.seq - 1}" if delta
                                          else f"unchanged since revision {scope.seq - 1}"),
        delta_color="inverse" if delta else "off",
        help="Latest scope revision; the delta compares with the previous one.",
    )
    cols[1].metric("Range (low – high)", f"{compact(scope.low)} – {compact(scope.high)}",
                   help=f"{count(scope.low)} – {count(scope.high)} {scope.unit}")
    cols[2].metric("Revision", f"#{scope.seq}", help=f"confidence: {scope.confidence}")
    cols[2].caption(f"by {scope.recorded_by}, {local_time(scope.recorded_at, zone)}")
since_detection = (data.read_at - incident.detected_at) if incident.detected_at else None
cols[3].metric("Since detection", duration(since_detection) if since_detection else "not detected")
if incident.contained_at and incident.detected_at:
    cols[3].caption(f"✅ contained {local_time(incident.contained_at, zone)}, "
                    f"{duration(incident.contained_at - incident.detected_at)} after detection")
else:
    cols[3].caption("⏳ not yet contained")

# Financial exposure first: the question leadership asks before any other.
ui.financial_callout(data.financial)

left, right = st.columns([1, 1])
with left:
    if scope is not None:
        st.plotly_chart(charts.estimate_trend(data.history, unit=scope.unit), key="estimate_trend")
        other_units = set(data.history["unit"]) - {scope.unit}
        if other_units:
            st.caption(f"Earlier revisions counted {', '.join(sorted(other_units))}; they are not drawn on this axis.")
with right:
    st.subheader("Exposed data types")
    if scope is None or scope.data_types.empty:
        st.write("None recorded yet.")
    else:
        st.dataframe(
            scope.data_types[["name", "tier_name", "count", "status"]], hide_index=True, key="data_types",
            column_config={"name": "Data type", "tier_name": "Tier",
                           "count": st.column_config.NumberColumn("Customers", format="localized"),
                           "status": "Status"},
        )

st.subheader("Communication phases")
for phase in data.phases.itertuples():
    a, b, c = st.columns([2, 2, 3])
    a.markdown(f"**{phase.position}. {phase.phase}**")
    a.caption(f"to {phase.audience} · target {local_time(phase.target_at, zone, '%d %b')}")
    b.markdown(f"`{phase.status}`")
    if pd.notna(phase.latest_version):
        b.caption(f"draft v{int(phase.latest_version)}" +
                  (f" · awaiting {phase.approvals_missing}" if phase.approvals_missing else " · approved"))
    done, total = int(phase.checklist_done), int(phase.checklist_total)
    c.progress(done / total if total else 0.0, text=f"checklist {done}/{total}")

open_actions = actions_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id, open_only=True)
if not open_actions.empty:
    st.subheader("Open actions")
    st.dataframe(
        open_actions.assign(due=open_actions["due_at"].map(lambda v: local_time(v, zone, "%d %b")))[
            ["action", "category", "owner_role", "status", "due"]],
        hide_index=True, key="open_actions",
        column_config={"action": "Action", "category": "Category", "owner_role": "Owner", "status": "Status",
                       "due": "Due"})

bottom_left, bottom_right = st.columns(2)
with bottom_left:
    st.subheader("Outreach")
    if data.outreach.empty:
        st.write("No outreach recorded yet.")
    else:
        for row in data.outreach.itertuples():
            reached = row.delivered / row.targeted if row.targeted else 0.0
            st.progress(min(reached, 1.0), text=f"{row.phase}: {count(row.delivered)} of {count(row.targeted)} "
                                                f"delivered · {count(row.bounced)} bounced · {count(row.replied)} replies")
with bottom_right:
    st.subheader("Next deadlines")
    due = data.obligations[data.obligations["due_at"].notna()]
    if data.obligations.empty:
        st.write("No open obligations.")
    else:
        for row in due.head(3).itertuples():
            flag = " ⚠" if row.flags else ""
            st.markdown(f"**{countdown(row.due_at, data.read_at)}** · {row.rule_id}{flag} → {row.recipient_name}")
            st.caption(f"due {local_time(row.due_at, zone)} · {row.status} · {row.regime}")
        elapsed = len(data.obligations) - len(due)
        st.caption(f"{len(data.obligations)} open obligations ({count(int((data.obligations['status'] == 'late').sum()))} "
                   f"late); {elapsed} without a fixed deadline or with the clock not yet started. See Obligations.")
        if data.scope is not None:
            new = data.obligations[data.obligations["applies_since"].notna()
                                   & (data.obligations["applies_since"] >= data.scope.recorded_at)]
            if not new.empty:
                st.warning(f"New since revision {data.scope.seq}: " + ", ".join(new["rule_id"].head(6))
                           + (" …" if len(new) > 6 else ""), icon="🆕")
