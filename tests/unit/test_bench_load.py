"""The load benchmark's arithmetic: percentiles, the per-K table and its ratio against K = 1."""
import pytest

from breachdash.bench_load import (CpuUse, Sample, cpu_verdicts, format_table, parse_pages, parse_sessions,
                                   percentile, summarize)


def test_percentile__interpolates_between_closest_ranks_like_numpy():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 5.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.8)  # numpy.percentile([1..5], 95) == 4.8
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([7.0], 95) == 7.0


@pytest.mark.parametrize("values, q", [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile__refuses_no_values_and_out_of_range(values, q):
    with pytest.raises(ValueError):
        percentile(values, q)


def test_summarize__one_row_per_k_and_page_with_the_ratio_to_k1():
    samples = ([Sample(1, "Overview", s) for s in (2.0, 4.0)] + [Sample(1, "Scope", 1.0)]
               + [Sample(5, "Scope", s) for s in (1.0, 2.0, 3.0, 4.0, 5.0)]
               + [Sample(5, "Overview", s) for s in (6.0, 9.0, 12.0)])
    rows = summarize(samples)
    assert [(r.sessions, r.page, r.n) for r in rows] == [(1, "Overview", 2), (1, "Scope", 1), (5, "Overview", 3),
                                                         (5, "Scope", 5)]
    overview5, scope5 = rows[2], rows[3]
    assert (overview5.p50, overview5.max, overview5.ratio) == (9.0, 12.0, 3.0)  # 9 / median(2, 4)
    assert overview5.p95 == pytest.approx(11.7)
    assert (scope5.p50, scope5.ratio) == (3.0, 3.0) and scope5.p95 == pytest.approx(4.8)
    assert rows[0].ratio == rows[1].ratio == 1.0


def test_summarize__no_ratio_without_a_k1_baseline():
    assert [r.ratio for r in summarize([Sample(5, "Scope", 1.0), Sample(20, "Scope", 2.0)])] == [None, None]


def test_format_table__header_rule_and_one_line_per_row():
    lines = format_table(summarize([Sample(1, "Overview", 2.0), Sample(20, "Overview", 3.5),
                                    Sample(20, "Overview", 4.5)])).splitlines()
    assert lines[0].split() == ["K", "page", "n", "p50", "s", "p95", "s", "max", "s", "p50", "vs", "K=1"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["1", "Overview", "1", "2.00", "2.00", "2.00", "1.00x"]
    assert lines[3].split() == ["20", "Overview", "2", "4.00", "4.45", "4.50", "2.00x"]
    assert len(lines) == 4


def test_parse_sessions():
    assert parse_sessions("1,5,20") == [1, 5, 20]
    assert parse_sessions(" 5, 1,5 ") == [5, 1]
    for bad in ("", "0,5", "one", "1,-2"):
        with pytest.raises(ValueError):
            parse_sessions(bad)


def test_format_cpu__per_page_load_and_the_servers_share():
    from breachdash.bench_load import CpuUse, format_cpu

    text = format_cpu([CpuUse(sessions=1, page_loads=2, server_cpu=1.0, machine_cpu=4.0),
                       CpuUse(sessions=5, page_loads=10, server_cpu=6.0, machine_cpu=0.0)])
    lines = text.splitlines()
    assert lines[2].split() == ["1", "0.500", "2.000", "25%"]
    assert lines[3].split() == ["5", "0.600", "0.000", "0%"]


def test_parse_pages__overview_alone_or_with_scope():
    assert parse_pages("Overview") == ("Overview",)
    assert parse_pages("scope, overview") == ("Overview", "Scope")
    for bad in ("", "Scope", "Overview,Timeline"):
        with pytest.raises(ValueError):
            parse_pages(bad)


def test_cpu_verdicts__overview_loads_judged_against_the_goal_with_the_ratio():
    uses = [CpuUse(1, 10, 0.8, 5.0), CpuUse(5, 50, 7.5, 40.0)]
    lines = cpu_verdicts(uses, ("Overview",))
    assert lines[0] == "K=1: server CPU per Overview load 0.080 s — goal ≤0.1 s: met (0.80x the goal)"
    assert lines[1] == "K=5: server CPU per Overview load 0.150 s — goal ≤0.1 s: NOT MET (1.50x the goal)"
    assert "not judged here" in cpu_verdicts(uses, ("Overview", "Scope"))[0]
