"""`make bench` on a tiny fleet: every figure of issue 22's table is measured and printed, and
the results (JSON and plots) are written. No goal is asserted: the figures are for people."""

from __future__ import annotations

import json

from benchmarks.bench import Config, run


def test_the_bench_prints_each_goal_beside_its_figure_and_writes_its_results(tmp_path):
    config = Config(
        stream_clusters=1,
        stream_workspaces=(1,),
        storm_clusters=2,
        storm_workspaces=2,
        cpu_sizes=(1, 2),
        cpu_workspaces=1,
        replay_workspaces=1,
        cold_runs=1,
        latency_installs=(None, 90.0),
        latency_namespaces=(20.0,),
        latency_attaches=(45.0,),
        results=tmp_path,
    )
    results = run(config, progress=lambda _: None)
    lines = results["table"].splitlines()
    assert lines[0] == "| goal | figure | stream, fleet | goal | measured | met |"
    # 3 streams, the chain row, replays, latency, storm x 2, 3 CPU kinds, cold start, 2 costs
    assert len(lines) == 2 + 3 + 1 + 1 + 1 + 2 + 3 + 1 + 2
    assert all(line.count(" | ") == 5 for line in lines[2:])
    assert {line.split(" | ")[0].strip("| ") for line in lines[2:]} == {"1", "2", "3", "4", "5"}
    assert results["storm"]["converged"] == 4  # the storm attached every cluster
    assert all(run["attached"] == 1 for run in results["streams"])
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["table"] == results["table"]
    for plot in ("storm.png", "cpu.png", "latency.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
