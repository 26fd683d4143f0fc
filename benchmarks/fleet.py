"""Benchmark: attach a fleet of tagged AKS clusters through the real pipeline and the local double.

Prints figures (no pass/fail): ARM requests per cluster and per attachment, the cost of a replay,
wall time and peak memory. With --throttle the ARM double enforces public-cloud throttling
(reads: bucket 250, 25/s; writes: bucket 200, 10/s) and azure-core's 429 retries show up as time.

    .venv/bin/python benchmarks/fleet.py --clusters 50 [--workspaces 2] [--throttle]
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

from sandbox.scenario import Scenario, arm_event, parse_steps

SUB = "/subscriptions/5a0f0c8e-0000-4000-8000-00000000f1ee"


def fleet_world(clusters: int, workspaces: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rg = f"{SUB}/resourceGroups/rg-fleet"
    ml = f"{SUB}/resourceGroups/rg-ml/providers"
    names = [f"ws-{i}" for i in range(workspaces)]
    world = {
        "workspaces": [
            {
                "id": f"{ml}/Microsoft.MachineLearningServices/workspaces/{name}",
                "location": "westeurope",
                "storage_account": f"{ml}/Microsoft.Storage/storageAccounts/st{i}",
                "container_registry": f"{ml}/Microsoft.ContainerRegistry/registries/acr{i}",
            }
            for i, name in enumerate(names)
        ],
        "clusters": [
            {
                "id": f"{rg}/providers/Microsoft.ContainerService/managedClusters/aks-{n:04d}",
                "location": "westeurope",
                "tags": {"azureml-attach": ",".join(names)},
                "provisioning_state": "Succeeded",
                "azure_rbac": True,
                "extensions": [
                    {
                        "name": "azureml",
                        "extension_type": "Microsoft.AzureML.Kubernetes",
                        "provisioning_state": "Succeeded",
                    }
                ],
            }
            for n in range(clusters)
        ],
    }
    policy = {
        "workspaces": [
            {
                "workspace": w["id"],
                "clusters": [rg],
                "storage_access": "read-write" if i % 2 else "read",
                "computes": [{"name": "{cluster}", "namespace": "azureml"}],
            }
            for i, w in enumerate(world["workspaces"])
        ]
    }
    return world, policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--workspaces", type=int, default=2)
    parser.add_argument("--throttle", action="store_true", help="enforce ARM throttling limits")
    args = parser.parse_args()

    from sandbox.arm_faults import Throttle, ThrottleLimits
    from sandbox.runner import Sandbox

    world, policy = fleet_world(args.clusters, args.workspaces)
    events = [
        {
            "at": 0,
            "event": arm_event(
                "Microsoft.ContainerService/managedClusters/write", c["id"], event_id=f"e{n}"
            ),
        }
        for n, c in enumerate(world["clusters"])
    ]
    scenario = Scenario(world=world, policy=policy, steps=parse_steps(events, "fleet"))
    with Sandbox(scenario) as sandbox:
        if args.throttle:
            sandbox.arm.throttle = Throttle(ThrottleLimits(), enforce=True)
        for index in range(2):
            started = time.perf_counter()
            report = sandbox.run_pass(index)
            seconds = time.perf_counter() - started
            attachments = args.clusters * args.workspaces
            outcomes: dict[str, int] = {}
            for delivery in report.deliveries:
                outcomes[delivery.outcome] = outcomes.get(delivery.outcome, 0) + 1
            label = "first pass (attach)" if index == 0 else "second pass (replay)"
            print(f"{label}: {args.clusters} clusters x {args.workspaces} workspaces")
            print(f"  deliveries     {len(report.deliveries)}  {outcomes}")
            print(
                f"  ARM reads      {report.reads}  ({report.reads / args.clusters:.1f} per cluster)"
            )
            per_attachment = report.writes / attachments
            per_cluster_ms = seconds / args.clusters * 1000
            print(f"  ARM writes     {report.writes}  ({per_attachment:.1f} per attachment)")
            print(f"  wall time      {seconds:.2f} s  ({per_cluster_ms:.0f} ms per cluster)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory      {peak:.0f} MiB (whole process: SDKs, doubles, runner)")


if __name__ == "__main__":
    main()
