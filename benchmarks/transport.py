"""Client CPU of the product's HTTP transport against azure-core's requests transport.

    .venv/bin/python -m benchmarks.transport [--requests 400] [--clusters 40] [--rounds 2]

Prints, for each transport in turn (``--rounds`` times, in one process, after a warm-up pass so
that imports and first connections are not counted): the thread CPU per
``app.services.clusters.get`` call (one ARM GET through the mgmt client) over ``--requests``
calls, and the thread CPU per delivery of the first pass of ``Sandbox(fleet(clusters,
workspaces))`` (benchmarks/worlds.py; the runner's ``Delivery.cpu_seconds``, as `make bench`
measures it). "requests" is azure-core's RequestsTransport as the product built it before
(``use_env_settings=False``, the CA bundle); "urllib3" is
shared.adapters.http_transport.Urllib3Transport, what transport_kwargs() gives every
client now. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.pipeline.transport import RequestsTransport

from benchmarks.worlds import fleet
from sandbox.runner import Delivery, Sandbox
from shared.adapters import arm
from shared.decisions.arm_id import ResourceId

TRANSPORTS = ("requests", "urllib3")


@contextmanager
def transport(name: str) -> Iterator[None]:
    """Every client built meanwhile gets ``name``'s transport (transport_kwargs builds it)."""
    original = arm.Urllib3Transport
    if name == "requests":

        def requests_transport(**options: Any) -> RequestsTransport:
            return RequestsTransport(use_env_settings=False, **options)

        arm.Urllib3Transport = requests_transport  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        arm.Urllib3Transport = original  # type: ignore[misc]


def cpu_per_get(calls: int) -> float:
    """Milliseconds of thread CPU per ``clusters.get`` on a small running sandbox."""
    with Sandbox(fleet(2, 1)) as sandbox:
        cluster = ResourceId.parse(next(iter(sandbox.world.clusters.values())).id)
        clusters = sandbox.app.services.clusters
        for _ in range(10):
            clusters.get(cluster)
        start = time.thread_time()
        for _ in range(calls):
            clusters.get(cluster)
        return 1000 * (time.thread_time() - start) / calls


def cpu_per_delivery(clusters: int, workspaces: int) -> tuple[float, float, int, int]:
    """(mean ms, median ms, deliveries, ARM requests) of the first pass of a fleet."""
    points: list[float] = []

    def seen(delivery: Delivery) -> None:
        points.append(delivery.cpu_seconds * 1000)

    with Sandbox(fleet(clusters, workspaces), on_delivery=seen) as sandbox:
        report = sandbox.run_pass(0)
    return statistics.fmean(points), statistics.median(points), len(points), report.requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="clusters.get calls to time")
    parser.add_argument("--clusters", type=int, default=40, help="clusters in the fleet pass")
    parser.add_argument("--workspaces", type=int, default=3, help="workspaces in the fleet pass")
    parser.add_argument(
        "--rounds", type=int, default=2, help="measure each transport this many times, in turn"
    )
    args = parser.parse_args(argv)

    with transport("urllib3"):  # warm-up: imports, first TLS contexts, azure-ai-ml's start
        cpu_per_delivery(2, 1)
    print(f"{'transport':10} {'ms/GET':>8} {'ms/delivery':>12} {'median':>8} {'deliveries':>10}")
    for name in [name for _ in range(args.rounds) for name in TRANSPORTS]:
        with transport(name):
            get = cpu_per_get(args.requests)
            mean, median, deliveries, requests = cpu_per_delivery(args.clusters, args.workspaces)
        print(f"{name:10} {get:8.3f} {mean:12.2f} {median:8.2f} {deliveries:10d}")
        print(f"{'':10} ({requests} ARM requests in the pass, {requests / deliveries:.1f} each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
