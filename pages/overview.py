"""Overview: where we stand, what changed since the last review, what is due — at one glance,
refreshed live; the briefing for the status review; and every open incident side by side."""
import streamlit as st

from breachdash import charts, ui
from breachdash.analytics import overview, portfolio
from breachdash.auth.rules import Action
from breachdash.briefing import export_briefing
from breachdash.exports import export_file_name
from breachdash.display import count, countdown, duration, escape_markdown, local_time
from breachdash.outreach.service import funnel_frame
from breachdash.remediation.service import actions_frame
from breachdash.reporting import scope_view
from breachdash.reviews.rules import TIER_CALLOUTS
from breachdash.reviews.service import reviews_frame, since_review, start_review

ctx = ui.page_context(__file__)
incident, zone = ctx.incident, ctx.incident.display_timezone
st.title(escape_markdown(incident.title))
ui.show_flash()

REFRESH_CHOICES = [0, 30, 60, 300]
CONFIRM_REVIEW_KEY = "overview_confirm_review"


@st.dialog("Start a review?", dismissible=False)
def confirm_start_review() -> None:
    """Starting a review moves everyone's 'since the last review' to now: the person confirms it."""
    st.write("This records where the incident stands now as a new review. Everyone's “since the last "
             "review” will then list only what changes after this moment; earlier reviews stay "
             "available to compare with.")
    yes, no = st.columns(2)
    if yes.button("Start the review", type="primary", key="confirm_start_review"):
        st.session_state.pop(CONFIRM_REVIEW_KEY, None)
        ui.run_action(lambda: start_review(ctx.engine, actor=ctx.actor, incident_id=incident.id),
                      lambda marker: f"Review started {local_time(marker.started_at, zone)}.")
    if no.button("Cancel", key="cancel_start_review"):
        st.session_state.pop(CONFIRM_REVIEW_KEY, None)
        st.rerun()


# The headline comes first (on a phone too); the refresh selector and the buttons are drawn under it,
# inside the live part, so the interval the fragment runs at is read from the selector's state.
interval = st.session_state.get("overview_refresh", 60)


def controls() -> None:
    """Live refresh, Start review and the briefing downloads, under the headline figures."""
    row = st.columns([2, 2, 2, 2])
    chosen = row[0].selectbox("Live refresh", REFRESH_CHOICES, index=REFRESH_CHOICES.index(60), key="overview_refresh",
                              label_visibility="collapsed",  # its choices say what it is; one line less
                              format_func=lambda s: "Live refresh: off" if s == 0 else (
                                  f"Live refresh: every {s} s" if s < 60 else f"Live refresh: every {s // 60} min"))
    if chosen != interval:  # a new interval needs a full run to restart the live part at it
        st.rerun(scope="app")
    if ui.can(ctx.actor, Action.start_review) and row[1].button(
            "Start review", key="start_review",
            help="Record this moment as a review: 'since the last review' then lists what changes after it. "
                 "You are asked to confirm."):
        st.session_state[CONFIRM_REVIEW_KEY] = True
        st.rerun(scope="app")  # the confirmation opens from the page, outside the live part
    for column, fmt, label in ((row[2], "pdf", "Briefing (PDF)"), (row[3], "md", "Briefing (Markdown)")):
        column.download_button(label, data=lambda fmt=fmt: export_briefing(ctx.engine, actor=ctx.actor,
                                                                           incident_id=incident.id, fmt=fmt)[0],
                               file_name=export_file_name(incident.slug, "briefing", fmt, zone=zone),
                               mime="application/pdf" if fmt == "pdf" else "text/markdown", on_click="ignore",
                               key=f"briefing_{fmt}")


