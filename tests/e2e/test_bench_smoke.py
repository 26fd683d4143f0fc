"""`make bench` on a tiny fleet: every figure of the issue-9 table is measured and printed,
and the results (JSON and plots) are written. No goal is asserted: the figures are for people."""

from __future__ import annotations

import json

from benchmarks.bench import Config, run


def test_the_bench_prints_one_row_per_goal_and_writes_its_results(tmp_path):
    config = Config(
        storm_clusters=2,
        storm_workspaces=2,
        fleet_clusters=2,
        fleet_workspaces=2,
        baseline_clusters=1,
        replay_workspaces=1,
        import_runs=0,
        profile=False,
        results=tmp_path,
    )
    results = run(config, progress=lambda _: None)
    lines = results["table"].splitlines()
    assert lines[0] == "| figure | goal | autoattach | sequential baseline | goal met |"
    assert len(lines) == 2 + 7  # header, rule, and the seven figures measured here
    assert all(line.count(" | ") == 4 for line in lines[2:])
    assert results["storm"]["converged"] == 4  # the storm attached every cluster
    assert results["baseline"]["writes"] == 2 * 4  # the script's PUTs for one cluster
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["table"] == results["table"]
    for plot in ("storm.png", "cpu.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
