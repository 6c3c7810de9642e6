"""Sign in: single sign-on (OIDC) when configured, otherwise a local account form."""
import streamlit as st

from breachdash import ui

ui.ensure_app_frame()
from breachdash.config import AuthMode, load_settings
from breachdash.demo import DEMO_USERS
from breachdash.errors import SignInLocked

st.title("🛡️ breachdash")
st.caption("One live record of the incident for architects, Legal, PR and executives.")

if load_settings().auth_mode == AuthMode.oidc:
    st.write("Sign in with your company account.")
    if st.button("Sign in with single sign-on", type="primary", key="oidc_sign_in"):
        st.login()
else:
    with st.form("sign_in", clear_on_submit=False):
        email = st.text_input("Email", key="sign_in_email", max_chars=320)
        password = st.text_input("Password", type="password", key="sign_in_password", max_chars=1024)
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            if ui.sign_in_local(email, password):
                st.rerun()
            st.error("Email or password is not right.")
        except SignInLocked as exc:
            st.error(str(exc))

if ui.is_demo():
    st.subheader("Demo accounts")
    st.caption("This is a demo database; these accounts exist only here.")
    st.table(
        [{"Role": role.label, "Email": email, "Password": password} for role, email, _, password in DEMO_USERS]
    )
