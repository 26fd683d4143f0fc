"""`make bench` on a tiny fleet: every figure of issue 22's table is measured and printed, and
the results (JSON and plots) are written. No goal is asserted: the figures are for people."""

from __future__ import annotations

import json
from dataclasses import replace

from benchmarks.bench import Config, run


def tiny(tmp_path, **changes) -> Config:
    """The bench on a fleet small enough for the test suite."""
    config = Config(
        stream_clusters=1,
        stream_workspaces=(1,),
        storm_clusters=2,
        storm_workspaces=2,
        cpu_sizes=(1, 2),
        cpu_workspaces=1,
        cpu_rounds=1,
        replay_workspaces=1,
        cold_runs=1,
        latency_installs=(None, 90.0),
        latency_namespaces=(20.0,),
        latency_attaches=(45.0,),
        install_cadences=((60, 0),),
        dense_installs=(60.0, 97.0),
        results=tmp_path,
    )
    return replace(config, **changes)


def test_the_bench_prints_each_goal_beside_its_figure_and_writes_its_results(tmp_path):
    config = tiny(tmp_path)
    results = run(config, progress=lambda _: None)
    lines = results["table"].splitlines()
    assert lines[0] == "| goal | figure | stream, fleet | goal | measured | met |"
    # 3 streams, the chain row, replays, latency x 2, storm x 2, 3 CPU kinds, cold start, 2 costs
    assert len(lines) == 2 + 3 + 1 + 1 + 2 + 2 + 3 + 1 + 2
    assert all(line.count(" | ") == 5 for line in lines[2:])
    assert {line.split(" | ")[0].strip("| ") for line in lines[2:]} == {"1", "2", "3", "4", "5"}
    assert results["storm"]["converged"] == 4  # the storm attached every cluster
    assert all(run["attached"] == 1 for run in results["streams"])
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["table"] == results["table"]
    for plot in ("storm.png", "cpu.png", "latency.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_bench_says_what_each_read_was_of_and_what_slower_install_polls_would_save(tmp_path):
    config = tiny(
        tmp_path,
        storm_clusters=1,
        storm_workspaces=1,
        cold_runs=0,
        latency_installs=(90.0,),
        dense_installs=(60.0, 97.0, 134.0),
        plots=False,
    )
    results = run(config, progress=lambda _: None)
    for stream in results["streams"]:
        assert abs(sum(stream["reads_by_kind"].values()) - stream["reads"]) < 1e-9
    installing = next(r for r in results["streams"] if r["stream"] == "created-with-extension")
    assert installing["reads_by_kind"]["extension"] > 1  # the install was polled
    default, slower = results["install_trade"]
    assert default["default"] and (default["first_seconds"], default["percent_of_wait"]) == (15, 5)
    assert slower["extension_reads"] < default["extension_reads"]
    assert slower["executions"] < default["executions"]
    assert slower["worst_ratio"] > default["worst_ratio"]  # seen later
    assert "60 s, 0%" in results["trade_table"] and "(default)" in results["trade_table"]
