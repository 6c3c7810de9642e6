import re

from breachdash.bench import run_bench


def test_bench__prints_each_figure_with_its_baseline_and_ratio(capsys):
    assert run_bench(postgres_url=None, repeat=1, outreach_sizes=[1000]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for measure in ("migrate an empty database to head", "seed the demo incident", "Overview render"):
        line = next(line for line in lines if line.startswith(measure))
        assert line.rstrip().endswith("x")
    assert "peak RSS" in out

    # Outreach: the delivery-report import with rows/s, both throughput ratios, RSS and the naive baseline.
    start = next(i for i, line in enumerate(lines) if line.startswith("Delivery-report import"))
    header = lines[start + 1].split("  ")
    for column in ("rows/s", "vs DuckDB read_csv", "vs sqlite3 executemany", "import peak RSS MiB",
                   "naive pandas s", "naive RSS MiB"):
        assert column in [h.strip() for h in header if h.strip()]
    cells = lines[start + 3].split()
    assert cells[:3] == ["sqlite", "1,000", "909"]  # events and customers
    import_s, rows_per_s, vs_duckdb, vs_sqlite, rss, *_ = cells[3:]
    assert float(import_s) > 0 and int(rows_per_s.replace(",", "")) > 0 and float(rss) > 0
    assert re.fullmatch(r"\d+\.\d\dx", vs_duckdb) and re.fullmatch(r"\d+\.\d\dx", vs_sqlite)
    assert len(cells) == 14

    # The Outreach page render (against the smallest size) and the lookup's median and p95.
    start = next(i for i, line in enumerate(lines) if line.startswith("Outreach page render"))
    backend, events, customers, render_s, vs_smallest, median_ms, p95_ms, lookups = lines[start + 3].split()
    assert (backend, events, customers, vs_smallest, lookups) == ("sqlite", "1,000", "909", "1.00x", "205")
    assert float(render_s) > 0 and 0 < float(median_ms) <= float(p95_ms)

    # Each goal of the issue is stated with its verdict.
    goals = [line for line in lines if line.startswith("  sqlite at 1,000 events, 909 customers:")]
    for goal in ("goal ≥0.5x DuckDB: ", "goal <1024 MiB: ", "goal ≤1.2x", "goal p95 <20 ms: "):
        assert any(goal in line and re.search(r"\b(met|NOT MET|needs two sizes)\b", line) for line in goals), goal
    assert re.search(r"goal p95 <20 ms: (met|NOT MET) \(\d+\.\d\dx the goal\)", "\n".join(goals))

    # The Overview at scale: first paint cold and warm, each against the demo incident.
    start = next(i for i, line in enumerate(lines) if line.startswith("Overview at scale"))
    assert "first paint cold s" in lines[start + 1] and "first paint warm s" in lines[start + 1]


def test_bench_scope__sizes_in_customers_and_every_goal_with_its_verdict(capsys):
    from breachdash.bench_scope import print_scope_table

    row = {"backend": "sqlite", "import_s": 2.0, "import_rss": 300.0, "duckdb_s": 0.5, "sqlite_s": 1.0,
           "naive_s": None, "naive_rss": None}
    print_scope_table([{**row, "rows": 1000, "render_s": 0.10}, {**row, "rows": 2_000_000, "render_s": 0.11}])
    out = capsys.readouterr().out
    assert "customers" in out.splitlines()[2] and "2,000,000" in out
    assert "only with --naive-above-1m" in out
    goals = [line for line in out.splitlines() if line.startswith("  sqlite at 2,000,000 customers:")]
    assert len(goals) == 3
    assert "import 0.25x DuckDB read_csv throughput — goal ≥0.5x DuckDB: NOT MET" in goals[0]
    assert "goal <1024 MiB: met" in goals[1]
    assert "Scope render 1.10x of 1,000 customers — goal ≤1.2x: met" in goals[2]


def test_bench_exports__pdf_times_against_markdown_with_a_verdict(tmp_path):
    from breachdash.bench import _bench_exports, _Databases

    rows, verdicts = _bench_exports("sqlite", _Databases("sqlite", None, tmp_path), repeat=1)
    assert [r.baseline for r in rows] == ["briefing Markdown", "briefing Markdown", "timeline Markdown"]
    assert all(r.seconds > 0 and re.fullmatch(r"\d+\.\d\dx", r.ratio) for r in rows)
    assert re.match(r"PDF exports under 2 s after the first: (met|NOT MET) \(slowest median", verdicts[0])
