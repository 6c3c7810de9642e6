"""Communications: the phases, their checklists, message versions with live checks, sign-offs
on exact text, and the sent log. No customer contact before Legal and PR agree one message."""

import pandas as pd
import streamlit as st

from breachdash import ui
from breachdash.auth.models import Role
from breachdash.auth.rules import Action
from breachdash.comms.models import Audience, Channel, Decision, PhaseStatus
from breachdash.comms.rules import ALLOWED_TRANSITIONS
from breachdash.comms.service import (
    approve_approver_change,
    fill_template,
    live_checks,
    mark_sent,
    phase_detail,
    phase_progress,
    reconfirm_sign_off,
    reject_approver_change,
    save_checklist,
    save_message,
    sign_off,
    templates,
    transition_phase,
    update_phase,
)
from breachdash.display import escape_markdown, local_time
from breachdash.errors import BreachdashError
from breachdash.common import utcnow
from breachdash.timeline.rules import local_input_to_utc

ctx = ui.page_context(__file__)
incident, zone = ctx.incident, ctx.incident.display_timezone
st.title("Communications")
st.caption("No customer contact before Legal and PR have agreed one factual message. Approvals bind to the exact "
           "text, and go stale when the facts they relied on change.")
ui.show_flash()

progress = phase_progress(ctx.engine, actor=ctx.actor, incident_id=incident.id)
ui.table(
    progress.assign(status=progress["status_shown"],
                    target=progress["target_at"].map(lambda v: local_time(v, zone, "%d %b %H:%M")),
                    checklist=progress.apply(lambda r: f"{int(r.checklist_done)}/{int(r.checklist_total)}", axis=1),
                    draft=progress["latest_version"].map(lambda v: "—" if pd.isna(v) else f"v{int(v)}"))[
        ["position", "phase", "audience", "status", "target", "checklist", "draft", "approvals_missing"]],
    hide_index=True, key="phase_table",
    column_config={"position": "#", "phase": "Phase", "audience": "Audience", "status": "Status",
                   "target": "Target", "checklist": "Checklist", "draft": "Latest draft",
                   "approvals_missing": "Awaiting approval from"})

# Labels without the status: a label that changes would reset the choice after every save.
labels = {int(r.phase_id): f"{r.position}. {r.phase}" for r in progress.itertuples()}
phase_id = st.selectbox("Phase", list(labels), format_func=labels.__getitem__, key="comms_phase")
detail = phase_detail(ctx.engine, actor=ctx.actor, phase_id=phase_id)
phase, latest = detail["phase"], detail["latest"]
# Plan edits, moves and sends are checked against the version this person was shown.
phase_version_seen = ui.version_seen(f"comms_phase_{phase_id}", phase.version)
# A draft is saved against the version its text started from (kept per phase in `base_key`): a
# version someone else saved meanwhile is refused with who and when, and the typed text is kept.
latest_number = latest.number if latest else None
latest_seen = ui.version_seen(f"comms_latest_message_{phase_id}", latest_number)
base_key, kept_key = f"draft_base_{phase_id}", f"draft_kept_{phase_id}"

checklist_tab, draft_tab, versions_tab, signoff_tab, status_tab = st.tabs(
    ["Checklist", "Draft", "Versions", "Sign-offs", "Status & sending"])

