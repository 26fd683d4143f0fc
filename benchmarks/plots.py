"""The benchmark's PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from benchmarks.cpu import CpuByKind
from benchmarks.measure import Storm
from benchmarks.streams import Latency

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


def cpu_kind_plot(by_kind: CpuByKind, path: Path) -> None:
    """CPU per delivery, by kind, against the fleet's size: each delivery a dot, the medians a
    line (a flat line is the goal)."""
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for kind in by_kind.kinds:
        points = by_kind.points.get(kind.kind, [])
        if points:
            xs, ys = zip(*points, strict=True)
            axis.scatter(xs, ys, s=5, alpha=0.35)
        axis.plot(
            kind.sizes,
            kind.median_ms,
            marker="o",
            label=f"{kind.kind}: {kind.slope_ms_per_100:+.1f} ms per 100 clusters",
        )
    axis.set_xlabel(f"clusters in the fleet (x {by_kind.workspaces} workspaces)")
    axis.set_ylabel("CPU per delivery (ms, thread time)")
    axis.set_title("Product-side CPU per delivery, by kind, against fleet size")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def latency_plot(rows: list[Latency], path: Path) -> None:
    """Time from the tag event to a usable compute against the floor Azure's durations set,
    one bar pair per world of the sweep."""
    figure, axis = plt.subplots(figsize=(11, 4.8))
    labels = [
        f"i{'-' if r.install is None else int(r.install)} n{int(r.namespace)} a{int(r.attach)}"
        for r in rows
    ]
    xs = range(len(rows))
    axis.bar([x - 0.2 for x in xs], [r.floor for r in rows], width=0.4, label="Azure's floor")
    axis.bar([x + 0.2 for x in xs], [r.measured for r in rows], width=0.4, label="autoattach")
    for x, r in zip(xs, rows, strict=True):
        axis.text(x + 0.2, r.measured + 5, f"{r.ratio:.2f}", ha="center", fontsize=7)
    axis.set_xticks(list(xs))
    axis.set_xticklabels(labels, rotation=60, fontsize=7)
    axis.set_ylabel("seconds from the tag event to usable")
    axis.set_title(
        "Time to a usable compute vs the floor (i: install s, n: namespace s, a: attach s; "
        "ratio on top)"
    )
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
