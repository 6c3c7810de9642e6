"""Incident timeline: the documented record — what happened, when it became known, who
recorded it — with milestones, durations, "as known at", corrections, and exports for Legal."""
from datetime import time, timedelta

import pandas as pd
import streamlit as st

from breachdash import charts, ui
from breachdash.auth.models import Role
from breachdash.auth.rules import Action
from breachdash.common import utcnow
from breachdash.display import duration_text, escape_markdown, local_time, moment
from breachdash.exports import FORMATS, export_file_name, export_timeline
from breachdash.incidents.models import MILESTONE_NAMES, TimePrecision
from breachdash.incidents.service import set_milestone
from breachdash.remediation.models import ActionCategory, ActionStatus
from breachdash.remediation.service import actions_frame, add_action, set_action_status
from breachdash.scope.service import revision_history, scope_state
from breachdash.timeline.models import EventKind
from breachdash.timeline.rules import local_input_to_utc, local_to_utc, milestone_durations
from breachdash.timeline.service import (
    add_event,
    correct_event,
    milestone_precisions_as_known_at,
    milestones_as_known_at,
    retract_event,
    timeline_frame,
)

ctx = ui.page_context(__file__)
incident = ctx.incident
# Saves are judged against the versions this person was shown (see ui.version_seen).
incident_version_seen = ui.version_seen(f"incident_{incident.id}", incident.version)
st.title("Incident timeline")
ui.show_flash()

controls = st.columns([2, 2, 3])
zone = controls[0].text_input("Show times in (IANA zone)", value=incident.display_timezone, key="tl_zone")
try:
    local_to_utc(utcnow().date(), time(12, 0), zone)
except ValueError as exc:
    st.error(escape_markdown(str(exc)))
    zone = incident.display_timezone
known_at_on = controls[1].toggle("As known at…", key="tl_known_toggle",
                                 help="Show only what had been recorded by a moment: what we knew when we said X.")
as_known_at = None
if known_at_on:
    now_local = pd.Timestamp(utcnow()).tz_convert(zone)
    day = controls[2].date_input("Date", value=now_local.date(), key="tl_known_day")
    clock = controls[2].time_input("Time", value=time(now_local.hour, now_local.minute), key="tl_known_time")
    try:
        as_known_at = local_to_utc(day, clock, zone)
    except ValueError as exc:
        st.error(escape_markdown(str(exc)))
    if as_known_at is not None:
        st.info(f"Showing the record as known at {local_time(as_known_at, zone)}: entries recorded later, and "
                "later corrections or retractions, are hidden.", icon="🕰️")

events = timeline_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id, as_known_at=as_known_at)
milestones = milestones_as_known_at(ctx.engine, actor=ctx.actor, incident_id=incident.id, as_known_at=as_known_at)
history = revision_history(ctx.engine, actor=ctx.actor, incident_id=incident.id, as_known_at=as_known_at)

precisions = milestone_precisions_as_known_at(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                              as_known_at=as_known_at)
if as_known_at is not None:
    known_scope = scope_state(ctx.engine, actor=ctx.actor, incident_id=incident.id, as_known_at=as_known_at)
    if known_scope is None:
        st.write("No scope estimate had been recorded by then.")
    else:
        st.markdown("**Scope as known then**")
        for population in known_scope.populations:
            st.text(f"{population.label} (revision {population.seq}): {population.figure.describe(population.unit)}")
        types = ", ".join(f"{row.name} ({row.status})" for row in
                          known_scope.data_types.drop_duplicates("data_type").itertuples()) or "none"
        st.text(f"Exposed data types then: {types}")