with checklist_tab:
    checklist = detail["checklist"]
    # Saves are judged against the ticks and versions this person was shown, so a tick someone
    # else changed meanwhile is refused ("changed by X — reload"), never silently overwritten.
    shown = ui.version_seen(f"checklist_{phase_id}", checklist[["id", "done", "version"]].to_dict("records"))
    ui.table(
        checklist.assign(due=checklist["due_at"].map(lambda v: local_time(v, zone, "%d %b")))[
            ["done", "item", "owner", "due", "done_by"]],
        hide_index=True, key=f"checklist_table_{phase_id}",
        column_config={"done": st.column_config.CheckboxColumn("Done"), "item": "Item", "owner": "Owner",
                       "due": "Due", "done_by": "Done by"})
    if ui.can(ctx.actor, Action.edit_checklist) and not checklist.empty:
        with st.form(f"checklist_form_{phase_id}"):
            ticks = {int(row.id): st.checkbox(escape_markdown(row.item), value=bool(row.done),
                                              key=f"tick_{phase_id}_{int(row.id)}")
                     for row in checklist.itertuples()}
            submitted = st.form_submit_button("Save checklist")
        if submitted:
            changed = [{"id": item["id"], "done": ticks[item["id"]], "version": item["version"]}
                       for item in shown if item["id"] in ticks and ticks[item["id"]] != bool(item["done"])]
            if changed:
                ui.run_action(lambda: save_checklist(ctx.engine, actor=ctx.actor, changes=changed),
                              lambda saved: f"Saved {saved} checklist change(s).")
            else:
                st.info("Nothing to save: tick or untick an item first.")

with draft_tab:
    if not ui.can(ctx.actor, Action.draft_message):
        st.info("PR and Legal draft messages; everyone can read every version.")
    else:
        names = {t["key"]: t["name"] for t in templates()}
        a, b, c = st.columns([2, 3, 1])
        template_key = a.selectbox("Start from a template", list(names), format_func=names.__getitem__,
                                   key=f"template_{phase_id}")
        contact = b.text_input("Contact line for the template", key=f"contact_{phase_id}", max_chars=500,
                               placeholder="e.g. call 0800 000 0000 or visit example.com/notice")
        if c.button("Use template", key=f"use_template_{phase_id}"):
            try:
                subject, body = fill_template(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                              template_key=template_key, contact_line=contact)
            except BreachdashError as exc:
                ui.show_error(exc)
            else:
                st.session_state[f"subject_{phase_id}"], st.session_state[f"body_{phase_id}"] = subject, body
                st.session_state[base_key] = latest_seen
        if f"body_{phase_id}" not in st.session_state:
            if latest is not None:
                st.session_state[f"subject_{phase_id}"] = latest.subject
                st.session_state[f"body_{phase_id}"] = latest.body
            st.session_state[base_key] = latest_number
        st.session_state.setdefault(base_key, latest_number)
        subject = st.text_input("Subject", key=f"subject_{phase_id}", max_chars=300)
        body = st.text_area("Message", key=f"body_{phase_id}", height=320, max_chars=200_000)
        checks = live_checks(ctx.engine, actor=ctx.actor, phase_id=phase_id, subject=subject, body=body)
        st.markdown("**Checks** (they warn; Legal decides)")
        st.caption("The checks update when you leave the message field, or press Ctrl+Enter in it.")
        if checks["warnings"]:
            for warning in checks["warnings"]:
                st.warning(warning, icon="⚠️")
        else:
            st.success("No warnings: plain language, all required elements, numbers and data types match the facts.")
        if checks["grade"] is not None:
            st.caption(f"Reading grade {checks['grade']:.1f}")
        with st.expander("Preview (shown as plain text, exactly as saved)"):
            st.text(subject)
            st.text(body)
        base = st.session_state[base_key]
        st.caption(f"Editing from version {base}." if base else "A first version: no version was saved before.")

        def _saved(v):
            st.session_state[base_key] = v.number
            st.session_state.pop(kept_key, None)
            return f"Saved version {v.number} ({len(v.checks.get('warnings', []))} open warnings)."

        if st.button("Save as new version", type="primary", key=f"save_version_{phase_id}"):
            ui.run_action(lambda: save_message(ctx.engine, actor=ctx.actor, phase_id=phase_id, subject=subject,
                                               body=body, base_number=base), _saved)
        if latest is not None and base != latest.number:
            # Someone saved a newer version after the one this text started from: offer both ways on.
            def _reload(phase_id=phase_id, latest=latest):
                st.session_state[kept_key] = (st.session_state.get(f"subject_{phase_id}", ""),
                                              st.session_state.get(f"body_{phase_id}", ""))
                st.session_state[f"subject_{phase_id}"], st.session_state[f"body_{phase_id}"] = (
                    latest.subject, latest.body)
                st.session_state[base_key] = latest.number

            def _rebase(latest=latest):
                st.session_state[base_key] = latest.number

            st.warning(f"Version {latest.number} was saved by {escape_markdown(latest.created_by)} at "
                       f"{local_time(latest.created_at, zone)}, after the version your text started from. Your "
                       "text is kept: load the newer version (your text stays below to copy from), or review the "
                       "change and save your text as the next version.", icon="🔁")
            a, b = st.columns(2)
            a.button(f"Reload version {latest.number}", key=f"reload_draft_{phase_id}", on_click=_reload)
            b.button(f"Keep my text, based on version {latest.number}", key=f"rebase_draft_{phase_id}",
                     on_click=_rebase)
            with st.expander(f"What changed in version {latest.number} compared with your text"):
                ui.redline(subject, body, latest.subject, latest.body)
        if st.session_state.get(kept_key):
            with st.expander("Your unsaved text (kept when you reloaded)", expanded=True):
                kept_subject, kept_body = st.session_state[kept_key]
                st.text(kept_subject)
                st.code(kept_body, language=None, wrap_lines=True)

