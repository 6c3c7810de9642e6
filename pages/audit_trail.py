"""Audit trail: every change, who made it and when, with the hash chain's verdict."""
import streamlit as st

from breachdash import ui
from breachdash.audit.service import audit_frame, verify_chain

ctx = ui.page_context(__file__, needs_incident=False)
st.title("Audit trail")
st.caption("Append-only and hash-chained (HMAC-SHA256 with the audit key): each event's hash covers the one "
           "before it and the digests of the rows it wrote.")

only_incident = ctx.incident is not None and st.toggle(
    f"Only the selected incident ({ctx.incident.slug})", value=True, key="audit_only_incident")
limit = st.select_slider("Show the newest", options=[50, 100, 500, 2000], value=100, key="audit_limit")
frame = audit_frame(ctx.engine, actor=ctx.actor, incident_id=ctx.incident.id if only_incident else None, limit=limit)
st.dataframe(frame, hide_index=True, key="audit_table",
             column_config={"when (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})

if st.button("Verify the whole chain", key="verify_chain"):
    result = verify_chain(ctx.engine)
    if result.development_key:
        st.warning("Checked with the published development audit key: anyone can recompute this chain. "
                   "Set BREACHDASH_AUDIT_KEY for real use.")
    if result.ok:
        st.success(f"Audit chain intact: {result.checked:,} events checked.")
        if result.head_id is not None:
            st.caption("Keep the head somewhere else: removing the newest events shows only against such a copy.")
            st.code(f"head: event #{result.head_id} {result.head_alg} {result.head_hash}", language=None)
    else:
        st.error("Audit check failed: " + "; ".join(result.problems[:3]) + ".")
        for problem in result.row_problems[:20]:
            st.text(str(problem))
