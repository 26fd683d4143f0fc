"""The measurements behind `make bench`, each a run of the real pipeline on the sandbox."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.streams import percentile, usable_times
from benchmarks.worlds import fleet
from sandbox.runner import PassReport, Sandbox

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
    write_budget_share: float  # over the write window: the events to the last write admitted
    dead_letters: int
    dead_letters_429: int
    outcomes: dict[str, int]
    real_seconds: float
    timeline: dict[str, list[float]] = field(default_factory=dict)
    write_window: float = 0.0  # virtual seconds from the events to the last write admitted
    share_to_last_delivery: float = 0.0  # the same writes over the whole storm
    usable_p50: float = 0.0  # seconds from the event until the cluster's computes are usable
    usable_p99: float = 0.0


def write_budget(admitted: int, seconds: float, bucket: int = 200, refill: float = 10.0) -> float:
    """Share of ARM's write budget used: admitted writes / (full bucket + refill over the time)."""
    return admitted / (bucket + refill * seconds) if seconds > 0 or bucket else 0.0


def storm(clusters: int, workspaces: int) -> Storm:
    started = time.perf_counter()
    with Sandbox(fleet(clusters, workspaces, throttling=True)) as sandbox:
        report = sandbox.run_pass(0)
        charges = list(sandbox.arm.throttle.charges)
        usable = usable_times(sandbox)
        converged = sum(
            1
            for c in sandbox.world.snapshot()["computes"]
            if c["provisioning_state"] == "Succeeded"
        )
    real = time.perf_counter() - started
    end = max((d.at for d in report.deliveries), default=0.0)
    per_cluster: dict[str, float] = {}
    for compute, at in usable.items():
        name = compute.rsplit("/", 1)[-1]
        per_cluster[name] = max(per_cluster.get(name, 0.0), at)
    admitted = sum(1 for c in charges if c.kind == "writes" and c.admitted)
    window = max((c.at for c in charges if c.kind == "writes" and c.admitted), default=0.0)
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
        write_budget_share=write_budget(admitted, window),
        write_window=window,
        share_to_last_delivery=write_budget(admitted, end),
        dead_letters=len(dead),
        dead_letters_429=len(dead_429),
        outcomes=_per_delivery(report),
        real_seconds=real,
        timeline={
            "write_at": [c.at for c in charges if c.kind == "writes" and c.admitted],
            "read_at": [c.at for c in charges if c.kind == "reads" and c.admitted],
            "refused_at": [c.at for c in charges if not c.admitted],
            "completed_at": [d.at for d in report.deliveries if d.outcome == "completed"],
            "usable_at": sorted(per_cluster.values()),
        },
        usable_p50=percentile(list(per_cluster.values()), 0.5),
        usable_p99=percentile(list(per_cluster.values()), 0.99),
    )


def as_dict(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value
