"""Realistic event streams, what they cost per attachment, and how long a compute takes to be
usable against the floor Azure's own durations set (issue 22, goals 1, 2 and 5).

Everything is counted at the doubles: ARM requests by the ARM double, Service Bus operations by
the queue double (each send or schedule, each receive, each settle), Blob transactions by the
Blob double (every request), Event Grid operations as the events the subscription delivers plus
the notifications autoattach publishes, Function executions as deliveries.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from benchmarks.worlds import INSTALL_SECONDS, fleet, tagged_at
from sandbox.runner import PassReport, Sandbox


@dataclass
class StreamRun:
    """One stream on one fleet, until every cluster converged; figures per attachment."""

    stream: str
    clusters: int
    workspaces: int
    reads: float
    polls: float
    writes: float
    executions: float  # Function executions (deliveries)
    servicebus_ops: float
    blob_transactions: float
    eventgrid_ops: float
    attached: int
    joined: int  # events that joined a chain already waiting
    rechecks: int
    chains: int  # re-check chains started (distinct events re-checked): one per cluster at most
    usable_seconds: list[float] = field(default_factory=list)  # per compute, from its tag event
    # per attachment, what the reads were of: the cluster, its extensions (an install's polls
    # among them), the managed namespace, the compute, the workspace, anything else
    reads_by_kind: dict[str, float] = field(default_factory=dict)


READ_KINDS = ("cluster", "extension", "namespace", "compute", "workspace", "other")


def read_kind(path: str) -> str:
    """What an ARM read (its path) was of, as the bench's breakdown names it."""
    lowered = path.lower().split("?")[0].rstrip("/")
    parts = lowered.split("/")
    if "/extensions" in lowered:
        return "extension"
    if "/managednamespaces" in lowered:
        return "namespace"
    if "/computes/" in lowered:
        return "compute"
    if len(parts) >= 2 and parts[-2] == "workspaces":
        return "workspace"
    if len(parts) >= 2 and parts[-2] in ("managedclusters", "connectedclusters"):
        return "cluster"
    return "other"


def usable_times(sandbox: Sandbox) -> dict[str, float]:
    """Per compute attached: the virtual time it became usable -- its attach done and every
    role assignment to its identity in effect (role propagation included)."""
    world = sandbox.world
    world.snapshot()  # settles what is due
    found: dict[str, float] = {}
    with world.lock:
        attach = world.compute_attach_seconds
        grants: dict[str, list[float]] = {}
        for assignment in world.role_assignments.values():
            grants.setdefault(assignment.principal_id.lower(), []).append(
                assignment.effective_at or 0.0
            )
        for compute in world.computes.values():
            principal = (compute.principal_id or "").lower()
            if compute.provisioning_state != "Succeeded" or compute.created_at is None:
                continue
            held = grants.get(principal, [])
            if len(held) < 2:  # AcrPull and the storage role
                continue
            found[compute.id] = max([compute.created_at + attach, *held])
    return found


def _costs(sandbox: Sandbox, report: PassReport, per: int) -> dict[str, float]:
    bus = sandbox.bus
    operations = {"send": 0, "receive": 0, "settle": 0, "event-grid-delivery": 0}
    for queue in bus.queues.values():
        for name, count in queue.operations.items():
            operations[name] = operations.get(name, 0) + count
    servicebus = operations["send"] + operations["receive"] + operations["settle"]
    eventgrid = operations["event-grid-delivery"] + report.notifications
    return {
        "executions": len(report.deliveries) / per,
        "servicebus_ops": servicebus / per,
        "blob_transactions": len(sandbox.storage.log) / per,
        "eventgrid_ops": eventgrid / per,
    }


def stream_run(
    stream: str, clusters: int, workspaces: int, app_settings: dict[str, str] | None = None
) -> StreamRun:
    """``app_settings``: set as a deployment would (the install-poll trade, say)."""
    scenario = replace(fleet(clusters, workspaces, stream=stream), app_settings=app_settings or {})
    with Sandbox(scenario) as sandbox:
        report = sandbox.run_pass(0)
        usable = usable_times(sandbox)
        costs = _costs(sandbox, report, clusters * workspaces)
        kinds = [read_kind(entry.path) for entry in sandbox.arm.log if entry.kind == "reads"]
    per = clusters * workspaces
    start = tagged_at(stream)
    return StreamRun(
        stream=stream,
        clusters=clusters,
        workspaces=workspaces,
        reads=report.reads / per,
        polls=report.polls / per,
        writes=report.writes / per,
        attached=len(usable),
        joined=sum(1 for d in report.deliveries if d.reason.startswith("joined the re-check")),
        rechecks=sum(1 for d in report.deliveries if d.label.startswith("re-check")),
        chains=len({d.id for d in report.deliveries if d.label.startswith("re-check")}),
        usable_seconds=sorted(t - start for t in usable.values()),
        reads_by_kind={kind: kinds.count(kind) / per for kind in READ_KINDS if kind in kinds},
        **costs,
    )


# The sweep of goal 2: the extension's install still to run (None: installed), the managed
# namespace's and the attach's durations; role propagation stays the sandbox's 300 s.
INSTALLS: tuple[float | None, ...] = (None, 90.0, INSTALL_SECONDS, 300.0)
NAMESPACES = (20.0, 35.0)
ATTACHES = (45.0, 90.0, 150.0)
PROPAGATION = 300.0


def floor_seconds(install: float | None, namespace: float, attach: float) -> float:
    """The least time from the tag event to a usable compute Azure's durations allow: the
    namespace made while the extension installs, the attach once both are there, the grants as
    soon as the compute's identity exists (the attach's answer) and propagation from then."""
    return max(install or 0.0, namespace) + max(attach, PROPAGATION)


@dataclass
class Latency:
    install: float | None
    namespace: float
    attach: float
    floor: float
    measured: float

    @property
    def ratio(self) -> float:
        return self.measured / self.floor


def latency_sweep(
    installs: tuple[float | None, ...] = INSTALLS,
    namespaces: tuple[float, ...] = NAMESPACES,
    attaches: tuple[float, ...] = ATTACHES,
    app_settings: dict[str, str] | None = None,
) -> list[Latency]:
    """One sandbox per (namespace, attach) pair, one cluster per install duration; the clusters
    do not interact (a delivery takes no virtual time, nothing is throttled)."""
    rows: list[Latency] = []
    for namespace in namespaces:
        for attach in attaches:
            durations = {
                "namespace_create_seconds": namespace,
                "compute_attach_seconds": attach,
                "role_propagation_seconds": PROPAGATION,
            }
            scenario = replace(
                fleet(len(installs), 1, installs=list(installs), durations=durations),
                app_settings=app_settings or {},
            )
            with Sandbox(scenario) as sandbox:
                sandbox.run_pass(0)
                usable = usable_times(sandbox)
            for n, install in enumerate(installs):
                name = f"aks-{n:04d}"
                measured = [t for compute, t in usable.items() if compute.endswith("/" + name)]
                rows.append(
                    Latency(
                        install=install,
                        namespace=namespace,
                        attach=attach,
                        floor=floor_seconds(install, namespace, attach),
                        measured=measured[0] if measured else float("inf"),
                    )
                )
    return rows


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(rows: list[Latency]) -> dict[str, Any]:
    ratios = [r.ratio for r in rows]
    return {
        "worst_ratio": max(ratios),
        "median_ratio": statistics.median(ratios),
        "rows": [{**vars(r), "ratio": r.ratio} for r in rows],
    }
