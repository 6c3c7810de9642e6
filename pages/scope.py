"""Scope & exposure: the current estimate, how it got there, what data is exposed where;
architects record revisions and import the affected-customers file here."""

import pandas as pd
import streamlit as st

from breachdash import charts, ui
from breachdash.ui import affected_import
from breachdash.analytics import financial_exposure
from breachdash.auth.rules import Action
from breachdash.display import count, escape_markdown, local_time, signed
from breachdash.reference import data_types as catalogue
from breachdash.scope.models import Confidence, CountUnit, ExposureStatus
from breachdash.scope.service import (
    current_scope,
    exposure_cells,
    latest_systems,
    record_revision,
    revision_history,
    revision_input_from_tables,
)

ctx = ui.page_context(__file__)
incident, zone = ctx.incident, ctx.incident.display_timezone
scope = current_scope(ctx.engine, actor=ctx.actor, incident_id=incident.id)
history = revision_history(ctx.engine, actor=ctx.actor, incident_id=incident.id)

st.title("Scope & exposure")
st.caption(f"{escape_markdown(incident.title)} · times in {zone}")
ui.show_flash()
ui.financial_callout(financial_exposure(scope))

if scope is not None:
    cols = st.columns(4)
    change = history["change"].iloc[-1]
    cols[0].metric(f"Affected {scope.unit} (best)", count(scope.best),
                   delta=None if pd.isna(change) else f"{int(change):+,} since revision {scope.seq - 1}",
                   delta_color="inverse")
    cols[1].metric("Low", count(scope.low))
    cols[2].metric("High", count(scope.high))
    cols[3].metric("Revision", f"#{scope.seq}", help=f"confidence {scope.confidence}")
    cols[3].caption(f"by {escape_markdown(scope.recorded_by)}, {local_time(scope.recorded_at, zone)}")

history_tab, exposure_tab, record_tab, import_tab = st.tabs(
    ["History", "Exposure", "Record a revision", "Import customer file"])

with history_tab:
    if history.empty:
        st.write("No estimate recorded yet.")
    for unit in [u for u in ("individuals", "records") if u in set(history["unit"])]:
        st.plotly_chart(charts.estimate_trend(history, unit=unit), key=f"history_{unit}")
    if not history.empty:
        st.caption("Individuals and records are charted separately: a record count is not a count of people.")
        table = history.assign(when=history["recorded_at"].map(lambda v: local_time(v, zone)),
                               change=history["change"].map(signed))
        st.dataframe(
            table.sort_values("seq", ascending=False)[
                ["seq", "when", "recorded_by", "best", "change", "low", "high", "unit", "confidence", "method",
                 "reason", "corrects_seq", "source"]],
            hide_index=True, key="revisions_table",
            column_config={
                "seq": "#", "when": "Recorded", "recorded_by": "By",
                "best": st.column_config.NumberColumn("Best", format="localized"),
                "change": st.column_config.TextColumn("Since previous"),
                "low": st.column_config.NumberColumn("Low", format="localized"),
                "high": st.column_config.NumberColumn("High", format="localized"),
                "unit": "Unit", "confidence": "Confidence", "method": "Method", "reason": "Why",
                "corrects_seq": "Corrects #", "source": "Source"},
        )

with exposure_tab:
    if scope is None or scope.data_types.empty:
        st.write("No exposed data types recorded yet.")
    else:
        st.plotly_chart(charts.exposure_by_type(scope.data_types), key="exposure_by_type")
        cells = exposure_cells(ctx.engine, actor=ctx.actor, incident_id=incident.id)
        if cells.empty:
            st.caption("This revision has no data type × region breakdown: revisions entered by hand record data "
                       "types and regions separately; an affected-customers file gives both.")
        else:
            st.plotly_chart(charts.exposure_heatmap(cells), key="exposure_heatmap")
        left, right = st.columns(2)
        left.subheader("Regions")
        left.dataframe(scope.regions, hide_index=True, key="regions_table",
                       column_config={"region": "Region (ISO 3166)",
                                      "count": st.column_config.NumberColumn("Customers", format="localized")})
        right.subheader("Systems")
        right.dataframe(latest_systems(ctx.engine, actor=ctx.actor, incident_id=incident.id), hide_index=True,
                        key="systems_table",
                        column_config={"system": "System",
                                       "count": st.column_config.NumberColumn("Customers", format="localized")})

