"""The sweep over thousands of clusters: CPU, memory, ARM requests and Service Bus messages.

``python -m benchmarks.sweep_scale`` builds fleets of N tagged AKS clusters spread over S
subscriptions, every cluster already attached to two workspaces (the steady state a sweep meets
every 15 minutes), and runs the sweep the timer runs (shared/engine/sweep.py
``request_reconciles``: the list-by-tag per subscription, shared/engine/healing.py ``survey``, one
reconcile request per cluster) once on each, against the local Azure double with ARM's request
throttling on. It prints one table; figures, not pass/fail.

The fleet: each subscription has two workspaces (Azure ML attaches only clusters of the
workspace's subscription) allowing its clusters. ``ws-0`` runs under its system-assigned identity;
``ws-1`` under a user-assigned identity, which holds Reader, Kubernetes Extension Contributor and
AKS Cluster Admin on every cluster. Each compute has its own identity with AcrPull and a Storage
Blob Data role. So a sweep reads N clusters, 2N computes and 7N role assignments.

Measured (the machine is shared, so CPU time and counts, not wall time):

- ``cpu s``: ``time.process_time()`` over the sweep: the whole process, so the in-process Azure
  double serving the requests (routing, TLS, JSON) is in it, about half of it;
- ``sweep cpu s``: ``time.thread_time()`` of the thread running the sweep: the product, its SDK
  clients and their TLS work, what the Function would spend;
- ``peak MiB``: ``tracemalloc``'s peak over the sweep above what was allocated before it (the
  world): again the whole process, the double's response bodies included;
- ``ARM reads``, ``429``: requests the double served and how many its buckets refused (reads:
  250 a subscription and principal, refilled at 25/s); ``busiest sub``: the most reads one
  subscription took; ``virtual s``: the virtual time the sweep took (the SDK's waits on
  ``Retry-After`` move the clock, a request takes none);
- ``messages``, ``sends``: reconcile requests scheduled on cluster-events, and the Service Bus
  schedule calls that carried them.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

from sandbox.arm_ids import deterministic_principal
from sandbox.runner import Sandbox
from sandbox.scenario import Scenario
from sandbox.servicebus_double import QueueSender
from shared.adapters.roles import assignment_name, role_definition_id
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import Role
from shared.engine.sweep import request_reconciles

TAG = "azureml-attach"
UAI_PRINCIPAL = "11111111-1111-4111-8111-{s:012d}"
DESCRIPTION = "Created by autoattach"


def subscription(s: int) -> str:
    return f"5a0f0c8e-0000-4000-8000-{s:012d}"


def ml(s: int) -> str:
    return f"/subscriptions/{subscription(s)}/resourceGroups/rg-ml/providers"


def identity(s: int) -> str:
    return f"{ml(s)}/Microsoft.ManagedIdentity/userAssignedIdentities/uai-ws-1"


def cluster_id(n: int, subscriptions: int) -> str:
    return (
        f"/subscriptions/{subscription(n % subscriptions)}/resourceGroups/rg-fleet/providers/"
        f"Microsoft.ContainerService/managedClusters/aks-{n:05d}"
    )


def workspace(s: int, i: int) -> dict[str, Any]:
    """Azure ML attaches only clusters of the workspace's subscription: two per subscription."""
    entry: dict[str, Any] = {
        "id": f"{ml(s)}/Microsoft.MachineLearningServices/workspaces/ws-{i}",
        "location": "westeurope",
        "storage_account": f"{ml(s)}/Microsoft.Storage/storageAccounts/st{i}",
        "container_registry": f"{ml(s)}/Microsoft.ContainerRegistry/registries/acr{i}",
    }
    if i == 1:
        entry["identity"] = {"type": "UserAssigned", "user_assigned_identity": identity(s)}
    return entry


def _assignment(scope: str, role: Role, principal: str) -> dict[str, str]:
    at = ResourceId.parse(scope)
    return {
        "scope": scope,
        "role_definition_id": role_definition_id(at, role),
        "principal_id": principal,
        "name": assignment_name(at, role, principal),
        "description": DESCRIPTION,
        "principal_type": "ServicePrincipal",
    }


