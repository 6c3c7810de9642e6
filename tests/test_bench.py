from breachdash.bench import run_bench


def test_bench__prints_each_figure_with_its_baseline_and_ratio(capsys):
    assert run_bench(postgres_url=None, repeat=1) == 0
    out = capsys.readouterr().out
    for measure in ("migrate an empty database to head", "seed the demo incident", "Overview render"):
        line = next(line for line in out.splitlines() if line.startswith(measure))
        assert line.rstrip().endswith("x")
    assert "peak RSS" in out