st.subheader("Milestones")
MILESTONES_PER_ROW = 6  # eleven in one row cut every date to "02…"
names = list(MILESTONE_NAMES.items())
for start in range(0, len(names), MILESTONES_PER_ROW):
    for col, (field, name) in zip(st.columns(MILESTONES_PER_ROW), names[start:start + MILESTONES_PER_ROW]):
        when, precision = milestones.get(field), precisions.get(field, "exact")
        col.metric(name, moment(when, precision, zone) if precision != "exact" else
                   (local_time(when, zone, "%d %b") if when else "—"))
        if when:
            col.caption(f"known to the {precision}; clocks use its earliest moment" if precision in ("day", "month")
                        else ("approximate" if precision == "approximate" else local_time(when, zone, "%Y %H:%M %Z")))
durations = milestone_durations(milestones, precisions, zone)
for start in range(0, len(durations), 3):
    for col, item in zip(st.columns(3), durations[start:start + 3]):
        col.metric(item.name, duration_text(item), help=item.definition)
        if item.flag:
            col.warning(f"Check: {item.flag}.", icon="⚠️")

st.plotly_chart(charts.incident_timeline(events, milestones, history, zone=zone, precisions=precisions),
                key="timeline_chart")

st.subheader("Entries")
filters = st.columns([3, 2])
kinds = filters[0].multiselect("Kinds", [k.value for k in EventKind], key="tl_kinds", placeholder="all kinds")
show_history = filters[1].toggle("Show superseded and retracted entries", value=True, key="tl_history")
table = events
if kinds:
    table = table[table["kind"].isin(kinds)]
if not show_history:
    table = table[~table["state"].isin(["superseded", "retracted"])]
ui.table(
    table.assign(happened=[moment(v, p, zone) for v, p in zip(table["occurred_at"], table["precision"])],
                 recorded=table["recorded_at"].map(lambda v: local_time(v, zone)))[
        ["id", "happened", "precision", "kind", "title", "detail", "systems", "source_ref", "recorded",
         "recorded_by", "state", "supersedes", "superseded_by", "retraction_reason"]],
    hide_index=True, key="events_table",
    column_config={"id": "#", "happened": "Happened", "precision": "Precision", "kind": "Kind", "title": "What",
                   "detail": "Detail", "systems": "Systems", "source_ref": "Source", "recorded": "Recorded",
                   "recorded_by": "By", "state": "State", "supersedes": "Corrects #",
                   "superseded_by": "Corrected by #", "retraction_reason": "Why retracted"},
)

st.subheader("Export for Legal")
export_cols = st.columns(len(FORMATS))
for col, (fmt, mime) in zip(export_cols, FORMATS.items()):
    # A callable: the document is produced when the button is clicked, not on every rerun.
    col.download_button(
        f"Download {fmt.upper()}", mime=mime, key=f"export_{fmt}",
        file_name=export_file_name(incident.slug, "timeline", fmt, as_known_at=as_known_at, zone=zone),
        data=lambda fmt=fmt: export_timeline(ctx.engine, actor=ctx.actor, incident_id=incident.id, fmt=fmt,
                                             as_known_at=as_known_at, zone=zone))
st.caption("Every export holds the systems involved, milestones, durations with their definitions, who recorded "
           "each entry and when, and the superseded and retracted entries.")

st.subheader("Containment, remediation and post-incident actions")
actions = actions_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id)
action_versions_seen = ui.version_seen(f"actions_{incident.id}",
                                       {int(r.id): int(r.version) for r in actions.itertuples()})
if actions.empty:
    st.write("No actions tracked yet.")
else:
    ui.table(
        actions.assign(due=actions["due_at"].map(lambda v: local_time(v, zone)),
                       done=actions["done_at"].map(lambda v: local_time(v, zone)))[
            ["action", "category", "owner_role", "status", "due", "done", "done_by"]],
        hide_index=True, key="actions_table",
        column_config={"action": "Action", "category": "Category", "owner_role": "Owner", "status": "Status",
                       "due": "Due", "done": "Done", "done_by": "Done by"})
