"""Users & roles (admin): who may sign in, and what each person may do."""
import streamlit as st

from breachdash import ui
from breachdash.auth.models import Role
from breachdash.auth.service import (
    add_user,
    deactivate_user,
    grant_role,
    reactivate_user,
    revoke_role,
    set_password,
    users_frame,
)

ctx = ui.page_context(__file__, needs_incident=False)
st.title("Users & roles")
ui.show_flash()
frame = users_frame(ctx.engine, actor=ctx.actor)
# Each change below is saved against the account's version shown here: a change someone else made
# meanwhile is refused with who made it, never overwritten.
seen = {email: ui.version_seen(f"user:{email}", int(version))
        for email, version in zip(frame["email"], frame["version"])}
ui.table(frame.drop(columns=["version"]), hide_index=True, key="users_table")
st.caption("A password reset, a deactivation or a role change signs that person out everywhere.")
emails = frame["email"].tolist()

role_labels = {role.value: role.label for role in Role}
left, right = st.columns(2)
with left, st.form("add_user", clear_on_submit=False):
    st.subheader("Add a user")
    email = st.text_input("Email", key="new_user_email", max_chars=320)
    name = st.text_input("Name", key="new_user_name", max_chars=200)
    roles = st.multiselect("Roles", list(role_labels), format_func=role_labels.__getitem__, key="new_user_roles")
    password = st.text_input("Password (leave empty for single sign-on only)", type="password",
                             key="new_user_password", max_chars=1024)
    if st.form_submit_button("Add user"):
        ui.run_action(lambda: add_user(ctx.engine, actor=ctx.actor, user_in={
            "email": email, "display_name": name, "roles": roles, "password": password or None}),
            lambda user: f"Added {user.email}.")

with right, st.form("change_role"):
    st.subheader("Grant or revoke a role")
    who = st.selectbox("User", emails, key="role_user")
    role = st.selectbox("Role", list(role_labels), format_func=role_labels.__getitem__, key="role_role")
    grant, revoke = st.columns(2)
    do_grant = grant.form_submit_button("Grant")
    do_revoke = revoke.form_submit_button("Revoke")
    if do_grant or do_revoke:
        ui.run_action(lambda: (grant_role if do_grant else revoke_role)(
            ctx.engine, actor=ctx.actor, email=who, role=role, expected_version=seen[who],
            keep_session=ui.session_token()),
            f"{'Granted' if do_grant else 'Revoked'} {role_labels[role]} {'to' if do_grant else 'from'} {who}.")

left, right = st.columns(2)
with left, st.form("reset_password"):
    st.subheader("Reset a password")
    reset_who = st.selectbox("User", emails, key="reset_user")
    new_password = st.text_input("New password (at least 10 characters)", type="password",
                                 key="reset_password_value", max_chars=1024)
    if st.form_submit_button("Reset password"):
        ui.run_action(lambda: set_password(ctx.engine, actor=ctx.actor, email=reset_who, password=new_password,
                                           expected_version=seen[reset_who], keep_session=ui.session_token()),
                      f"Password reset for {reset_who}; they are signed out everywhere.",
                      clear=["reset_password_value"])

with right, st.form("activation"):
    st.subheader("Deactivate or reactivate")
    active_who = st.selectbox("User", emails, key="activation_user")
    off, on = st.columns(2)
    do_off = off.form_submit_button("Deactivate")
    do_on = on.form_submit_button("Reactivate")
    if do_off:
        ui.run_action(lambda: deactivate_user(ctx.engine, actor=ctx.actor, email=active_who,
                                              expected_version=seen[active_who]),
                      f"Deactivated {active_who}; they are signed out everywhere.")
    elif do_on:
        ui.run_action(lambda: reactivate_user(ctx.engine, actor=ctx.actor, email=active_who,
                                              expected_version=seen[active_who]),
                      f"Reactivated {active_who}.")
