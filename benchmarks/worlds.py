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


def fleet(clusters: int, workspaces: int, *, throttling: bool = False) -> Scenario:
    names = [f"ws-{i}" for i in range(workspaces)]
    world: dict[str, Any] = {
        "arm_throttling": throttling,
        "workspaces": [workspace(i) for i in range(workspaces)],
        "clusters": [
            {
                "id": cluster_id(n),
                "location": "westeurope",
                "tags": {TAG: ",".join(names)},
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
                "clusters": [RG],
                "storage_access": "read-write" if i % 2 else "read",
                "computes": [{"name": "{cluster}", "namespace": namespace_of(i)}],
            }
            for i, w in enumerate(world["workspaces"])
        ]
    }
    events = [
        {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster_id(n), event_id=f"new-{n}")}
        for n in range(clusters)
    ]
    return Scenario(world=world, policy=policy, steps=parse_steps(events, "bench"), tag_key=TAG)
