"""The affected-customers upload on the Scope page: choose the population and whether the file is
complete or a batch, check the file, then confirm what it would change in a dialog.

The proposal (importers/affected.py) waits in this browser session's state between the run that
analysed the file and the one where the person records or discards it; its analysed customer list
sits in a scratch directory until then (removed on record, discard, or when the session goes away).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from breachdash.auth.rules import Actor
from breachdash.display import escape_markdown
from breachdash.errors import BreachdashError
from breachdash.importers.affected import (
    AffectedProposal,
    BreakdownChange,
    ImportMode,
    apply_affected_import,
    propose_affected_import,
)
from breachdash.importers.common import IDS_OVERRIDE_LABEL, scratch_directory
from breachdash.scope.models import DEFAULT_POPULATION
from breachdash.scope.service import populations_frame
from breachdash.ui import table

PENDING_KEY = "breachdash_affected_proposal"
ERROR_KEY = "breachdash_affected_error"
MODE_WORDS = {
    ImportMode.complete.value: "Complete: the whole population (replaces its figure)",
    ImportMode.batch.value: "A batch: add to this population's earlier batches (each customer counted once)",
}


def import_section(engine: Engine, *, actor: Actor, incident_id: int) -> None:
    """The upload form, and the confirmation dialog while a checked file waits."""
    import breachdash.ui as ui

    st.caption("CSV or Parquet with pseudonymous customer ids (docs/file-formats.md). The counts of the new "
               "revision come straight from the file; the pseudonymous ids are kept only to reconcile outreach. "
               "Nothing is recorded before you have seen what the file would change. Larger files: "
               "python -m breachdash import-affected FILE --incident SLUG")
    populations = populations_frame(engine, actor=actor, incident_id=incident_id)
    labels = dict(zip(populations["key"], populations["label"]))
    if populations.empty:
        labels[DEFAULT_POPULATION] = "All affected (created by this file)"
    with st.form("import_affected"):
        upload = st.file_uploader("Affected-customers file", type=["csv", "parquet"], key="affected_file")
        left, right = st.columns(2)
        population = left.selectbox("Population", list(labels), format_func=lambda key: labels.get(key, key),
                                    key="import_population")
        mode = right.radio("This file is", list(MODE_WORDS), format_func=MODE_WORDS.get, key="import_mode")
        reason = st.text_input("Why (shown in the history)", max_chars=10_000, key="import_reason")
        pseudonymous = st.checkbox(IDS_OVERRIDE_LABEL, key="import_ids_pseudonymous",
                                   help="Only if you know they are: the override is recorded in the audit log.")
        start = st.form_submit_button("Import", type="primary")
    if start and upload is None:
        st.warning("Choose a file first.")
    elif start:
        propose_upload(upload, lambda path, progress: propose_affected_import(
            engine, actor=actor, incident_id=incident_id, path=path, population=population, mode=mode,
            reason=reason, progress=progress, ids_are_pseudonymous=pseudonymous), show_error=ui.show_error)
    show_pending(lambda proposal: apply_affected_import(engine, actor=actor, proposal=proposal,
                                                        based_on_seq=proposal.based_on_seq))


def propose_upload(upload, proposer, *, show_error) -> None:
    """Check the uploaded file with a progress bar and keep the proposal for the dialog."""
    discard_pending()
    bar = st.progress(0.0, text="starting")
    # The upload's copy lives in a scratch directory only while it is analysed.
    with scratch_directory("upload") as workdir:
        name = Path(upload.name).name
        path = Path(workdir) / (name if name not in {"", ".", ".."} else "upload")
        path.write_bytes(upload.getbuffer())
        try:
            proposal = proposer(path, lambda fraction, message: bar.progress(min(fraction, 1.0), text=message))
        except BreachdashError as exc:
            bar.empty()
            show_error(exc)
            return
    bar.empty()
    st.session_state[PENDING_KEY] = proposal


def discard_pending() -> None:
    proposal = st.session_state.pop(PENDING_KEY, None)
    st.session_state.pop(ERROR_KEY, None)
    if proposal is not None:
        proposal.discard()


def show_pending(apply) -> None:
    """Open the confirmation dialog while a checked file waits in this session."""
    if st.session_state.get(PENDING_KEY) is not None:
        _confirm(apply)


def _changes_frame(changes: list[BreakdownChange], what: str) -> pd.DataFrame:
    rows = [{what: c.name, "Change": c.kind, "Before": c.before.describe() if c.before is not None else "—",
             "After": f"{c.after:,}" if c.after is not None else "—"} for c in changes if c.kind != "unchanged"]
    return pd.DataFrame(rows, columns=[what, "Change", "Before", "After"])


@st.dialog("Check before recording", width="large", dismissible=False)
def _confirm(apply) -> None:
    import breachdash.ui as ui

    proposal: AffectedProposal = st.session_state[PENDING_KEY]
    error = st.session_state.get(ERROR_KEY)
    if error is not None:
        ui.show_error(error)
        if st.button("Close", key="affected_close"):
            discard_pending()
            st.rerun()
        return
    st.markdown(f"**{escape_markdown(proposal.headline())}**")
    for line in proposal.summary_lines():
        st.markdown(escape_markdown(line))
    for changes, what in ((proposal.type_changes, "Data type"), (proposal.region_changes, "Region")):
        frame = _changes_frame(changes, what)
        if not frame.empty:
            table(frame, hide_index=True, key=f"affected_changes_{what}")
    if proposal.adds_nothing:
        st.info("Nothing to record.")
        if st.button("Close", key="affected_close"):
            discard_pending()
            st.rerun()
        return
    left, right = st.columns(2)
    if left.button("Record this revision", type="primary", key="affected_record"):
        try:
            with st.spinner("Recording the revision"):
                revision = apply(proposal)
        except BreachdashError as exc:
            st.session_state[ERROR_KEY] = exc
            st.rerun()
        st.session_state.pop(PENDING_KEY, None)
        ui.flash(f"Recorded revision {revision.seq} from {proposal.summary.file_name} ({proposal.mode.value} file): "
                 f"{proposal.summary.describe()}.")
        ui.clear_widgets(["affected_file", "import_reason", "import_ids_pseudonymous"])  # recorded: the form starts empty again
        st.rerun()
    if right.button("Discard", key="affected_discard"):
        discard_pending()
        st.rerun()