with record_tab:
    if not ui.can(ctx.actor, Action.revise_scope):
        st.info("Architects record scope revisions. You can follow every revision in History.")
    else:
        st.caption("Starts from the latest revision's figures: change what forensics has learned, then say why.")
        types_start = (scope.data_types[["data_type", "count", "status"]] if scope is not None
                       else pd.DataFrame({"data_type": pd.Series(dtype=str), "count": pd.Series(dtype="Int64"),
                                          "status": pd.Series(dtype=str)}))
        regions_start = (scope.regions if scope is not None
                         else pd.DataFrame({"region": pd.Series(dtype=str), "count": pd.Series(dtype="Int64")}))
        systems_start = latest_systems(ctx.engine, actor=ctx.actor, incident_id=incident.id)
        with st.form("record_revision"):
            a, b, c = st.columns(3)
            low = a.number_input("Low", min_value=0, step=1, value=scope.low if scope else 0, key="rev_low")
            best = b.number_input("Best", min_value=0, step=1, value=scope.best if scope else 0, key="rev_best")
            high = c.number_input("High", min_value=0, step=1, value=scope.high if scope else 0, key="rev_high")
            a, b, c = st.columns(3)
            unit = a.selectbox("Unit", [u.value for u in CountUnit], key="rev_unit",
                               index=[u.value for u in CountUnit].index(scope.unit) if scope else 0)
            levels = [c_.value for c_ in Confidence]
            confidence = b.selectbox("Confidence", levels, key="rev_confidence",
                                     index=levels.index(scope.confidence) if scope and scope.confidence in levels else 1)
            scope_label = c.text_input("Scope", value="all", max_chars=100, key="rev_scope_label")
            method = st.text_input("Method or source", max_chars=10_000, key="rev_method",
                                   placeholder="e.g. forensic analysis of DB access logs")
            reason = st.text_area("Why the estimate changed", max_chars=10_000, key="rev_reason")
            corrects = st.selectbox("Corrects revision", [None] + history["seq"].tolist(), key="rev_corrects",
                                    format_func=lambda v: "— (not a correction)" if v is None else f"#{v}")
            st.markdown("**Data types** (a customer can count under several)")
            types_table = st.data_editor(
                types_start, num_rows="dynamic", hide_index=True, key="rev_types",
                column_config={
                    "data_type": st.column_config.SelectboxColumn(
                        "Data type", options=list(catalogue()), required=True,
                        format_func=lambda code: catalogue()[code].display_name if code in catalogue() else code),
                    "count": st.column_config.NumberColumn("Customers", min_value=0, step=1, format="localized"),
                    "status": st.column_config.SelectboxColumn(
                        "Status", options=[s_.value for s_ in ExposureStatus], default="suspected")})
            left, right = st.columns(2)
            with left:
                st.markdown("**Regions** (ISO 3166 codes such as `US-CA`, `DE`)")
                regions_table = st.data_editor(
                    regions_start, num_rows="dynamic", hide_index=True, key="rev_regions",
                    column_config={"region": st.column_config.TextColumn("Region", max_chars=10),
                                   "count": st.column_config.NumberColumn("Customers", min_value=0, step=1,
                                                                          format="localized")})
            with right:
                st.markdown("**Affected systems**")
                systems_table = st.data_editor(
                    systems_start, num_rows="dynamic", hide_index=True, key="rev_systems",
                    column_config={"system": st.column_config.TextColumn("System", max_chars=200),
                                   "count": st.column_config.NumberColumn("Customers", min_value=0, step=1,
                                                                          format="localized")})
            submitted = st.form_submit_button("Record revision", type="primary")
        if submitted:
            ui.run_action(lambda: record_revision(
                ctx.engine, actor=ctx.actor, incident_id=incident.id, revision_in=revision_input_from_tables(
                    {"low": int(low), "best": int(best), "high": int(high), "unit": unit, "confidence": confidence,
                     "scope_label": scope_label, "method": method, "reason": reason, "corrects_seq": corrects},
                    data_types_table=types_table, regions_table=regions_table, systems_table=systems_table)),
                lambda revision: f"Recorded revision {revision.seq}.")

with import_tab:
    if not ui.can(ctx.actor, Action.revise_scope):
        st.info("Architects import the affected-customers file.")
    else:
        affected_import.import_section(ctx.engine, actor=ctx.actor, incident_id=incident.id)
