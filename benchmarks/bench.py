"""`make bench`: the issue-9 figures of autoattach on the sandbox, goal beside measured, and the
sequential manual script beside autoattach on the same throttled double, in one table.

    .venv/bin/python -m benchmarks.bench [--storm-clusters 500] [--fleet-clusters 200] ...

Writes benchmarks/results/bench.json, storm.png and cpu.png. Figures, not pass/fail: the exit
code is 0 whatever the figures are. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import measure
from benchmarks.baseline import run_baseline
from benchmarks.worlds import fleet

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Config:
    storm_clusters: int = 500
    storm_workspaces: int = 2
    fleet_clusters: int = 200
    fleet_workspaces: int = 3
    baseline_clusters: int = 50  # of the storm's clusters; the script is sequential: linear
    replay_workspaces: int = 3
    import_runs: int = 3
    profile: bool = True
    results: Path = RESULTS
    plots: bool = True


def run(config: Config, progress: Any = print) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {"config": {k: str(v) for k, v in vars(config).items()}}
    if config.import_runs > 0:
        progress("import function_app ...")
        results["import"] = measure.as_dict(measure.import_time(config.import_runs))
    progress(f"new attachment (1 x 1) and replays (W = 1..{config.replay_workspaces}) ...")
    new, replays = measure.attach_and_replay(max(1, config.replay_workspaces))
    results["new_attachment"] = measure.as_dict(new)
    results["replays"] = {str(w): measure.as_dict(c) for w, c in replays.items()}
    progress(f"fleet CPU ({config.fleet_clusters} x {config.fleet_workspaces}) ...")
    cpu = measure.fleet_cpu(config.fleet_clusters, config.fleet_workspaces, profile=config.profile)
    results["cpu"] = measure.as_dict(cpu)
    progress(f"throttled storm ({config.storm_clusters} x {config.storm_workspaces}) ...")
    storm = measure.storm(config.storm_clusters, config.storm_workspaces)
    results["storm"] = measure.as_dict(storm)
    sample = max(1, min(config.baseline_clusters, config.storm_clusters))
    progress(f"sequential baseline ({sample} of the storm's clusters) ...")
    scenario = fleet(config.storm_clusters, config.storm_workspaces, throttling=True)
    baseline = run_baseline(scenario, sample)
    results["baseline"] = measure.as_dict(baseline)
    results["baseline_storm_seconds"] = baseline.seconds * config.storm_clusters / sample
    results["bench_real_seconds"] = time.perf_counter() - started
    results["table"] = table(results)
    config.results.mkdir(parents=True, exist_ok=True)
    if config.plots:
        from benchmarks import plots

        plots.storm_plot(storm, config.results / "storm.png")
        plots.cpu_plot(cpu, config.results / "cpu.png")
    (config.results / "bench.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def _n(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(results: dict[str, Any]) -> str:
    """The one table: figure | goal | autoattach | sequential baseline | goal met."""
    new = results["new_attachment"]
    base = results["baseline"]
    per_base = max(1, base["clusters"] * base["workspaces"])
    replays = results["replays"]
    cpu = results["cpu"]
    storm = results["storm"]
    baseline_seconds = results["baseline_storm_seconds"]
    sample_note = (
        f"{_n(baseline_seconds)} s ({base['clusters']} clusters measured, x"
        f"{storm['clusters'] / base['clusters']:.0f})"
        if base["clusters"] != storm["clusters"]
        else f"{_n(baseline_seconds)} s"
    )
    speedup = baseline_seconds / storm["seconds"] if storm["seconds"] else float("inf")
    replay_reads = {w: r["reads"] for w, r in replays.items()}
    replay_writes = {w: r["writes"] for w, r in replays.items()}
    base_writes = base["writes_admitted"]
    base_share = measure.write_budget(base_writes, base["seconds"])
    rows = [
        (
            "ARM reads per new attachment (1 cluster, 1 workspace; polls apart)",
            "<= 5",
            f"{_n(new['reads'])} reads + {_n(new['polls'])} polls",
            f"{_n(base['reads'] / per_base)} reads + {_n(base['polls'] / per_base)} polls",
            _met(new["reads"] <= 5),
        ),
        (
            "ARM writes per new attachment",
            "<= 4",
            _n(new["writes"]),
            _n(base["writes"] / per_base),
            _met(new["writes"] <= 4),
        ),
        (
            "reads per replayed event of a converged cluster",
            "<= 3, any W",
            ", ".join(f"W={w}: {_n(r)}" for w, r in replay_reads.items()),
            "-",
            _met(all(r <= 3 for r in replay_reads.values())),
        ),
        (
            "writes per replay",
            "0",
            ", ".join(f"W={w}: {_n(r)}" for w, r in replay_writes.items()),
            "-",
            _met(all(r == 0 for r in replay_writes.values())),
        ),
        (
            f"product-side CPU per event, {cpu['clusters']} x {cpu['workspaces']} fleet",
            "<= 20 ms at the end, flat",
            f"start {cpu['start_ms']:.0f} ms, end {cpu['end_ms']:.0f} ms "
            f"(mean {cpu['mean_ms']:.0f}, replay {cpu['replay_mean_ms']:.0f})",
            "-",
            _met(cpu["end_ms"] <= 20 and cpu["end_ms"] <= 1.5 * max(cpu["start_ms"], 1e-9)),
        ),
        (
            f"throttled storm {storm['clusters']} x {storm['workspaces']}: "
            "share of ARM's write budget used",
            ">= 90%, 0 dead letters from 429",
            f"{storm['write_budget_share']:.0%}, {storm['dead_letters_429']} dead letters "
            f"from 429 ({storm['converged']}/{storm['clusters'] * storm['workspaces']} "
            "attached)",
            f"{base_share:.0%}, 0 dead letters",
            _met(storm["write_budget_share"] >= 0.9 and storm["dead_letters_429"] == 0),
        ),
        (
            "storm wall time (virtual) vs the sequential manual script",
            ">= 20x faster",
            f"{_n(storm['seconds'])} s ({speedup:.1f}x faster)",
            sample_note,
            _met(speedup >= 20),
        ),
    ]
    if "import" in results:
        imported = results["import"]
        rows.append(
            (
                f"`import function_app` (fresh process, best of {imported['runs']})",
                "<= 1 s",
                f"{imported['seconds']:.2f} s, {imported['modules']} modules",
                "-",
                _met(imported["seconds"] <= 1.0),
            )
        )
    lines = [
        "| figure | goal | autoattach | sequential baseline | goal met |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Measure the issue-9 figures on the sandbox and print one table "
        "(goal beside measured, sequential baseline beside autoattach); writes "
        "benchmarks/results/ (bench.json, storm.png, cpu.png).",
    )
    defaults = Config()
    parser.add_argument("--storm-clusters", type=int, default=defaults.storm_clusters)
    parser.add_argument("--storm-workspaces", type=int, default=defaults.storm_workspaces)
    parser.add_argument("--fleet-clusters", type=int, default=defaults.fleet_clusters)
    parser.add_argument("--fleet-workspaces", type=int, default=defaults.fleet_workspaces)
    parser.add_argument(
        "--baseline-clusters",
        type=int,
        default=defaults.baseline_clusters,
        help="run the sequential script on this many of the storm's clusters and scale its "
        "time to the whole storm (it is sequential, so linear); the storm size runs it all",
    )
    parser.add_argument("--import-runs", type=int, default=defaults.import_runs)
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile split")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name in ("storm_clusters", "fleet_clusters", "baseline_clusters"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    # The product logs each unexpected failure with its stack; the table says what matters.
    logging.getLogger("autoattach").setLevel(logging.CRITICAL)
    config = Config(
        storm_clusters=args.storm_clusters,
        storm_workspaces=args.storm_workspaces,
        fleet_clusters=args.fleet_clusters,
        fleet_workspaces=args.fleet_workspaces,
        baseline_clusters=args.baseline_clusters,
        import_runs=args.import_runs,
        profile=not args.no_profile,
        results=args.results,
    )
    results = run(config, progress=lambda text: print(text, flush=True))
    print()
    print(results["table"])
    print()
    cpu = results["cpu"]
    if cpu.get("own_code_share") is not None:
        print(f"cProfile of the replay pass: product code {cpu['own_code_share']:.0%} of CPU")
    storm = results["storm"]
    print(
        f"storm: {storm['reads']} reads, {storm['polls']} polls, {storm['writes']} writes, "
        f"{storm['throttled']} answered 429; {storm['real_seconds']:.0f} s real time"
    )
    print(f"bench: {results['bench_real_seconds']:.0f} s real time; results in {config.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
