"""The benchmark's PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from benchmarks.measure import Cpu, Storm

BIN_SECONDS = 10.0


def _rate(times: list[float], end: float) -> tuple[list[float], list[float]]:
    """Events per second in bins of BIN_SECONDS: (bin starts, rates)."""
    bins = max(1, int(end // BIN_SECONDS) + 1)
    counts = [0] * bins
    for at in times:
        counts[min(bins - 1, int(at // BIN_SECONDS))] += 1
    return [i * BIN_SECONDS for i in range(bins)], [c / BIN_SECONDS for c in counts]


def storm_plot(storm: Storm, path: Path, bucket: int = 200, refill: float = 10.0) -> None:
    """Top: clusters converged over (virtual) time. Bottom: ARM writes admitted per second
    against the refill rate, and the cumulative share of the write budget used."""
    timeline = storm.timeline
    end = max(storm.seconds, 1.0)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    done = sorted(timeline.get("completed_at", []))
    top.step(done, range(1, len(done) + 1), where="post", label="clusters converged")
    top.set_ylabel("clusters converged")
    top.set_title(
        f"Throttled storm: {storm.clusters} new clusters x {storm.workspaces} workspaces "
        f"(virtual time)"
    )
    top.grid(alpha=0.3)
    starts, writes = _rate(timeline.get("write_at", []), end)
    _, reads = _rate(timeline.get("read_at", []), end)
    _, refused = _rate(timeline.get("refused_at", []), end)
    bottom.plot(starts, writes, label="writes admitted /s")
    bottom.plot(starts, reads, label="reads admitted /s", alpha=0.6)
    bottom.plot(starts, refused, label="429 /s", alpha=0.6)
    bottom.axhline(refill, color="black", linestyle="--", label=f"write refill {refill:g}/s")
    cumulative = sorted(timeline.get("write_at", []))
    share = bottom.twinx()
    used = [(i + 1) / (bucket + refill * max(t, 1e-9)) * 100 for i, t in enumerate(cumulative)]
    share.plot(cumulative, used, color="tab:red", label="write budget used so far (%)")
    share.set_ylabel("write budget used (%)")
    share.set_ylim(0, 110)
    bottom.set_xlabel("virtual seconds since the events")
    bottom.set_ylabel("requests per second")
    lines = bottom.get_legend_handles_labels()
    extra = share.get_legend_handles_labels()
    bottom.legend(lines[0] + extra[0], lines[1] + extra[1], loc="upper right", fontsize=8)
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def cpu_plot(cpu: Cpu, path: Path) -> None:
    """Product-side CPU per delivered event against the computes already in the world."""
    figure, axis = plt.subplots(figsize=(9, 4.5))
    if cpu.points:
        xs, ys = zip(*cpu.points, strict=True)
        axis.scatter(xs, ys, s=6, label="first pass (new clusters, re-checks)")
    if cpu.replay_points:
        xs, ys = zip(*cpu.replay_points, strict=True)
        axis.scatter(xs, ys, s=6, label="replay of converged clusters", alpha=0.6)
    axis.axhline(20, color="black", linestyle="--", label="goal 20 ms")
    axis.set_xlabel("computes in the fleet")
    axis.set_ylabel("CPU per event (ms)")
    axis.set_title(
        f"Product-side CPU per event, {cpu.clusters} clusters x {cpu.workspaces} workspaces"
    )
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
