"""Scope & exposure: each population's current figure as published, how it got there, what data
is exposed where and how it was held; architects record revisions and populations here."""

import streamlit as st

from breachdash import charts, ui
from breachdash.ui import affected_import
from breachdash.analytics import financial_exposure
from breachdash.auth.rules import Action
from breachdash.display import escape_markdown
from breachdash.reference import data_types as catalogue
from breachdash.reporting import scope_view
from breachdash.scope.models import Confidence, CountKind, CountUnit, ExposureStatus, FigureKind, Protection
from breachdash.scope.rules import breakdown_warnings, figure_input
from breachdash.scope.service import (
    add_population,
    exposure_cells,
    latest_systems,
    populations_frame,
    record_revision,
    revision_history,
    revision_input_from_tables,
    scope_state,
    validate_revision,
)

ctx = ui.page_context(__file__)
incident, zone = ctx.incident, ctx.incident.display_timezone
state = scope_state(ctx.engine, actor=ctx.actor, incident_id=incident.id)
history = revision_history(ctx.engine, actor=ctx.actor, incident_id=incident.id)
populations = populations_frame(ctx.engine, actor=ctx.actor, incident_id=incident.id)

st.title("Scope & exposure")
st.caption(f"{escape_markdown(incident.title)} · times in {zone}")
ui.show_flash()
ui.financial_callout(financial_exposure(state))

if state is not None:
    headline = scope_view.scope_headline(state)
    if headline:
        st.metric(*headline, help="Populations marked as counted in no other population, added up.")
    elif scope_view.side_by_side_note(state):
        st.caption(scope_view.side_by_side_note(state))
    for row_start in range(0, len(state.populations), 3):
        for column, population in zip(st.columns(3), state.populations[row_start:row_start + 3]):
            column.metric(f"{population.label} · affected {population.unit}", population.figure.headline(),
                          help=f"{population.label}: affected {population.unit}",
                          delta=scope_view.change_text(population), delta_color="off",
                          delta_arrow=scope_view.delta_arrow(scope_view.change_text(population)))
            column.caption(escape_markdown(scope_view.population_caption(population, zone)))

history_tab, exposure_tab, record_tab, populations_tab, import_tab = st.tabs(
    ["History", "Exposure", "Record a revision", "Populations", "Import customer file"])

with history_tab:
    if history.empty:
        st.write("No estimate recorded yet.")
    else:
        ui.chart(st, charts.estimate_trend, history, zone=zone, key="history_chart")
        st.caption("One line per population; individuals and records are never on one axis: a record count is "
                   "not a count of people. 'Since previous' compares with the population's previous revision in "
                   "the same unit.")
        ui.table(scope_view.history_table(history, zone), hide_index=True, key="revisions_table",
                     column_config={"seq": "Revision", "population": "Population", "when": "Recorded", "recorded_by": "By",
                                    "figure": st.column_config.TextColumn("Figure as published", width="medium"),
                                    "change_text": st.column_config.TextColumn("Since previous", width="medium"),
                                    "confidence": "Confidence", "method": "Method",
                                    "reason": st.column_config.TextColumn("Why", width="large"),
                                    "corrects": "Corrects", "source": "Entered as"})

with exposure_tab:
    if state is None or state.data_types.empty:
        st.write("No exposed data types recorded yet.")
    else:
        ui.chart(st, charts.exposure_by_type, state.data_types, key="exposure_by_type")
        cells = exposure_cells(ctx.engine, actor=ctx.actor, incident_id=incident.id)
        if not cells.empty:
            ui.chart(st, charts.exposure_heatmap, cells, key="exposure_heatmap")
        for population in state.populations:
            st.subheader(population.label)
            left, right = st.columns([3, 2])
            ui.table(scope_view.data_types_table(population), container=left, hide_index=True,
                           key=f"types_{population.key}")
            ui.table(scope_view.regions_table(population), container=right, hide_index=True, key=f"regions_{population.key}")
        st.caption("Systems involved")
        ui.table(latest_systems(ctx.engine, actor=ctx.actor, incident_id=incident.id), hide_index=True,
                     key="systems_table", column_config={"system": "System", "count": st.column_config.NumberColumn(
                         "Customers", format="localized")})

