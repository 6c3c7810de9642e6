"""The process's figure cache: one build per distinct input, any change to the data a new build,
bounded, and the layout a page adds part of the key."""
import pandas as pd
import plotly.graph_objects as go
import pytest

from breachdash import charts
from breachdash.ui.figure_cache import FigureCache, input_key

calls: list[int] = []


def _bars(frame: pd.DataFrame, *, title: str = "") -> go.Figure:
    calls.append(len(frame))
    return go.Figure(go.Bar(x=frame["x"].tolist(), y=frame["y"].tolist()), layout={"title_text": title})


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()


def test_figure__same_input_built_once_and_the_same_figure_returned():
    cache = FigureCache()
    frame = pd.DataFrame({"x": ["a", "b"], "y": [1, 2]})
    first = cache.figure(_bars, frame, title="t")
    again = cache.figure(_bars, frame.copy(), title="t")
    assert again is first and calls == [2] and (cache.builds, cache.hits) == (1, 1)


def test_figure__any_change_to_the_data_builds_anew():
    cache = FigureCache()
    frame = pd.DataFrame({"x": ["a", "b"], "y": [1, 2]})
    first = cache.figure(_bars, frame)
    changed = cache.figure(_bars, frame.assign(y=[1, 3]))
    assert changed is not first and list(changed.data[0].y) == [1, 3] and len(calls) == 2


def test_figure__layout_and_keyword_arguments_are_part_of_the_key():
    cache = FigureCache()
    frame = pd.DataFrame({"x": ["a"], "y": [1]})
    small = cache.figure(_bars, frame, layout={"height": 300})
    tall = cache.figure(_bars, frame, layout={"height": 600})
    titled = cache.figure(_bars, frame, title="other", layout={"height": 300})
    assert (small.layout.height, tall.layout.height) == (300, 600) and titled.layout.title.text == "other"
    assert len(calls) == 3


def test_figure__bounded_least_recently_used_goes_first():
    cache = FigureCache(max_figures=2)
    frames = [pd.DataFrame({"x": ["a"], "y": [n]}) for n in range(3)]
    cache.figure(_bars, frames[0])
    cache.figure(_bars, frames[1])
    cache.figure(_bars, frames[0])  # used again: frames[1] is now the oldest
    cache.figure(_bars, frames[2])
    assert len(cache) == 2
    cache.figure(_bars, frames[0])
    assert len(calls) == 3  # still kept
    cache.figure(_bars, frames[1])
    assert len(calls) == 4  # was dropped


def test_input_key__unpicklable_input_is_built_every_time():
    assert input_key(_bars, (lambda: None,), {}, None) is None
    cache = FigureCache()
    frame = pd.DataFrame({"x": ["a"], "y": [1]})

    def builder(frame, hook):
        return _bars(frame)
    cache.figure(builder, frame, lambda: None)
    cache.figure(builder, frame, lambda: None)
    assert len(calls) == 2 and len(cache) == 0


def test_figure__a_real_chart_builder_gives_the_same_figure_as_built_directly():
    frame = pd.DataFrame({"kind": ["stage", "stage"], "step": list(charts.FUNNEL_LABELS)[:2], "customers": [10, 8]})
    cache = FigureCache()
    cached = cache.figure(charts.outreach_funnel, frame, phase="Customers", layout={"height": 300})
    direct = charts.outreach_funnel(frame, phase="Customers").update_layout(height=300)
    assert cached.to_dict() == direct.to_dict()
