"""A database error inside a live fragment drawn as part of a full run (the database went away
between the run's first query and the fragment's) reads as the outage line, like any other
database error: no crash box, no traceback. Streamlit's fragment wrapper catches every
`Exception`, so this is the one path the page-level guard cannot see by itself (seen in CI:
the Overview's live tiles logged a traceback during an outage)."""
from streamlit.testing.v1 import AppTest


def _page_whose_live_tile_meets_an_outage():
    import streamlit as st
    from sqlalchemy.exc import OperationalError

    from breachdash import ui

    with ui.outage_guard():
        st.title("Overview")

        @ui.live_fragment(run_every=60)
        def tile():
            raise OperationalError("SELECT 1", None, Exception("connection refused"))

        tile()
        st.write("after the tile")


def test_database_error_in_a_live_fragment_during_a_full_run_shows_the_outage_line():
    at = AppTest.from_function(_page_whose_live_tile_meets_an_outage, default_timeout=30).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [ui_message()]
    assert "after the tile" not in [m.value for m in at.markdown]


def ui_message() -> str:
    from breachdash.ui import OUTAGE_MESSAGE, outage_retry_seconds

    return OUTAGE_MESSAGE.format(seconds=outage_retry_seconds())
