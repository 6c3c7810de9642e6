"""Users & roles (admin): who may sign in, and what each person may do."""
import streamlit as st

from breachdash import ui
from breachdash.auth.models import Role
from breachdash.auth.service import add_user, grant_role, revoke_role, users_frame

ctx = ui.page_context(__file__, needs_incident=False)
st.title("Users & roles")
ui.show_flash()
frame = users_frame(ctx.engine, actor=ctx.actor)
st.dataframe(frame, hide_index=True, key="users_table")

role_labels = {role.value: role.label for role in Role}
left, right = st.columns(2)
with left, st.form("add_user", clear_on_submit=True):
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
    who = st.selectbox("User", frame["email"].tolist(), key="role_user")
    role = st.selectbox("Role", list(role_labels), format_func=role_labels.__getitem__, key="role_role")
    grant, revoke = st.columns(2)
    do_grant = grant.form_submit_button("Grant")
    do_revoke = revoke.form_submit_button("Revoke")
    if do_grant or do_revoke:
        ui.run_action(lambda: (grant_role if do_grant else revoke_role)(ctx.engine, actor=ctx.actor, email=who,
                                                                        role=role),
                      f"{'Granted' if do_grant else 'Revoked'} {role} {'to' if do_grant else 'from'} {who}.")