if ui.can(ctx.actor, Action.manage_actions) and as_known_at is None:
    left, right = st.columns(2)
    with left, st.form("add_action"):
        st.markdown("**Track an action**")
        text_ = st.text_input("Action", max_chars=300, key="action_text")
        a, b = st.columns(2)
        category = a.selectbox("Category", [c.value for c in ActionCategory], index=1, key="action_category")
        owner = b.selectbox("Owner role", [r.value for r in Role if r != Role.admin], key="action_owner",
                            format_func=lambda value: Role(value).label)
        due_day = st.date_input("Due", value=utcnow().date() + timedelta(days=7), key="action_due")
        if st.form_submit_button("Add action"):
            ui.run_action(lambda: add_action(ctx.engine, actor=ctx.actor, incident_id=incident.id, action_in={
                "action": text_, "category": category, "owner_role": owner,
                "due_at": local_input_to_utc(due_day, time(17, 0), zone, field="due")}), "Action added.",
                clear=["action_text", "action_category", "action_owner", "action_due"])
    open_actions = actions[actions["status"] != "done"]
    with right, st.form("action_status"):
        st.markdown("**Update an action**")
        if open_actions.empty:
            st.write("Every action is done.")
            st.form_submit_button("Save", disabled=True)
        else:
            labels = {int(r.id): f"{r.action[:70]} ({r.status})" for r in open_actions.itertuples()}
            chosen = st.selectbox("Action", list(labels), format_func=labels.__getitem__, key="status_action")
            new_status = st.radio("Status", [s_.value for s_ in ActionStatus], horizontal=True, key="status_value")
            if st.form_submit_button("Save"):
                row = open_actions[open_actions["id"] == chosen].iloc[0]
                ui.run_action(lambda: set_action_status(ctx.engine, actor=ctx.actor, action_id=chosen,
                                                        status=new_status,
                                                        expected_version=action_versions_seen.get(chosen, int(row["version"]))),
                              f"Action marked {new_status}.")


def _event_fields(prefix: str, defaults: dict | None = None) -> dict:
    """The shared event inputs of the add and correct forms; times are entered in a chosen zone."""
    defaults = defaults or {}
    now_here = pd.Timestamp(utcnow()).tz_convert(zone)
    a, b, c = st.columns(3)
    day = a.date_input("Date it happened", value=defaults.get("day", now_here.date()), key=f"{prefix}_day")
    clock = b.time_input("Time", value=defaults.get("time", time(now_here.hour, now_here.minute)), step=60,
                         key=f"{prefix}_time")
    event_zone = c.text_input("Time zone", value=defaults.get("zone", zone), key=f"{prefix}_zone")
    a, b = st.columns(2)
    kind = a.selectbox("Kind", [k.value for k in EventKind], key=f"{prefix}_kind",
                       index=[k.value for k in EventKind].index(defaults.get("kind", "other")))
    precision = b.selectbox("Precision", [p.value for p in TimePrecision], key=f"{prefix}_precision",
                            index=[p.value for p in TimePrecision].index(defaults.get("precision", "exact")))
    title = st.text_input("Title", value=defaults.get("title", ""), max_chars=300, key=f"{prefix}_title")
    detail = st.text_area("Factual detail", value=defaults.get("detail", ""), max_chars=20_000, key=f"{prefix}_detail")
    a, b = st.columns(2)
    systems = a.text_input("Systems involved (comma-separated)", value=defaults.get("systems", ""),
                           max_chars=10_000, key=f"{prefix}_systems")
    source = b.text_input("Source / evidence reference", value=defaults.get("source", ""), max_chars=500,
                          key=f"{prefix}_source")
    return {"day": day, "time": clock, "zone": event_zone, "kind": kind, "precision": precision, "title": title,
            "detail": detail, "systems": systems, "source": source}


def _event_in(fields: dict) -> dict:
    occurred = local_input_to_utc(fields["day"], fields["time"], fields["zone"], field="occurred_at")
    return {"occurred_at": occurred, "occurred_precision": fields["precision"], "kind": fields["kind"],
            "title": fields["title"], "detail": fields["detail"],
            "systems": [s for s in fields["systems"].split(",") if s.strip()], "source_ref": fields["source"]}


