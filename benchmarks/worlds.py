"""Fleets for the benchmark: N tagged AKS clusters (Azure ML extension installed, Azure RBAC on, so
namespaces are ARM managed namespaces), W workspaces each allowing the whole resource group, and
one cluster-write event per cluster at the same moment. Azure's operations take the sandbox's
realistic default durations (compute attach 60 s, managed namespace 20 s, role propagation 300 s,
LRO Retry-After 10 s; sandbox/README.md, *Timing*)."""

from __future__ import annotations

from typing import Any

from sandbox.scenario import Scenario, arm_event, parse_steps

SUB = "/subscriptions/5a0f0c8e-0000-4000-8000-00000000f1ee"
RG = f"{SUB}/resourceGroups/rg-fleet"
ML = f"{SUB}/resourceGroups/rg-ml/providers"
TAG = "azureml-attach"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


def cluster_id(n: int) -> str:
    return f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-{n:04d}"


def workspace(i: int) -> dict[str, str]:
    return {
        "id": f"{ML}/Microsoft.MachineLearningServices/workspaces/ws-{i}",
        "location": "westeurope",
        "storage_account": f"{ML}/Microsoft.Storage/storageAccounts/st{i}",
        "container_registry": f"{ML}/Microsoft.ContainerRegistry/registries/acr{i}",
    }


def namespace_of(i: int) -> str:
    """Each workspace's computes run in the team's own namespace (made before attach)."""
    return f"team-{i}"


EXTENSION_WRITE = "Microsoft.KubernetesConfiguration/extensions/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"
# The event streams a fleet can be fed (benchmarks/README.md, *Streams*).
STREAMS = ("cluster-write", "created-with-extension", "tagged-later")
INSTALL_SECONDS = 130.0  # the Azure ML extension's install, in the realistic streams


def fleet(
    clusters: int,
    workspaces: int,
    *,
    throttling: bool = False,
    stream: str = "cluster-write",
    install_seconds: float = INSTALL_SECONDS,
    installs: list[float | None] | None = None,
    durations: dict[str, float] | None = None,
) -> Scenario:
    """``stream``: ``cluster-write`` (one cluster write per cluster, the extension installed: the
    best case), ``created-with-extension`` (each cluster created tagged while its extension
    installs: ARM's cluster write, sent twice, the extension's writes as the install starts and
    ends, a tag write while autoattach waits, one event late and out of order) or
    ``tagged-later`` (the same, untagged, until a tag write adds the tag after the install).
    ``installs``: per cluster, how long its extension still installs (None: installed), for the
    ``cluster-write`` stream; ``durations``: the world's operation durations
    (``namespace_create_seconds``, ``compute_attach_seconds``, ...; docs/world-format.md)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; one of {', '.join(STREAMS)}")
    names = [f"ws-{i}" for i in range(workspaces)]
    installing = stream != "cluster-write"
    extension: dict[str, Any] = {
        "name": "azureml",
        "extension_type": "Microsoft.AzureML.Kubernetes",
        "provisioning_state": "Succeeded",
    }
    if installing:
        extension = {**extension, "provisioning_state": "Creating"}
        extension["succeeds_after_seconds"] = install_seconds
    world: dict[str, Any] = {
        **(durations or {}),
        "arm_throttling": throttling,
        "workspaces": [workspace(i) for i in range(workspaces)],
        "clusters": [
            {
                "id": cluster_id(n),
                "location": "westeurope",
                "tags": {} if stream == "tagged-later" else {TAG: ",".join(names)},
                "provisioning_state": "Succeeded",
                "azure_rbac": True,
                "extensions": [_extension(extension, n, installs)],
            }
            for n in range(clusters)
        ],
    }
    policy = {
        "workspaces": [
            {
                "workspace": w["id"],
                "clusters": [RG],
                "storage_access": "read-write" if i % 2 else "read",
                "computes": [{"name": "{cluster}", "namespace": namespace_of(i)}],
            }
            for i, w in enumerate(world["workspaces"])
        ]
    }
    events: list[dict[str, Any]] = []
    for n in range(clusters):
        events += _stream(stream, n, ",".join(names), install_seconds)
    return Scenario(world=world, policy=policy, steps=parse_steps(events, "bench"), tag_key=TAG)


def _extension(base: dict[str, Any], n: int, installs: list[float | None] | None) -> Any:
    if installs is None or installs[n % len(installs)] is None:
        return dict(base)
    remaining = installs[n % len(installs)]
    return {**base, "provisioning_state": "Creating", "succeeds_after_seconds": remaining}


def tagged_at(stream: str, install_seconds: float = INSTALL_SECONDS) -> float:
    """When the cluster's tag event happens in a stream: time to usable counts from it."""
    return install_seconds + 60 if stream == "tagged-later" else 0.0


def _stream(stream: str, n: int, tag: str, install: float) -> list[dict[str, Any]]:
    """One cluster's events, in the order they are delivered (``at``: virtual seconds)."""
    cluster = cluster_id(n)
    if stream == "cluster-write":
        return [{"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id=f"new-{n}")}]
    extension = f"{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/azureml"
    tags = f"{cluster}/providers/Microsoft.Resources/tags/default"

    def event(at: float, operation: str, resource: str, event_id: str, time: float) -> Any:
        stamp = f"2026-01-01T09:{int(time) // 60:02d}:{int(time) % 60:02d}Z"
        return {
            "at": at,
            "event": arm_event(operation, resource, event_id=event_id, event_time=stamp),
        }

    steps = [
        event(0, CLUSTER_WRITE, cluster, f"new-{n}", 0),
        event(2, CLUSTER_WRITE, cluster, f"new-{n}", 0),  # Event Grid delivers at least once
        event(3, EXTENSION_WRITE, extension, f"ext-{n}", 1),
    ]
    if stream == "created-with-extension":
        steps += [
            event(install + 25, TAGS_WRITE, tags, f"tags-{n}", install + 20),
            # the install's end, delivered after the tag write that happened later
            event(install + 30, EXTENSION_WRITE, extension, f"ext-done-{n}", install),
            event(install + 90, TAGS_WRITE, tags, f"tags-again-{n}", install + 85),
        ]
        return steps
    tagged = tagged_at(stream, install)
    steps += [
        event(install + 1, EXTENSION_WRITE, extension, f"ext-done-{n}", install),
        {"at": tagged, "change": {"op": "set_tags", "resource": cluster, "tags": {TAG: tag}}},
        event(tagged + 1, TAGS_WRITE, tags, f"tags-{n}", tagged),
        event(tagged + 3, TAGS_WRITE, tags, f"tags-{n}", tagged),  # again
    ]
    return steps
