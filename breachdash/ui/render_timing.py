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
    run()  # the first run pays for imports and caches; not counted
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def page_render_seconds(*, database_url: str, email: str, repeat: int, page: str | None = None) -> float:
    """Median full AppTest run of app.py for a signed-in user, landing on the Overview or, with
    `page` (e.g. "pages/scope.py"), switching to that page and timing its run."""
    from streamlit.testing.v1 import AppTest

    def run():
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
        at.session_state[SIGNED_IN_KEY] = email
        at.run()
        if page is not None:
            at.switch_page(str(PROJECT_ROOT / page)).run()
        if at.exception or not at.metric:
            raise RuntimeError(f"{page or 'the Overview'} did not render: {[e.value for e in at.exception]}")

    with _database(database_url):
        return _median_seconds(run, repeat)


def baseline_render_seconds(*, repeat: int) -> float:
    """Median AppTest run of a minimal page with four metrics and a table: the floor."""
    from streamlit.testing.v1 import AppTest

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(_BASELINE_PAGE)
    try:
        def run():
            if AppTest.from_file(handle.name, default_timeout=120).run().exception:
                raise RuntimeError("the baseline page failed")

        return _median_seconds(run, repeat)
    finally:
        os.unlink(handle.name)