with versions_tab:
    versions = detail["versions"]
    if not versions:
        st.write("No versions yet.")
    else:
        ui.table(pd.DataFrame([{
            "version": v.number, "saved": local_time(v.created_at, zone), "by": v.created_by,
            "sha256": v.content_sha256[:12], "open warnings": len((v.checks or {}).get("warnings", [])),
            "facts (revision)": v.facts_revision_seq} for v in versions]), hide_index=True, key="versions_table")
        numbers = [v.number for v in versions]
        a, b = st.columns(2)
        left_no = a.selectbox("Compare version", numbers, index=max(0, len(numbers) - 2), key=f"diff_a_{phase_id}")
        right_no = b.selectbox("with version", numbers, index=len(numbers) - 1, key=f"diff_b_{phase_id}")
        left_v, right_v = (next(v for v in versions if v.number == n) for n in (left_no, right_no))
        a.text(f"v{left_v.number} · {left_v.subject}")
        a.code(left_v.body, language=None, wrap_lines=True)
        b.text(f"v{right_v.number} · {right_v.subject}")
        b.code(right_v.body, language=None, wrap_lines=True)
        st.markdown(f"**Changes from version {left_v.number} to version {right_v.number}**")
        ui.redline(left_v.subject, left_v.body, right_v.subject, right_v.body)

with signoff_tab:
    if latest is None:
        st.write("Nothing to sign yet: no draft saved.")
    else:
        st.markdown(f"**Version {latest.number}** · sha256 `{latest.content_sha256[:16]}…` · needs "
                    f"{', '.join(Role(r).label for r in detail['required_roles'])}")
        stale_labels = {Role(r["role"]).label for r in detail["reconfirm"]}
        if detail["missing"]:
            st.warning("Awaiting: " + ", ".join(
                f"{m} (approval went stale: re-confirm)" if m in stale_labels else m for m in detail["missing"]),
                icon="⏳")
        else:
            st.success("Every required role has approved this exact text.")
        ui.table(detail["sign_offs"].assign(signed=detail["sign_offs"]["signed_at"].map(
            lambda v: local_time(v, zone)))[["role", "signer", "decision", "signed", "comment", "standing"]],
            hide_index=True, key="signoffs_table")
        distinct = detail["policy"]["different_people"]
        st.caption(f"Approval policy: {', '.join(Role(r).label for r in distinct)} sign-offs on one version come "
                   "from different people, even when one person holds several of these roles.")
        # A stale approval of this exact text is re-confirmed as it is: no new version needed.
        my_stale = [r for r in detail["reconfirm"] if r["signer"] == ctx.actor.email and ctx.actor.holds(Role(r["role"]))]
        if ui.can(ctx.actor, Action.sign_off):
            for stale in my_stale:
                label = Role(stale["role"]).label
                with st.container(border=True):
                    st.markdown(f"**Your {label} approval of version {latest.number} went stale**")
                    st.text(f"Why: {stale['reason']}")
                    st.caption("If the text still holds with the current facts, re-confirm it: a new approval of the "
                               "same text against the current scope revision, recorded in the audit trail. "
                               "Otherwise request changes below.")
                    if st.button(f"Re-confirm version {latest.number}" + (f" as {label}" if len(my_stale) > 1 else ""),
                                 type="primary", key=f"reconfirm_{phase_id}_{stale['role']}"):
                        ui.run_action(
                            lambda role=stale["role"]: reconfirm_sign_off(
                                ctx.engine, actor=ctx.actor, message_version_id=latest.id, role=role,
                                expected_sha256=latest.content_sha256),
                            f"Re-confirmed version {latest.number} as {label} against the current facts.")
        my_roles = [r for r in detail["required_roles"] if ctx.actor.holds(Role(r))
                    and (ctx.actor.email, r) not in detail["decided"]]
        if ui.can(ctx.actor, Action.sign_off) and my_roles:
            with st.form(f"sign_{phase_id}"):
                role = st.selectbox("Sign as", my_roles, format_func=lambda r: Role(r).label, key=f"sign_role_{phase_id}")
                decision = st.radio("Decision", [d.value for d in Decision], horizontal=True, key=f"decision_{phase_id}")
                comment = st.text_area("Comment", max_chars=10_000, key=f"sign_comment_{phase_id}")
                if st.form_submit_button(f"Sign version {latest.number}", type="primary"):
                    ui.run_action(
                        lambda: sign_off(ctx.engine, actor=ctx.actor, message_version_id=latest.id, role=role,
                                         decision=decision, comment=comment, expected_sha256=latest.content_sha256),
                        f"Signed version {latest.number} as {Role(role).label}: {decision}.")

