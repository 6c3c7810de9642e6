"""Page render timing with Streamlit's AppTest, for `python -m breachdash bench`.

Lives in ui/ because it drives Streamlit; the benchmark itself stays Streamlit-free.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

import logging

from breachdash.config import PROJECT_ROOT
from breachdash.ui import SIGNED_IN_KEY

_BASELINE_PAGE = """
import streamlit as st
st.set_page_config(layout="wide")
st.title("Baseline")
cols = st.columns(4)
for index, col in enumerate(cols):
    col.metric(f"m{index}", index)
st.dataframe({"a": list(range(10))})
"""


@contextmanager
def _database(url: str) -> Iterator[None]:
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous


# AppTest runs outside a server; Streamlit warns about it on every call. Not news here.
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)


def _median_seconds(run, repeat: int) -> float:
    """`run()` returns the seconds of the part it times; the first call pays for imports and
    caches and is not counted."""
    run()
    return statistics.median(run() for _ in range(repeat))


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def page_render_seconds(*, database_url: str, email: str, repeat: int, page: str | None = None) -> float:
    """Median AppTest run of one page alone, for a signed-in user: the Overview (where app.py
    lands) or, with `page` (e.g. "pages/scope.py"), that page, reached by switching to it after an
    untimed first run (so the Overview's run is not part of its time)."""
    from streamlit.testing.v1 import AppTest

    def check(at) -> None:
        if at.exception or not at.metric:
            raise RuntimeError(f"{page or 'the Overview'} did not render: {[e.value for e in at.exception]}")

    def run() -> float:
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
        at.session_state[SIGNED_IN_KEY] = email
        if page is None:
            seconds = _timed(at.run)
        else:
            at.run()
            seconds = _timed(at.switch_page(str(PROJECT_ROOT / page)).run)
        check(at)
        return seconds

    with _database(database_url):
        return _median_seconds(run, repeat)


def baseline_render_seconds(*, repeat: int) -> float:
    """Median AppTest run of a minimal page with four metrics and a table: the floor."""
    from streamlit.testing.v1 import AppTest

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(_BASELINE_PAGE)
    try:
        def run() -> float:
            at = AppTest.from_file(handle.name, default_timeout=120)
            seconds = _timed(at.run)
            if at.exception:
                raise RuntimeError("the baseline page failed")
            return seconds

        return _median_seconds(run, repeat)
    finally:
        os.unlink(handle.name)
