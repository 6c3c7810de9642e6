"""Audit trail: every change as a sentence — who did what, when — with the hash chain's verdict;
the action code, the recorded values and the hashes one click away."""
import json

import streamlit as st

from breachdash import ui
from breachdash.audit.service import audit_frame, verify_chain
from breachdash.display import local_time

ctx = ui.page_context(__file__, needs_incident=False)
st.title("Audit trail")
st.caption("Append-only and hash-chained (HMAC-SHA256 with the audit key): each event's hash covers the one "
           "before it and the digests of the rows it wrote.")

only_incident = ctx.incident is not None and st.toggle(
    f"Only the selected incident ({ctx.incident.slug})", value=True, key="audit_only_incident")
zone = ctx.incident.display_timezone if ctx.incident is not None else "UTC"
limit = st.select_slider("Show the newest", options=[50, 100, 500, 2000], value=100, key="audit_limit")
frame = audit_frame(ctx.engine, actor=ctx.actor, incident_id=ctx.incident.id if only_incident else None, limit=limit)
ui.table(frame.assign(when=frame["when (UTC)"].map(lambda v: local_time(v, zone, "%Y-%m-%d %H:%M:%S %Z")))[
             ["when", "what", "#"]],
         hide_index=True, key="audit_table",
         column_config={"when": st.column_config.TextColumn(f"When ({zone.replace('_', ' ')})", width="small"),
                        "what": st.column_config.TextColumn("What happened", width="large"),
                        "#": st.column_config.NumberColumn("Entry", format="%d", width="small")})

with st.expander("Technical detail of one entry: action code, recorded values and hashes"):
    if frame.empty:
        st.write("No audit entries yet.")
    else:
        ids = frame["#"].astype(int).tolist()
        chosen = st.selectbox("Entry", ids, key="audit_detail_id",
                              format_func=lambda i: f"{i}: {frame.loc[frame['#'] == i, 'what'].iloc[0][:90]}")
        row = frame[frame["#"] == chosen].iloc[0]
        # Recorded values are user text: shown as code, never as markdown.
        st.code(f"action:    {row['action']}\nentity:    {row['entity']}\nwhen:      {row['when (UTC)']} UTC\n"
                f"algorithm: {row['hash_alg']}\nhash:      {row['hash']}\nprevious:  {row['prev_hash']}",
                language=None)
        for label, text in (("Before", row["before"]), ("After", row["after"])):
            try:
                pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            except (TypeError, ValueError):
                pretty = str(text)
            st.caption(label)
            st.code(pretty, language="json")

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