with record_tab:
    if not ui.can(ctx.actor, Action.revise_scope):
        st.info("Architects record scope revisions. You can follow every revision in History.")
    else:
        keys = populations["key"].tolist() or ["all"]
        labels = dict(zip(populations["key"], populations["label"])) or {"all": "All affected (new)"}
        form_keys = ("rev_kind", "rev_low", "rev_best", "rev_high", "rev_unit", "rev_confidence", "rev_wording",
                     "rev_corrects", "rev_types", "rev_regions", "rev_systems")
        # Another population: its own figures start the form, not what the last one left in it.
        key = st.selectbox("Population", keys, format_func=lambda k: labels.get(k, k), key="rev_population",
                           on_change=lambda: [st.session_state.pop(k, None) for k in form_keys])
        current = next((p for p in (state.populations if state else []) if p.key == key), None)
        start = scope_view.form_start(current)
        start["unit"] = start["unit"] or dict(zip(populations["key"], populations["unit"])).get(key)
        seen = ui.version_seen(f"population_seq:{key}", start["seq"])
        if current is not None:
            st.caption(escape_markdown(f"Starts from revision {current.seq} of {current.label} "
                                       f"({current.figure.describe(current.unit)}). The breakdowns below are carried "
                                       "forward: change what forensics has learned, then say why."))
        kinds = [k.value for k in FigureKind]
        with st.form("record_revision"):
            a, b, c, d = st.columns(4)
            kind = a.selectbox("Figure published as", kinds, index=kinds.index(start["figure_kind"]), key="rev_kind",
                               help="exact: Best · range: Low–High, Best optional · up to: High · at least: Low · "
                                    "unknown (no number) · placeholder (Best: a number a form required, not an "
                                    "estimate). Numbers the kind does not use are ignored.")
            low = b.number_input("Low", min_value=0, step=1, value=start["low"], key="rev_low")
            best = c.number_input("Best", min_value=0, step=1, value=start["best"], key="rev_best")
            high = d.number_input("High", min_value=0, step=1, value=start["high"], key="rev_high")
            a, b, c = st.columns(3)
            units = [u.value for u in CountUnit]
            unit = a.selectbox("Unit", units, index=units.index(start["unit"]) if start["unit"] else 0,
                               key="rev_unit")
            levels = [c_.value for c_ in Confidence]
            confidence = b.selectbox("Confidence", levels, index=levels.index(start["confidence"]),
                                     key="rev_confidence")
            wording = c.text_input("Wording as published (optional)", value=start["wording"], max_chars=300,
                                   key="rev_wording", placeholder="e.g. a substantial proportion")
            method = st.text_input("Method or source", max_chars=10_000, key="rev_method",
                                   placeholder="e.g. forensic analysis of DB access logs")
            source_url = st.text_input("Public source address (optional)", max_chars=2000, key="rev_source_url")
            source_quote = st.text_input("Sentence quoted from it (optional)", max_chars=4000, key="rev_source_quote")
            reason = st.text_area("Why the estimate changed", max_chars=10_000, key="rev_reason")
            own = history[history["population_key"] == key]["seq"].tolist()
            corrects = st.selectbox("Corrects revision", [None] + own, key="rev_corrects",
                                    format_func=lambda v: "— (not a correction)" if v is None else f"revision {v}")
            st.markdown("**Data types** (a person can count under several; count kind 'unknown' leaves the count "
                        "empty)")
            types_table = st.data_editor(start["data_types"], num_rows="dynamic", hide_index=True, key="rev_types",
                                         column_config={
                "data_type": st.column_config.SelectboxColumn(
                    "Data type", options=list(catalogue()), required=True,
                    format_func=lambda code: catalogue()[code].display_name if code in catalogue() else code),
                "count": st.column_config.NumberColumn("Count", min_value=0, step=1, format="localized"),
                "count_kind": st.column_config.SelectboxColumn("Count is", options=[k.value for k in CountKind],
                                                               default="exact"),
                "status": st.column_config.SelectboxColumn("Status", options=[s.value for s in ExposureStatus],
                                                           default="suspected"),
                "protection": st.column_config.SelectboxColumn("How it was held", default="plain",
                                                               options=[p.value for p in Protection])})
            left, right = st.columns(2)
            with left:
                st.markdown("**Regions** (ISO 3166 such as `US-CA`; `US` = states not split; `EEA`/`EU` = countries "
                            "not split; `ZZ` = not known)")
                regions_table = st.data_editor(start["regions"], num_rows="dynamic", hide_index=True,
                                               key="rev_regions", column_config={
                    "region": st.column_config.TextColumn("Region", max_chars=10),
                    "count": st.column_config.NumberColumn("Count", min_value=0, step=1, format="localized"),
                    "count_kind": st.column_config.SelectboxColumn("Count is", default="exact",
                                                                   options=[k.value for k in CountKind])})
            with right:
                st.markdown("**Affected systems**")
                systems_table = st.data_editor(latest_systems(ctx.engine, actor=ctx.actor, incident_id=incident.id),
                                               num_rows="dynamic", hide_index=True, key="rev_systems",
                                               column_config={"system": st.column_config.TextColumn("System",
                                                                                                    max_chars=200),
                                                              "count": st.column_config.NumberColumn(
                                                                  "Count", min_value=0, step=1, format="localized")})
            submitted = st.form_submit_button("Record revision", type="primary")
        if submitted:
            def record():
                revision_in = validate_revision(revision_input_from_tables(
                    {"population": key, "based_on_seq": seen, **figure_input(kind, low, best, high),
                     "wording": wording, "unit": unit,
                     "confidence": confidence, "method": method, "reason": reason, "corrects_seq": corrects,
                     "sources": [{"url": source_url, "quote": source_quote}] if source_url.strip() else []},
                    data_types_table=types_table, regions_table=regions_table, systems_table=systems_table))
                revision = record_revision(ctx.engine, actor=ctx.actor, incident_id=incident.id,
                                           revision_in=revision_in)
                return revision, breakdown_warnings(revision_in)
            ui.run_action(record, lambda result: f"Recorded revision {result[0].seq}." + "".join(
                f" Check: {warning}." for warning in result[1]))

