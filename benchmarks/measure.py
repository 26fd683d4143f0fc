"""The measurements behind `make bench`, each a run of the real pipeline on the sandbox."""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.worlds import fleet
from sandbox.runner import Delivery, PassReport, Sandbox

ROOT = Path(__file__).resolve().parents[1]
THROTTLE_REASONS = ("429", "throttled", "toomanyrequests")


def _per_delivery(report: PassReport) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for delivery in report.deliveries:
        outcomes[delivery.outcome] = outcomes.get(delivery.outcome, 0) + 1
    return outcomes


@dataclass
class Counts:
    """ARM requests of one pass, per attachment (or per event for a replay)."""

    reads: float
    polls: float
    writes: float
    deliveries: int
    outcomes: dict[str, int]


def counts(report: PassReport, per: int) -> Counts:
    return Counts(
        reads=report.reads / per,
        polls=report.polls / per,
        writes=report.writes / per,
        deliveries=len(report.deliveries),
        outcomes=_per_delivery(report),
    )


def attach_and_replay(max_workspaces: int = 3) -> tuple[Counts, dict[int, Counts]]:
    """One new cluster joining one workspace, until converged (realistic operation durations);
    and a converged cluster's event delivered again (25 h later), for W = 1..max workspaces."""
    new: Counts | None = None
    replayed = {}
    for workspaces in range(1, max_workspaces + 1):
        with Sandbox(fleet(1, workspaces)) as sandbox:
            first = sandbox.run_pass(0)
            if workspaces == 1:
                new = counts(first, 1)
            replayed[workspaces] = counts(sandbox.run_pass(1), 1)
    assert new is not None
    return new, replayed


@dataclass
class Cpu:
    """Thread CPU per delivery (product + SDK clients; the doubles serve in other threads)."""

    clusters: int
    workspaces: int
    mean_ms: float
    start_ms: float  # mean of the first `window` deliveries of the run
    end_ms: float  # mean of the last `window` deliveries of the run
    replay_mean_ms: float
    window: int
    points: list[tuple[int, float]] = field(default_factory=list)  # (computes in world, ms)
    replay_points: list[tuple[int, float]] = field(default_factory=list)
    own_code_share: float | None = None  # cProfile: share of the replay's time in shared/


def fleet_cpu(clusters: int, workspaces: int, *, profile: bool = True) -> Cpu:
    points: list[tuple[int, float]] = []
    box: list[Sandbox] = []

    def seen(delivery: Delivery) -> None:
        points.append((len(box[0].world.computes), delivery.cpu_seconds * 1000))

    sandbox = Sandbox(fleet(clusters, workspaces), on_delivery=seen)
    box.append(sandbox)
    with sandbox:
        sandbox.run_pass(0)
        first = list(points)
        points.clear()
        sandbox.run_pass(1)
        replay = list(points)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            # A third pass, replays again, under the profiler (it slows what it watches, so
            # the CPU figures above are taken without it).
            profiler.enable()
            sandbox.run_pass(2)
            profiler.disable()
    window = max(1, min(20, len(first) // 10))
    return Cpu(
        clusters=clusters,
        workspaces=workspaces,
        mean_ms=statistics.fmean(ms for _, ms in first),
        start_ms=statistics.fmean(ms for _, ms in first[:window]),
        end_ms=statistics.fmean(ms for _, ms in first[-window:]),
        replay_mean_ms=statistics.fmean(ms for _, ms in replay) if replay else 0.0,
        window=window,
        points=first,
        replay_points=replay,
        own_code_share=_own_share(profiler) if profiler is not None else None,
    )


def _own_share(profiler: cProfile.Profile) -> float:
    """Share of the profiled thread's own time spent in the product's modules (shared/,
    functions/, function_app.py) rather than in SDKs, http, TLS and the standard library."""
    stats = pstats.Stats(profiler)
    total = own = 0.0
    for (filename, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        tottime = row[2]
        total += tottime
        normalized = filename.replace("\\", "/")
        if "site-packages" not in normalized and (
            "/shared/" in normalized
            or "/functions/" in normalized
            or normalized.endswith("function_app.py")
        ):
            own += tottime
    return own / total if total else 0.0


@dataclass
class Storm:
    clusters: int
    workspaces: int
    seconds: float  # virtual: from the events to the last delivery
    converged: int  # computes Succeeded at the end, of clusters x workspaces
    reads: int
    polls: int
    writes: int
    throttled: int
    writes_admitted: int
    write_budget_share: float
    dead_letters: int
    dead_letters_429: int
    outcomes: dict[str, int]
    real_seconds: float
    timeline: dict[str, list[float]] = field(default_factory=dict)


def write_budget(admitted: int, seconds: float, bucket: int = 200, refill: float = 10.0) -> float:
    """Share of ARM's write budget used: admitted writes / (full bucket + refill over the time)."""
    return admitted / (bucket + refill * seconds) if seconds > 0 or bucket else 0.0


def storm(clusters: int, workspaces: int) -> Storm:
    started = time.perf_counter()
    with Sandbox(fleet(clusters, workspaces, throttling=True)) as sandbox:
        report = sandbox.run_pass(0)
        charges = list(sandbox.arm.throttle.charges)
        converged = sum(
            1
            for c in sandbox.world.snapshot()["computes"]
            if c["provisioning_state"] == "Succeeded"
        )
    real = time.perf_counter() - started
    end = max((d.at for d in report.deliveries), default=0.0)
    admitted = sum(1 for c in charges if c.kind == "writes" and c.admitted)
    dead = [d for d in report.deliveries if d.outcome == "dead-lettered"]
    dead_429 = [d for d in dead if any(r in d.reason.lower() for r in THROTTLE_REASONS)]
    return Storm(
        clusters=clusters,
        workspaces=workspaces,
        seconds=end,
        converged=converged,
        reads=report.reads,
        polls=report.polls,
        writes=report.writes,
        throttled=report.throttled,
        writes_admitted=admitted,
        write_budget_share=write_budget(admitted, end),
        dead_letters=len(dead),
        dead_letters_429=len(dead_429),
        outcomes=_per_delivery(report),
        real_seconds=real,
        timeline={
            "write_at": [c.at for c in charges if c.kind == "writes" and c.admitted],
            "read_at": [c.at for c in charges if c.kind == "reads" and c.admitted],
            "refused_at": [c.at for c in charges if not c.admitted],
            "completed_at": [d.at for d in report.deliveries if d.outcome == "completed"],
        },
    )


@dataclass
class Import:
    seconds: float  # best of `runs`
    modules: int
    runs: int


IMPORT_PROBE = (
    "import sys, time\n"
    "before = len(sys.modules)\n"
    "t = time.perf_counter()\n"
    "import function_app\n"
    "print(time.perf_counter() - t, len(sys.modules) - before)\n"
)


def import_time(runs: int = 3) -> Import:
    """`import function_app` in a fresh interpreter, best of ``runs``."""
    # MLClient leaves AZUREML_CURRENT_CLOUD (a sandbox cloud name) in the environment; a fresh
    # Function host has none.
    environment = {k: v for k, v in os.environ.items() if k != "AZUREML_CURRENT_CLOUD"}
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
        )
        if done.returncode != 0:
            raise RuntimeError(f"import function_app failed: {done.stderr.strip()[-2000:]}")
        out = done.stdout.split()
        results.append((float(out[-2]), int(out[-1])))
    seconds, modules = min(results)
    return Import(seconds=seconds, modules=modules, runs=runs)


def as_dict(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value