with status_tab:
    st.markdown(f"Status: **{escape_markdown(detail['status_shown'])}** · audience: {escape_markdown(phase.audience)} · channels: "
                f"{escape_markdown(', '.join(phase.channels))} · must sign: "
                f"{', '.join(Role(r).label for r in detail['required_roles'])}")
    policy_roles = detail["policy"]["required"]
    if policy_roles:
        st.caption("Approval policy (cannot be removed, whoever asks): " + "; ".join(
            f"{Role(r).label} — {why}" for r, why in policy_roles.items()) + ".")
    pending = detail["approver_change"]
    if pending is not None:
        roles_text = lambda roles: ", ".join(Role(r).label for r in roles) or "nobody"  # noqa: E731
        with st.container(border=True):
            st.markdown(f"**Change of who must sign, awaiting a second person:** {roles_text(pending.from_roles)} "
                        f"→ {roles_text(pending.to_roles)}")
            st.caption(f"Proposed by {escape_markdown(pending.proposed_by)} "
                       f"({roles_text(pending.proposer_roles)}) at {local_time(pending.proposed_at, zone)}. "
                       "Two-person rule: someone else, holding another role, approves it.")
            if pending.reason:
                st.text(pending.reason)
            if ui.can(ctx.actor, Action.decide_approver_change):
                a, b = st.columns(2)
                if pending.proposed_by == ctx.actor.email:
                    if a.button("Withdraw my proposal", key=f"withdraw_change_{pending.id}"):
                        ui.run_action(lambda: reject_approver_change(ctx.engine, actor=ctx.actor,
                                                                     change_id=pending.id),
                                      "Withdrew the proposed change of who must sign.")
                else:
                    if a.button("Approve the change", type="primary", key=f"approve_change_{pending.id}"):
                        ui.run_action(lambda: approve_approver_change(ctx.engine, actor=ctx.actor,
                                                                      change_id=pending.id),
                                      f"Approved: {roles_text(pending.to_roles)} now must sign {phase.name}.")
                    if b.button("Reject the change", key=f"reject_change_{pending.id}"):
                        ui.run_action(lambda: reject_approver_change(ctx.engine, actor=ctx.actor,
                                                                     change_id=pending.id),
                                      "Rejected the proposed change of who must sign.")
    if ui.can(ctx.actor, Action.edit_phase_plan):
        targets = [s for s in PhaseStatus if s in ALLOWED_TRANSITIONS[PhaseStatus(phase.status)] and s != PhaseStatus.sent]
        for target in targets:
            if st.button(f"Move to “{target.value}”", key=f"move_{phase_id}_{target.name}"):
                ui.run_action(lambda: transition_phase(ctx.engine, actor=ctx.actor, phase_id=phase_id,
                                                       to_status=target, expected_version=phase_version_seen),
                              f"{phase.name} is now {target.value}.")
    if ui.can(ctx.actor, Action.mark_sent) and phase.status == PhaseStatus.approved:
        with st.form(f"send_{phase_id}"):
            channels = st.multiselect("Sent through", [c.value for c in Channel], default=phase.channels,
                                      key=f"channels_{phase_id}")
            if latest is not None and (latest.checks or {}).get("warnings"):
                st.warning(f"Version {latest.number} has {len(latest.checks['warnings'])} open warning(s); "
                           "sending records that it went out with them.")
            blocked = bool(detail["missing"])
            if blocked:
                stale_labels = {Role(r["role"]).label for r in detail["reconfirm"]}
                st.warning("Cannot be sent yet: " + "; ".join(
                    f"{m}'s approval went stale — {m} re-confirms version {latest.number} on the Sign-offs tab"
                    if m in stale_labels else f"{m} has not approved version {latest.number}"
                    for m in detail["missing"]) + ".", icon="⛔")
            if st.form_submit_button(f"Mark version {latest.number if latest else ''} sent", type="primary",
                                     disabled=blocked):
                ui.run_action(lambda: mark_sent(ctx.engine, actor=ctx.actor, phase_id=phase_id, channels=channels,
                                                expected_version=phase_version_seen),
                              f"{phase.name} marked sent.")
    if ui.can(ctx.actor, Action.edit_phase_plan):
        with st.expander("Edit this phase of the plan"), st.form(f"plan_{phase_id}"):
            name = st.text_input("Name", value=phase.name, max_chars=200, key=f"plan_name_{phase_id}")
            a, b = st.columns(2)
            audience = a.selectbox("Audience", [x.value for x in Audience], key=f"plan_audience_{phase_id}",
                                   index=[x.value for x in Audience].index(phase.audience))
            roles = b.multiselect("Must sign", [r.value for r in Role if r != Role.admin],
                                  default=phase.required_roles, format_func=lambda r: Role(r).label,
                                  key=f"plan_roles_{phase_id}",
                                  help="A change here is proposed, not applied: a second person holding another "
                                       "role approves it. Roles the approval policy requires cannot be removed.")
            roles_reason = st.text_input("Why change who must sign (shown to the second person)", max_chars=2000,
                                         key=f"plan_roles_reason_{phase_id}")
            channels = st.multiselect("Channels", [c.value for c in Channel], default=phase.channels,
                                      key=f"plan_channels_{phase_id}")
            target_local = pd.Timestamp(phase.target_at or utcnow()).tz_convert(zone)
            a, b = st.columns(2)
            target_day = a.date_input("Target date", value=target_local.date(), key=f"plan_day_{phase_id}")
            target_time = b.time_input("Target time", value=target_local.time().replace(second=0, microsecond=0),
                                       key=f"plan_time_{phase_id}")
            if st.form_submit_button("Save plan"):
                proposed = set(roles) != set(phase.required_roles)
                ui.run_action(lambda: update_phase(
                    ctx.engine, actor=ctx.actor, phase_id=phase_id, expected_version=phase_version_seen,
                    phase_in={"name": name, "audience": audience, "channels": channels, "required_roles": roles,
                              "target_at": local_input_to_utc(target_day, target_time, zone, field="target")},
                    reason=roles_reason),
                    f"Saved the plan for {name}." + (" The change of who must sign awaits a second person holding "
                                                      "another role." if proposed else ""))
    st.markdown("**Sent log**")
    sends = detail["sends"]
    if sends.empty:
        st.write("Not sent yet.")
    else:
        ui.table(sends.assign(sent=sends["sent_at"].map(lambda v: local_time(v, zone)))[
            ["version", "channel", "sent", "sent_by", "open_warnings"]], hide_index=True, key="sends_table")
