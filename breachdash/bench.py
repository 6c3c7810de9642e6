"""`python -m breachdash bench`: speed figures with same-run baselines, printed as a table.

Timings are medians of `repeat` runs on this machine; each figure has a baseline measured in
the same run, and the ratio is what to compare between machines.
"""
from __future__ import annotations

import resource
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from breachdash.db import make_engine, migrate


@dataclass
class Row:
    measure: str
    backend: str
    seconds: float
    baseline: str
    baseline_seconds: float | None

    @property
    def ratio(self) -> str:
        return f"{self.seconds / self.baseline_seconds:.2f}x" if self.baseline_seconds else "—"


def _median(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _Databases:
    """Fresh databases for one backend: temp files for SQLite, throwaway databases for PostgreSQL."""

    def __init__(self, backend: str, postgres_url: str | None, workdir: Path):
        self.backend, self.postgres_url, self.workdir, self.created = backend, postgres_url, workdir, []

    def fresh(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / f'{uuid.uuid4().hex}.db'}"
        name = f"bdbench_{uuid.uuid4().hex[:12]}"
        admin = make_engine(self.postgres_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return make_url(self.postgres_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = make_engine(self.postgres_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _bench_setup(backend: str, databases: _Databases, repeat: int) -> list[Row]:
    from sqlmodel import SQLModel

    import breachdash.models  # noqa: F401
    from breachdash.demo import seed_demo

    # Databases are created before the clock starts: only the schema work is timed.
    migrate_urls = [databases.fresh() for _ in range(repeat)]
    create_all_urls = [databases.fresh() for _ in range(repeat)]

    def migrate_fresh():
        engine = make_engine(migrate_urls.pop())
        migrate(engine)
        engine.dispose()

    def create_all_fresh():
        engine = make_engine(create_all_urls.pop())
        SQLModel.metadata.create_all(engine)
        engine.dispose()

    engines = []

    def prepare():
        engine = make_engine(databases.fresh())
        migrate(engine)
        engines.append(engine)

    for _ in range(repeat):
        prepare()
    seeds = []
    for engine in engines:
        start = time.perf_counter()
        seed_demo(engine)
        seeds.append(time.perf_counter() - start)
        engine.dispose()
    migrate_s = _median(migrate_fresh, repeat)
    create_all_s = _median(create_all_fresh, repeat)
    return [
        Row("migrate an empty database to head", backend, migrate_s, "metadata.create_all", create_all_s),
        Row("seed the demo incident (via services)", backend, statistics.median(seeds),
            "migrate to head", migrate_s),
    ]


def _bench_overview(backend: str, databases: _Databases, repeat: int) -> list[Row]:
    from breachdash.demo import DEMO_USERS, seed_demo
    from breachdash.ui.render_timing import baseline_render_seconds, page_render_seconds

    url = databases.fresh()
    engine = make_engine(url)
    migrate(engine)
    seed_demo(engine)
    engine.dispose()
    executive = next(email for role, email, _, _ in DEMO_USERS if role.value == "executive")
    overview_s = page_render_seconds(database_url=url, email=executive, repeat=repeat)
    baseline_s = baseline_render_seconds(repeat=repeat)
    return [Row("Overview render, demo incident (AppTest run of the page alone)", backend, overview_s,
                "4 metrics + table page (AppTest)", baseline_s)]


PDF_GOAL_SECONDS = 2.0


def _bench_exports(backend: str, databases: _Databases, repeat: int) -> tuple[list[Row], list[str]]:
    """Briefing and timeline PDFs of the demo incident against their Markdown exports (same data,
    no charts, no PDF): the first PDF of a process starts the kept-alive Chromium that draws the
    charts; the goal is every later one under 2 s."""
    from sqlalchemy import text as sql

    from breachdash.auth.rules import system_actor
    from breachdash.briefing import export_briefing
    from breachdash.exports import export_timeline, stop_renderer

    engine = make_engine(_demo_database(databases))
    with engine.connect() as connection:
        incident_id = connection.execute(sql("SELECT id FROM incidents")).scalar()
    actor = system_actor()

    def briefing(fmt):
        return lambda: export_briefing(engine, actor=actor, incident_id=incident_id, fmt=fmt)

    def timeline(fmt):
        return lambda: export_timeline(engine, actor=actor, incident_id=incident_id, fmt=fmt)

    stop_renderer()
    first_s = _median(briefing("pdf"), 1)
    rows = [
        Row("first PDF of a process (briefing; starts Chromium)", backend, first_s, "briefing Markdown",
            _median(briefing("md"), repeat)),
        Row("briefing PDF with 3 charts (after the first)", backend, _median(briefing("pdf"), repeat),
            "briefing Markdown", _median(briefing("md"), repeat)),
        Row("timeline PDF with its chart (after the first)", backend, _median(timeline("pdf"), repeat),
            "timeline Markdown", _median(timeline("md"), repeat)),
    ]
    engine.dispose()
    later = rows[1:]
    worst = max(r.seconds for r in later)
    verdict = "met" if worst < PDF_GOAL_SECONDS else "NOT MET"
    return rows, [f"PDF exports under {PDF_GOAL_SECONDS:.0f} s after the first: {verdict} "
                  f"(slowest median {worst:.2f} s; first {first_s:.2f} s)"]


def _print(rows: list[Row]) -> None:
    headers = ("measure", "backend", "median s", "baseline", "baseline s", "ratio")
    table = [(r.measure, r.backend, f"{r.seconds:.3f}", r.baseline,
              f"{r.baseline_seconds:.3f}" if r.baseline_seconds else "—", r.ratio) for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


def _demo_database(databases: _Databases) -> str:
    from breachdash.demo import seed_demo

    url = databases.fresh()
    engine = make_engine(url)
    migrate(engine)
    seed_demo(engine)
    engine.dispose()
    return url


def run_bench(*, postgres_url: str | None, repeat: int = 5, scope_sizes: list[int] | None = None,
              outreach_sizes: list[int] | None = None, naive_above_1m: bool = False) -> int:
    from breachdash.bench_outreach import bench_outreach, print_outreach_tables
    from breachdash.bench_scope import bench_scope_import, print_scope_table
    from breachdash.demo import DEMO_USERS
    from breachdash.ui.first_paint import overview_first_paint_seconds
    from breachdash.ui.render_timing import page_render_seconds

    architect = next(email for role, email, _, _ in DEMO_USERS if role.value == "architect")
    pr = next(email for role, email, _, _ in DEMO_USERS if role.value == "pr")
    executive, executive_password = next((email, password) for role, email, _, password in DEMO_USERS
                                         if role.value == "executive")
    rows: list[Row] = []
    verdicts: list[str] = []
    scope_rows: list[dict] = []
    outreach_rows: list[dict] = []
    backends = ["sqlite"] + (["postgres"] if postgres_url else [])
    with tempfile.TemporaryDirectory() as workdir:
        for backend in backends:
            databases = _Databases(backend, postgres_url, Path(workdir))
            try:
                rows += _bench_setup(backend, databases, repeat)
                rows += _bench_overview(backend, databases, repeat)
                if backend == "sqlite":  # the exports read little; their time is fonts, charts and layout
                    export_rows, export_verdicts = _bench_exports(backend, databases, repeat)
                    rows += export_rows
                    verdicts += export_verdicts
                if scope_sizes:
                    scope_rows += bench_scope_import(
                        sizes=scope_sizes, backend=backend, fresh_demo_url=lambda: _demo_database(databases),
                        naive_above_1m=naive_above_1m,
                        render_seconds=lambda url: page_render_seconds(
                            database_url=url, email=architect, repeat=repeat, page="pages/scope.py"))
                if outreach_sizes:
                    outreach_rows += bench_outreach(
                        sizes=outreach_sizes, backend=backend, repeat=repeat,
                        fresh_demo_url=lambda: _demo_database(databases), naive_above_1m=naive_above_1m,
                        render_seconds=lambda url: page_render_seconds(
                            database_url=url, email=pr, repeat=repeat, page="pages/outreach.py"),
                        overview_seconds=lambda url: page_render_seconds(
                            database_url=url, email=executive, repeat=repeat),
                        first_paint_seconds=lambda url: overview_first_paint_seconds(
                            url, email=executive, password=executive_password, headline="Affected", repeat=repeat))
            finally:
                databases.drop_all()
    _print(rows)
    for verdict in verdicts:
        print(verdict)
    if scope_rows:
        print_scope_table(scope_rows)
    if outreach_rows:
        print_outreach_tables(outreach_rows)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak_mib:.0f} MiB · repeat={repeat} · medians")
    return 0