with populations_tab:
    ui.table(populations.drop(columns=["id", "version"]), hide_index=True, key="populations_table",
                 column_config={"key": "Key", "label": "Population", "unit": "Unit", "jurisdictions": "Where",
                                "disjoint": "Counted in no other", "latest_seq": "Latest revision"})
    if ui.can(ctx.actor, Action.revise_scope):
        with st.form("add_population"):
            a, b, c = st.columns(3)
            label = a.text_input("Population", max_chars=100, key="pop_label", placeholder="e.g. UK customers")
            new_key = b.text_input("Key", max_chars=40, key="pop_key", placeholder="e.g. uk")
            new_unit = c.selectbox("Unit", [u.value for u in CountUnit], key="pop_unit")
            where = st.text_input("Where they live (ISO 3166 codes, EU, EEA or ZZ, comma-separated)", max_chars=2000,
                                  key="pop_where", placeholder="e.g. GB")
            disjoint = st.checkbox("Counted in no other population (their figures may be added up)", key="pop_disjoint")
            if st.form_submit_button("Add population"):
                ui.run_action(lambda: add_population(ctx.engine, actor=ctx.actor, incident_id=incident.id, population_in={
                    "key": new_key, "label": label, "unit": new_unit, "disjoint": disjoint,
                    "jurisdictions": [code.strip() for code in where.split(",") if code.strip()]}),
                    lambda population: f"Added the population {population.label}.")

with import_tab:
    if not ui.can(ctx.actor, Action.revise_scope):
        st.info("Architects import the affected-customers file.")
    else:
        affected_import.import_section(ctx.engine, actor=ctx.actor, incident_id=incident.id)
