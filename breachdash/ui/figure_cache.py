"""Built Plotly figures, kept per server process and keyed by exactly what they are built from.

Building a figure costs far more than reading its data: `charts.exposure_by_type` and
`charts.estimate_trend` took ~150 ms and ~66 ms of the Overview's run, every run, for every
viewer. A figure is a pure function of its builder and its inputs (charts.py), so the key is a
digest of the builder's name, its arguments (the DataFrames as read in this run) and the layout
the page adds. The data version of the key is therefore the data itself: any write that changes
what a chart shows changes its input frames and so its key, with no invalidation to forget; a
write that changes nothing a chart shows keeps it. The cache is bounded (least recently used
entries go first), and its figures never leave the UI layer: `ui.chart` hands one to Streamlit,
which serializes a copy, so no page can change a figure another viewer will be shown.

No Streamlit import here (ui.chart draws through it); unit-tested in tests/unit/test_figure_cache.py.
"""
from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from typing import Any, Callable

DEFAULT_MAX_FIGURES = 64


def input_key(builder: Callable[..., Any], args: tuple, kwargs: dict, layout: dict | None) -> str | None:
    """A digest of everything the figure is built from; None when an input cannot be pickled (the
    figure is then built every time, uncached)."""
    try:
        payload = pickle.dumps((builder.__module__, builder.__qualname__, args, sorted(kwargs.items()),
                                sorted((layout or {}).items())), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class FigureCache:
    """At most `max_figures` built figures, least recently used dropped first; safe across the
    server's script threads (two viewers building the same figure at once both build it; one is kept)."""

    def __init__(self, max_figures: int = DEFAULT_MAX_FIGURES):
        if max_figures < 1:
            raise ValueError("a figure cache holds at least one figure")
        self.max_figures = max_figures
        self._figures: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.builds = 0

    def __len__(self) -> int:
        return len(self._figures)

    def figure(self, builder: Callable[..., Any], *args, layout: dict | None = None, **kwargs) -> Any:
        """The figure `builder(*args, **kwargs).update_layout(**layout)`, built once per distinct input.
        The caller must not change it (draw it, or serialize it)."""
        key = input_key(builder, args, kwargs, layout)
        if key is not None:
            with self._lock:
                cached = self._figures.get(key)
                if cached is not None:
                    self._figures.move_to_end(key)
                    self.hits += 1
                    return cached
        figure = builder(*args, **kwargs)
        if layout:
            figure.update_layout(**layout)
        with self._lock:
            self.builds += 1
            if key is not None:
                self._figures[key] = figure
                self._figures.move_to_end(key)
                while len(self._figures) > self.max_figures:
                    self._figures.popitem(last=False)
        return figure

    def clear(self) -> None:
        with self._lock:
            self._figures.clear()