@ui.live_fragment(run_every=interval or None)
def live() -> None:
    """Everything below refreshes in place at the chosen interval; its age is shown."""
    data = overview(ctx.engine, actor=ctx.actor, incident_id=incident.id)
    reviews = reviews_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id, zone=zone)
    compare_with = st.session_state.get("compare_review")
    if compare_with not in reviews["review_id"].tolist()[1:]:
        compare_with = None  # the latest review
    since = since_review(ctx.engine, actor=ctx.actor, incident_id=incident.id, review_id=compare_with)
    scope, current = data.scope, data.incident
    refresh = f"refreshes every {interval} s" if interval else "live refresh is off: reload to update"
    st.caption(f"{escape_markdown(current.company)} · status: {current.status} · times in {zone} · figures as of "
               f"{local_time(data.read_at, zone, '%Y-%m-%d %H:%M:%S %Z')} ({refresh})")

    items = scope_view.overview_figures(scope, zone)
    lines = scope_view.populations_lines(scope)
    cols = st.columns(len(items) + 1 if items else [3, 1])
    if lines:
        cols[0].markdown("**Affected, by population**  \n" + "  \n".join(escape_markdown(line) for line in lines))
    for column, item in zip(cols, items):
        column.metric(item.label, item.value, delta=item.delta, delta_color="off",
                      delta_arrow=scope_view.delta_arrow(item.delta),
                      help="Each population's latest revision; a change is shown against its previous revision "
                           "in the same unit.")
        column.caption(escape_markdown(item.caption))
    if since.marker is not None and scope is not None:
        cols[0].caption(escape_markdown(f"since the last review: {scope_view.review_change(scope, since.marker.snapshot)}"))
    if scope_view.side_by_side_note(scope):
        st.caption(scope_view.side_by_side_note(scope))
    since_detection = (data.read_at - current.detected_at) if current.detected_at else None
    cols[-1].metric("Since detection", duration(since_detection) if since_detection else "not detected")
    if current.contained_at and current.detected_at:
        cols[-1].caption(f"✅ contained {local_time(current.contained_at, zone)}, "
                         f"{duration(current.contained_at - current.detected_at)} after detection")
    else:
        cols[-1].caption("⏳ not yet contained")

    controls()
    ui.financial_callout(data.financial)
    if scope is not None and not scope.data_types.empty:
        types = scope.data_types.drop_duplicates("data_type")
        sensitive = types[types["tier"].isin(TIER_CALLOUTS)]
        names = ", ".join(f"{r.name} ({r.status})" for r in sensitive.itertuples())
        others = len(types) - len(sensitive)
        st.caption(f"Exposed data types: {names or 'no financial, government ID, credential or health data'}"
                   + (f"; and {others} other type{'s' if others != 1 else ''}" if others else "") + ".")

    left, middle, right = st.columns(3)
    with left:
        st.subheader("Phases")
        for phase in data.phases.itertuples():
            done = phase.status in ("sent", "done")
            mark = "✅" if done else ("📝" if phase.status in ("drafting", "in review", "approved") else "·")
            waiting = f" · awaiting {phase.approvals_missing}" if phase.approvals_missing and not done else ""
            st.markdown(f"{mark} **{phase.position}. {escape_markdown(phase.phase)}** — {phase.status}{waiting}")
    with middle:
        st.subheader("Outreach")
        if data.outreach.empty:
            st.write("No outreach recorded yet.")
        for row in data.outreach.itertuples():
            reached = row.delivered / row.targeted if row.targeted else 0.0
            st.progress(min(reached, 1.0),
                        text=f"{escape_markdown(row.phase)}: {count(row.delivered)} of {count(row.targeted)} "
                             f"delivered · {count(row.bounced + row.failed)} bounced or failed")
    with right:
        st.subheader("Next deadlines")
        due = data.obligations[data.obligations["due_at"].notna() & (data.obligations["status"] != "filed late")]
        if due.empty:
            st.write("No deadline is running.")
        for row in due.head(3).itertuples():
            flag = " ⚠" if row.flags else ""
            st.markdown(f"**{countdown(row.due_at, data.read_at)}** · {escape_markdown(row.recipient_short)}{flag}")
            st.caption(f"due {local_time(row.due_at, zone)} · {row.status} · {row.regime} · rule {row.rule_id}")
        late = int(data.obligations["status"].isin(["late", "filed late"]).sum())
        open_ = int((data.obligations["status"] != "filed late").sum())
        st.caption(f"{open_} open obligations ({late} late, filed late included). See Obligations.")
        if scope is not None:
            new = data.obligations[data.obligations["applies_since"].notna()
                                   & (data.obligations["applies_since"] >= scope.recorded_at)]
            if not new.empty:
                st.warning(f"New since revision {scope.latest_seq}: " + ", ".join(new["recipient_short"].head(6))
                           + (" …" if len(new) > 6 else ""), icon="🆕")

    st.subheader("Since the last review" if compare_with is None else "Since an earlier review")
    if since.marker is None:
        st.write("No review started yet. **Start review** records the baseline.")
    else:
        if len(reviews) > 1:
            names = {int(r.review_id): f"{r.started} by {r.by}" + (" (latest)" if i == 0 else "")
                     for i, r in enumerate(reviews.itertuples())}
            st.selectbox("Compare with the review of", list(names), format_func=names.__getitem__,
                         key="compare_review")
        st.caption(f"Review started {local_time(since.marker.started_at, zone)} by "
                   f"{escape_markdown(since.marker.started_by)}.")
        if not since.changes:
            st.write("Nothing has changed since.")
        for change in since.changes:
            st.markdown(f"- **{change.kind}** — {escape_markdown(change.text)}")

    a, b, c = st.columns(3)
    small = dict(showlegend=False, height=300, title_font_size=13, margin=dict(l=10, r=10, t=40, b=10))
    if scope is not None:
        ui.chart(a, charts.estimate_trend, data.history, zone=zone, layout=small, key="estimate_trend")
        ui.chart(b, charts.exposure_by_type, scope.data_types,
                 layout=dict(title_text="Exposure by tier (red: financial)", **small), key="exposure_by_tier")
    if not data.outreach.empty:
        main = data.outreach.sort_values("targeted", ascending=False).iloc[0]
        ui.chart(c, charts.outreach_funnel, funnel_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                                         phase_key=main["key"]), phase=main["phase"],
                 layout=small, key="outreach_funnel_small")


live()
if st.session_state.get(CONFIRM_REVIEW_KEY):
    confirm_start_review()

open_actions = actions_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id, open_only=True)
if not open_actions.empty:
    st.subheader("Open actions")
    ui.table(
        open_actions.assign(due=open_actions["due_at"].map(lambda v: local_time(v, zone, "%d %b")))[
            ["action", "category", "owner_role", "status", "due"]],
        hide_index=True, key="open_actions",
        column_config={"action": "Action", "category": "Category", "owner_role": "Owner", "status": "Status",
                       "due": "Due"})

incidents = portfolio(ctx.engine, actor=ctx.actor)
if len(incidents) > 1:
    st.subheader("All open incidents")


    for row in incidents.itertuples():
        a, b, c, d = st.columns([3, 2, 3, 1])
        a.markdown(f"**{escape_markdown(row.incident)}** · {escape_markdown(row.company)}")
        b.write(f"{escape_markdown(row.affected)} · financial {row.financial} · "
                f"{'contained' if row.contained else 'not contained'}")
        c.write(f"phases sent {row.phases_sent}/{row.phases} · {row.late} late · worst: "
                f"{row.worst_rule or '—'} {local_time(row.worst_deadline, zone, '%d %b %H:%M') if row.worst_rule else ''}")
        d.button("Open", key=f"open_incident_{row.incident_id}", on_click=ui.open_incident, args=(int(row.incident_id),),
                 disabled=int(row.incident_id) == incident.id)
