"""Shown to a signed-in identity that holds no role: no incident data, just what to do."""
import streamlit as st

from breachdash import ui

ui.ensure_app_frame()

actor = ui.current_actor()
st.title("No access yet")
st.write("You are signed in, but your account has no role in breachdash.")
st.text(f"Signed in as: {actor.email if actor else 'unknown'}")
st.write("Ask a breachdash admin to grant you a role (executive, PR, Legal, architect or admin).")
if st.button("Sign out", key="no_access_sign_out"):
    ui.sign_out()
    st.rerun()