if ui.can(ctx.actor, Action.record_timeline_event) and as_known_at is None:
    add_tab, correct_tab, retract_tab, milestone_tab = st.tabs(
        ["Add an entry", "Correct an entry", "Retract an entry", "Set a milestone"])
    with add_tab, st.form("add_event"):
        fields = _event_fields("add")
        if st.form_submit_button("Add entry", type="primary"):
            ui.run_action(lambda: add_event(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                            event_in=_event_in(fields)),
                          lambda event: f"Added entry {event.id}.",
                          clear=[f"add_{name}" for name in ("day", "time", "zone", "kind", "precision", "title",
                                                            "detail", "systems", "source")])
    editable = events[events["editable"]]
    labels = {int(r.id): f"#{r.id} · {local_time(r.occurred_at, zone, '%d %b %H:%M')} · {r.title[:60]}"
              for r in editable.itertuples()}
    with correct_tab:
        if not labels:
            st.write("No entries that people recorded yet.")
        else:
            chosen = st.selectbox("Entry to correct", list(labels), format_func=labels.__getitem__, key="correct_id")
            original = editable[editable["id"] == chosen].iloc[0]
            local = original["occurred_at"].tz_convert(zone)
            with st.form("correct_event"):
                fields = _event_fields(f"correct_{chosen}", {
                    "day": local.date(), "time": local.time().replace(second=0, microsecond=0), "zone": zone,
                    "kind": original["kind"], "precision": original["precision"], "title": original["title"],
                    "detail": original["detail"], "systems": original["systems"], "source": original["source_ref"]})
                reason = st.text_input("Why the correction", max_chars=2_000, key=f"correct_reason_{chosen}")
                if st.form_submit_button("Record correction", type="primary"):
                    ui.run_action(lambda: correct_event(ctx.engine, actor=ctx.actor, event_id=chosen,
                                                        event_in=_event_in(fields), reason=reason),
                                  lambda event: f"Entry #{chosen} is superseded by #{event.id}; both stay on the record.")
    with retract_tab:
        if not labels:
            st.write("No entries that people recorded yet.")
        else:
            with st.form("retract_event"):
                chosen = st.selectbox("Entry to retract", list(labels), format_func=labels.__getitem__,
                                      key="retract_id")
                reason = st.text_input("Why it is retracted (required)", max_chars=2_000, key="retract_reason")
                if st.form_submit_button("Retract entry"):
                    ui.run_action(lambda: retract_event(ctx.engine, actor=ctx.actor, event_id=chosen, reason=reason),
                                  f"Entry #{chosen} is retracted; it stays on the record, marked so.")
    with milestone_tab, st.form("set_milestone"):
        field = st.selectbox("Milestone", list(MILESTONE_NAMES), format_func=MILESTONE_NAMES.__getitem__,
                             key="ms_field")
        a, b, c, d = st.columns(4)
        now_here = pd.Timestamp(utcnow()).tz_convert(zone)
        day = a.date_input("Date", value=now_here.date(), key="ms_day")
        clock = b.time_input("Time", value=time(now_here.hour, now_here.minute), step=60, key="ms_time")
        ms_zone = c.text_input("Time zone", value=zone, key="ms_zone")
        precision = d.selectbox("Precision", [p.value for p in TimePrecision], key="ms_precision")
        if st.form_submit_button("Set milestone", type="primary"):
            ui.run_action(lambda: set_milestone(
                ctx.engine, actor=ctx.actor, incident_id=incident.id, milestone=field,
                at=local_input_to_utc(day, clock, ms_zone, field="time"), expected_version=incident_version_seen,
                precision=precision),
                lambda updated: f"{MILESTONE_NAMES[field]} set to "
                                f"{moment(getattr(updated, field), precision, zone)}.")
elif as_known_at is not None:
    st.caption("Switch off “As known at” to add or correct entries.")