def attached_fleet(clusters: int, subscriptions: int) -> Scenario:
    """N tagged clusters over S subscriptions, each attached to its subscription's ws-0 and ws-1
    as autoattach leaves it (computes marked as autoattach's, the role assignments it makes)."""
    computes: list[dict[str, Any]] = []
    assignments: list[dict[str, str]] = []
    for n in range(clusters):
        s = n % subscriptions
        cluster = cluster_id(n, subscriptions)
        name = cluster.rsplit("/", 1)[-1]
        for i in (0, 1):
            ws = workspace(s, i)
            computes.append(
                {
                    "workspace": ws["id"],
                    "name": name,
                    "resource_id": cluster,
                    "namespace": f"team-{i}",
                    "identity_type": "system_assigned",
                    "tags": {"managed-by": "autoattach"},
                    "description": f"Attached by autoattach from cluster {name}",
                }
            )
            principal = deterministic_principal(f"{ws['id']}/computes/{name}")
            data = Role.STORAGE_BLOB_DATA_READER if i == 0 else Role.STORAGE_BLOB_DATA_CONTRIBUTOR
            assignments.append(_assignment(ws["container_registry"], Role.ACR_PULL, principal))
            assignments.append(_assignment(ws["storage_account"], data, principal))
        for role in (Role.READER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, Role.AKS_CLUSTER_ADMIN):
            assignments.append(_assignment(cluster, role, UAI_PRINCIPAL.format(s=s)))
    world: dict[str, Any] = {
        "arm_throttling": True,
        "workspaces": [workspace(s, i) for s in range(subscriptions) for i in (0, 1)],
        "identities": [
            {
                "id": identity(s),
                "principal_id": UAI_PRINCIPAL.format(s=s),
                "client_id": UAI_PRINCIPAL.format(s=s)[::-1],
            }
            for s in range(subscriptions)
        ],
        "clusters": [
            {
                "id": cluster_id(n, subscriptions),
                "location": "westeurope",
                "tags": {TAG: "ws-0,ws-1"},
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
        "computes": computes,
        "role_assignments": assignments,
    }
    policy = {
        "workspaces": [
            {
                "workspace": workspace(s, i)["id"],
                "clusters": [f"/subscriptions/{subscription(s)}/resourceGroups/rg-fleet"],
                "storage_access": "read" if i == 0 else "read-write",
                "computes": [{"name": "{cluster}", "namespace": f"team-{i}"}],
            }
            for s in range(subscriptions)
            for i in (0, 1)
        ]
    }
    return Scenario(world=world, policy=policy, steps=[], tag_key=TAG)


@dataclass
class SweepFigures:
    clusters: int
    subscriptions: int
    cpu_seconds: float
    sweep_cpu_seconds: float
    peak_mib: float
    reads: int
    throttled: int
    busiest_subscription_reads: int
    virtual_seconds: float
    messages: int
    sends: int


class _SendCounter:
    """Counts the Service Bus schedule calls the sweep makes, and the messages in them."""

    def __init__(self) -> None:
        self.calls = 0
        self.messages = 0
        self._original = QueueSender.schedule_messages

    def __enter__(self) -> _SendCounter:
        counter, original = self, self._original

        def counted(sender: QueueSender, messages: Any, at: Any) -> list[int]:
            counter.calls += 1
            counter.messages += len(messages) if isinstance(messages, list) else 1
            return original(sender, messages, at)

        QueueSender.schedule_messages = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        QueueSender.schedule_messages = self._original  # type: ignore[method-assign]


def _sweep(sandbox: Sandbox) -> None:
    request_reconciles(sandbox.app, now=sandbox.clock.now())


def measure(clusters: int, subscriptions: int) -> SweepFigures:
    """One sweep timed and counted; then, an hour later (the buckets full again, a new sweep
    window), the same sweep under tracemalloc, which slows what it watches."""
    with Sandbox(attached_fleet(clusters, subscriptions)) as sandbox:
        sandbox.arm.reset_counts()
        started_at = sandbox.clock.seconds()
        cpu, thread = time.process_time(), time.thread_time()
        with _SendCounter() as sent:
            _sweep(sandbox)
        thread = time.thread_time() - thread
        cpu = time.process_time() - cpu
        virtual = sandbox.clock.seconds() - started_at
        messages = len(sandbox.bus.queues["cluster-events"].active)
        per_subscription: dict[str, int] = {}
        for logged in sandbox.arm.log:
            if logged.method in ("GET", "HEAD") and logged.path.lower().startswith("/sub"):
                sub = logged.path.split("/")[2].lower()
                per_subscription[sub] = per_subscription.get(sub, 0) + 1
        counts = sandbox.arm.split_counts

        sandbox.clock.advance_to(sandbox.clock.seconds() + 3600)
        sandbox.arm.reset_counts()
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        _sweep(sandbox)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return SweepFigures(
            clusters=clusters,
            subscriptions=subscriptions,
            cpu_seconds=cpu,
            sweep_cpu_seconds=thread,
            peak_mib=(peak - before) / 2**20,
            reads=counts["reads"] + counts["polls"],
            throttled=counts["throttled"],
            busiest_subscription_reads=max(per_subscription.values(), default=0),
            virtual_seconds=virtual,
            messages=messages,
            sends=sent.calls,
        )


HEADER = (
    "clusters",
    "subs",
    "cpu s",
    "sweep cpu s",
    "peak MiB",
    "ARM reads",
    "429",
    "busiest sub",
    "virtual s",
    "messages",
    "sends",
)


def row(f: SweepFigures) -> tuple[str, ...]:
    return (
        str(f.clusters),
        str(f.subscriptions),
        f"{f.cpu_seconds:.1f}",
        f"{f.sweep_cpu_seconds:.1f}",
        f"{f.peak_mib:.1f}",
        str(f.reads),
        str(f.throttled),
        str(f.busiest_subscription_reads),
        f"{f.virtual_seconds:.0f}",
        str(f.messages),
        str(f.sends),
    )


def table(figures: list[SweepFigures]) -> str:
    rows = [HEADER, *(row(f) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sweep_scale",
        description="One sweep over fleets of attached clusters: CPU, memory, ARM requests and "
        "Service Bus messages (a table; figures, not pass/fail).",
    )
    parser.add_argument(
        "--clusters",
        type=int,
        nargs="+",
        default=[500, 1000, 2000, 5000],
        help="fleet sizes to sweep (default: 500 1000 2000 5000)",
    )
    parser.add_argument(
        "--subscriptions",
        type=int,
        default=5,
        help="subscriptions the clusters are spread over (default: 5)",
    )
    args = parser.parse_args(argv)
    measure(2, 1)  # once untimed: the SDKs' first imports are not the sweep's
    figures = []
    for clusters in args.clusters:
        figures.append(measure(clusters, args.subscriptions))
        print(table(figures[-1:]).splitlines()[-1] if len(figures) > 1 else table(figures))
    print()
    print(table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
