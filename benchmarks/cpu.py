"""CPU figures that can fail (issue 22, goal 4): CPU per delivery kind against fleet size, as a
slope, and a cold instance's CPU from process start to its first ARM write.

CPU is counted, never timed: ``time.thread_time`` of the delivering thread (the doubles serve in
their own threads), and for the cold start the CPU clock of a fresh process's main thread.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.worlds import CLUSTER_WRITE, cluster_id, fleet
from sandbox.runner import Delivery, Sandbox
from sandbox.scenario import arm_event
from shared.adapters.deferred_aiohttp import deferred

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("new cluster", "re-check", "replay")


@dataclass
class KindCpu:
    """Median CPU (ms) per delivery of one kind at each fleet size (the median: a loaded
    machine's stray spikes are not the fleet's doing), and their least-squares slope."""

    kind: str
    sizes: list[int]
    median_ms: list[float]
    slope_ms_per_100: float  # change of the mean per 100 more clusters

    @property
    def spread(self) -> float:
        """Largest mean over the smallest: 1.0 is flat."""
        low = min(self.median_ms) or 1e-9
        return max(self.median_ms) / low


@dataclass
class CpuByKind:
    workspaces: int
    kinds: list[KindCpu]
    points: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # kind: (size, ms)
    rounds: int = 1  # each size measured this many times, interleaved


def _slope(xs: list[int], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def cpu_by_kind(sizes: list[int], workspaces: int, rounds: int = 3) -> CpuByKind:
    """For each fleet size: attach every cluster (first deliveries are *new cluster*, the rest
    *re-check*), then deliver the same events again a day later (*replay*). ``rounds`` times,
    the sizes in turn ascending and descending, and the median of every round's deliveries per
    size: a machine that slows or speeds up over the run then moves every size alike, instead of
    reading as a slope."""
    samples: dict[str, dict[int, list[float]]] = {k: {n: [] for n in sizes} for k in KINDS}
    # a process imports azure-ai-ml at its first attach (about 1.25 s of CPU, once, in whichever
    # delivery attaches first: a re-check here): imported before, so no kind carries it
    with deferred():
        import azure.ai.ml  # noqa: F401
    # a fleet first, not counted: the process's one-time costs (the first publish's and the
    # first role read's imports, the interpreter's warm-up) are no kind's and no size's
    _one_fleet(min(sizes), workspaces)
    for round_ in range(max(1, rounds)):
        for size in sizes if round_ % 2 == 0 else list(reversed(sizes)):
            seen = _one_fleet(size, workspaces)
            for kind in KINDS:
                samples[kind][size] += seen[kind]
    medians = {k: [statistics.median(samples[k][n] or [0.0]) for n in sizes] for k in KINDS}
    kinds = [KindCpu(k, list(sizes), medians[k], _slope(sizes, medians[k]) * 100) for k in KINDS]
    points = {k: [(n, v) for n in sizes for v in samples[k][n]] for k in KINDS}
    return CpuByKind(workspaces=workspaces, kinds=kinds, points=points, rounds=max(1, rounds))


def _one_fleet(size: int, workspaces: int) -> dict[str, list[float]]:
    """CPU (ms) of each delivery, by kind, of one fleet attached and then replayed."""
    seen: dict[str, list[float]] = {k: [] for k in KINDS}
    replaying = [False]

    def record(delivery: Delivery) -> None:
        if replaying[0]:
            kind = "replay"
        elif delivery.label.startswith("re-check"):
            kind = "re-check"
        else:
            kind = "new cluster"
        seen[kind].append(delivery.cpu_seconds * 1000)

    with Sandbox(fleet(size, workspaces), on_delivery=record) as sandbox:
        sandbox.run_pass(0)
        replaying[0] = True
        sandbox.run_pass(1)
    return seen


# Modules a new cluster's path up to its first write does not use, so must not import: aiohttp
# (no client here is async), azure-ai-ml (only the attach and the detach need it).
NOT_ON_THE_PATH = ("aiohttp", "azure.ai.ml")

COLD_PROBE = r"""
import json, sys, threading, time
main = time.pthread_getcpuclockid(threading.get_ident())
env, body, arm_port = json.loads(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
unused = json.loads(sys.argv[4])
import function_app  # what the Functions host does first
imported = time.clock_gettime(main)
import_modules = len(sys.modules)
import urllib3.connectionpool as pool
first = {}
original = pool.HTTPConnectionPool.urlopen
def urlopen(self, method, url, *args, **kwargs):
    if method in ("PUT", "PATCH", "POST", "DELETE") and self.port == arm_port and not first:
        first["cpu"] = time.clock_gettime(main)
        first["modules"] = len(sys.modules)
        first["aiohttp"] = "aiohttp" in sys.modules
        first["unused"] = sorted(name for name in unused if name in sys.modules)
        first["write"] = f"{method} {url.split('?', 1)[0]}"
    return original(self, method, url, *args, **kwargs)
pool.HTTPConnectionPool.urlopen = urlopen
from sandbox.credential import SandboxCredential  # a token without a round trip (the doubles')
from shared.settings import Settings
from shared.wiring import build_app
from shared.engine.handling import handle_message
app = build_app(Settings.from_environment(env), SandboxCredential())
outcome = handle_message(body, attempt=0, services=app.services, recheck_delay_seconds=60)
print(json.dumps({"import": imported, "first_write": first.get("cpu"),
    "import_modules": import_modules, "modules": first.get("modules"),
    "aiohttp": first.get("aiohttp"), "unused": first.get("unused"), "write": first.get("write"),
    "outcome": type(outcome).__name__}))
"""


@dataclass
class ColdStart:
    import_cpu: float  # seconds of CPU from process start to `import function_app` done
    first_write_cpu: float  # ... to the first ARM write of the first message
    import_modules: int
    modules: int
    aiohttp: bool
    runs: int
    # which of NOT_ON_THE_PATH the process had imported by its first write
    unused_imported: list[str] = field(default_factory=list)
    first_write: str = ""  # the best run's first ARM write: "PUT /subscriptions/..."


def cold_start(runs: int = 3) -> ColdStart:
    """A fresh process (the doubles serve from this one) imports the app, builds it and handles
    one new cluster's event; its main thread's CPU until the first ARM write. Best of ``runs``;
    ``unused_imported``: the modules of NOT_ON_THE_PATH any run had imported by then."""
    results = []
    with Sandbox(fleet(runs, 1)) as sandbox:
        environment = {k: v for k, v in os.environ.items() if k != "AZUREML_CURRENT_CLOUD"}
        environment["PYTHONPATH"] = str(ROOT)
        port = int(sandbox.arm.base_url.rsplit(":", 1)[1].split("/")[0])
        settings = sandbox.app_settings()
        for run in range(runs):
            # a cluster of its own per run: each is a new cluster's first event
            body = json.dumps(arm_event(CLUSTER_WRITE, cluster_id(run), event_id=f"cold-{run}"))
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    COLD_PROBE,
                    json.dumps(settings),
                    body,
                    str(port),
                    json.dumps(NOT_ON_THE_PATH),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=environment,
            )
            if done.returncode != 0:
                raise RuntimeError(f"cold start probe failed: {done.stderr.strip()[-2000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = min(results, key=lambda r: r["first_write"] or float("inf"))
    return ColdStart(
        import_cpu=best["import"],
        first_write_cpu=best["first_write"] or float("inf"),
        import_modules=best["import_modules"],
        modules=best["modules"] or 0,
        aiohttp=bool(best["aiohttp"]),
        runs=runs,
        unused_imported=sorted({name for r in results for name in r["unused"] or []}),
        first_write=best["write"] or "",
    )
