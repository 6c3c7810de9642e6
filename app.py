"""breachdash entry point: page config, sign-in gate, role-aware navigation, shared sidebar."""
import streamlit as st

from breachdash import ui
from breachdash.auth.models import Role
from breachdash.navigation import ALL_PAGES, SIGN_IN_PAGE, pages_for

st.set_page_config(page_title="breachdash", page_icon="🛡️", layout="wide")

navigation = None
# Any database error in this run reads as an outage: one line, and the page retries by itself.
with ui.outage_guard():
    engine = ui.get_engine()
    actor = ui.current_actor()
    specs = pages_for(actor)
    navigation = st.navigation(
        [st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.default)
         for spec in specs]
    )

    if ui.is_demo():
        ui.demo_banner()

    if actor is not None:
        with st.sidebar:
            st.markdown("### 🛡️ breachdash")
            if actor.roles:
                ui.incident_selector(engine, actor)
            st.caption("Signed in as")
            st.text(actor.name)
            roles = ", ".join(sorted(Role(role).label for role in actor.roles)) or "no role"
            st.caption(f"Roles: {roles}")
            if st.button("Sign out", key="sign_out"):
                ui.sign_out()
                st.rerun()

    with ui.app_frame(actor):
        navigation.run()
    ui.write_session_cookie()

if navigation is None:
    # The database failed before we knew who this is: run no page and show no menu (without a
    # st.navigation call, Streamlit would list pages/ by itself), but know every page's address,
    # so the one the person is on is still theirs when the database answers again.
    st.navigation([st.Page(spec.path, title=spec.title, url_path=spec.url_path, default=spec is SIGN_IN_PAGE)
                   for spec in ALL_PAGES], position="hidden")
