"""The state of the sandbox's Azure: clusters, extensions, namespaces, workspaces, computes, roles.

Plain data behind one re-entrant lock (``World.lock``). The ARM double reads and writes it; scenario
steps change it with ``apply_change``; tests and the sandbox read it with ``snapshot``. State that
changes with (virtual) time, such as an extension still installing, is resolved with the clock's
seconds passed in by the caller.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.arm_ids import (
    AKS_TYPE,
    ARC_TYPE,
    AZUREML_EXTENSION_TYPE,
    SANDBOX_TENANT_ID,
    default_relay_name,
    deterministic_principal,
    key,
    name_of,
    relay_id,
    same_id,
    type_of,
)

SYSTEM_ASSIGNED = "system_assigned"
USER_ASSIGNED = "user_assigned"
PROVISIONING_STATES = {
    "Succeeded",
    "Failed",
    "Canceled",
    "Creating",
    "Updating",
    "Deleting",
    "Accepted",
}
INSTALL_OUTCOMES = {"Succeeded", "Failed"}
DEFAULT_EXTENSION_INSTALL_SECONDS = 120.0


class WorldError(ValueError):
    """A world file or a scenario change is malformed; the message names the bad entry."""


@dataclass
class Extension:
    name: str
    extension_type: str
    provisioning_state: str = "Succeeded"
    succeeds_after_seconds: float | None = None  # when the state settles to ``final_state``
    configuration_settings: dict[str, str] = field(default_factory=dict)
    release_train: str = "stable"
    version: str | None = None
    auto_upgrade_minor_version: bool = True
    final_state: str = "Succeeded"  # "Failed" for an install that ends Failed
    release_namespace: str = "azureml"
    relay_name: str | None = None  # AzureML on Arc: the Relay namespace's name (else default)

    def state_at(self, seconds: float) -> str:
        if self.succeeds_after_seconds is not None and seconds >= self.succeeds_after_seconds:
            return self.final_state
        return self.provisioning_state

    @property
    def is_azureml(self) -> bool:
        return self.extension_type.lower() == AZUREML_EXTENSION_TYPE.lower()


@dataclass
class Namespace:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class Cluster:
    id: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"
    succeeds_after_seconds: float | None = None
    azure_rbac: bool = False
    extensions: dict[str, Extension] = field(default_factory=dict)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    exists: bool = True

    @property
    def kind(self) -> str:
        return "aks" if type_of(self.id).lower() == AKS_TYPE.lower() else "arc"

    def state_at(self, seconds: float) -> str:
        if self.succeeds_after_seconds is not None and seconds >= self.succeeds_after_seconds:
            return "Succeeded"
        return self.provisioning_state


@dataclass(frozen=True)
class Relay:
    """An Azure Relay namespace made by the AzureML extension on an Arc cluster (derived state)."""

    id: str
    cluster: str
    location: str

    @property
    def name(self) -> str:
        return name_of(self.id)

    @property
    def tags(self) -> dict[str, str]:
        return {"azureml-cluster": self.cluster}


@dataclass
class Workspace:
    id: str
    location: str
    storage_account: str
    container_registry: str
    identity_type: str = "SystemAssigned"
    user_assigned_identity: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def principal_id(self) -> str:
        return deterministic_principal(self.id)


@dataclass
class Identity:
    id: str
    principal_id: str
    client_id: str
    location: str = "westeurope"
    tenant_id: str = SANDBOX_TENANT_ID
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Compute:
    workspace: str
    name: str
    resource_id: str
    namespace: str = "default"
    identity_type: str | None = SYSTEM_ASSIGNED  # None: the compute has no identity
    user_assigned_identity: str | None = None
    principal_id: str | None = None
    provisioning_state: str = "Succeeded"
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    location: str = ""

    @property
    def id(self) -> str:
        return f"{self.workspace}/computes/{self.name}"


@dataclass
class RoleAssignment:
    scope: str
    role_definition_id: str
    principal_id: str
    name: str
    description: str | None = None
    principal_type: str | None = None

    @property
    def id(self) -> str:
        scope = self.scope.rstrip("/")
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{self.name}"


class World:
    """Everything the ARM double knows. Hold ``lock`` around multi-step reads or writes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clusters: dict[str, Cluster] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.identities: dict[str, Identity] = {}
        self.computes: dict[str, Compute] = {}  # key(workspace id) + "/computes/" + name.lower()
        self.role_assignments: dict[str, RoleAssignment] = {}  # key(assignment id)
        self.extra_principals: set[str] = set()
        self.extension_install_seconds = DEFAULT_EXTENSION_INSTALL_SECONDS  # for extension PUTs
        self.extension_install_outcome = "Succeeded"  # or "Failed": how extension PUTs end

    # ---- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> World:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise WorldError(f"{path}: not valid JSON: {error}") from error
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> World:
        from sandbox.world_format import parse_world

        world = cls()
        parse_world(world, data)
        return world

    # ---- lookups -------------------------------------------------------------------------

    def cluster(self, resource_id: str) -> Cluster | None:
        with self.lock:
            found = self.clusters.get(key(resource_id))
            return found if found is not None and found.exists else None

    def compute(self, workspace_id: str, name: str) -> Compute | None:
        with self.lock:
            return self.computes.get(compute_key(workspace_id, name))

    def computes_of(self, workspace_id: str) -> list[Compute]:
        with self.lock:
            return [c for c in self.computes.values() if same_id(c.workspace, workspace_id)]

    def relays(self) -> list[Relay]:
        """Relay namespaces: one per existing Arc cluster with a Microsoft.AzureML.Kubernetes
        extension (in any state), named by the extension's ``relay_name`` or
        ``default_relay_name``. Derived, so deleting the extension or the cluster removes it."""
        with self.lock:
            found: dict[str, Relay] = {}
            for cluster in self.clusters.values():
                if not cluster.exists or cluster.kind != "arc":
                    continue
                for extension in sorted(cluster.extensions.values(), key=lambda e: e.name.lower()):
                    if extension.is_azureml:
                        name = extension.relay_name or default_relay_name(cluster.id)
                        relay = Relay(relay_id(cluster.id, name), cluster.id, cluster.location)
                        found.setdefault(key(relay.id), relay)
            return sorted(found.values(), key=lambda r: key(r.id))

    def relay(self, resource_id: str) -> Relay | None:
        return next((r for r in self.relays() if same_id(r.id, resource_id)), None)

    def known_principals(self) -> set[str]:
        with self.lock:
            known = {p.lower() for p in self.extra_principals}
            known |= {i.principal_id.lower() for i in self.identities.values()}
            known |= {w.principal_id.lower() for w in self.workspaces.values()}
            known |= {c.principal_id.lower() for c in self.computes.values() if c.principal_id}
            return known

    def add_cluster(self, cluster: Cluster) -> None:
        with self.lock:
            self.clusters[key(cluster.id)] = cluster

    def put_compute(self, compute: Compute) -> None:
        with self.lock:
            self.computes[compute_key(compute.workspace, compute.name)] = compute

    # ---- scenario steps ------------------------------------------------------------------

    def apply_change(self, change: dict[str, Any]) -> None:
        from sandbox.world_format import apply_change

        with self.lock:
            apply_change(self, change)

    # ---- observation ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A plain, JSON-able picture of the world (deleted clusters listed with exists false)."""
        with self.lock:
            clusters = sorted(self.clusters.values(), key=lambda c: key(c.id))
            return {
                "clusters": [{"id": c.id, "kind": c.kind, "exists": c.exists} for c in clusters],
                "namespaces": [
                    {"cluster": c.id, "name": n.name}
                    for c in clusters
                    if c.exists
                    for n in sorted(c.namespaces.values(), key=lambda n: n.name)
                ],
                "computes": [
                    {
                        "workspace": c.workspace,
                        "name": c.name,
                        "resource_id": c.resource_id,
                        "namespace": c.namespace,
                        "identity_type": c.identity_type,
                        "principal_id": c.principal_id,
                        "provisioning_state": c.provisioning_state,
                        "tags": dict(c.tags),
                    }
                    for c in sorted(self.computes.values(), key=lambda c: key(c.id))
                ],
                "role_assignments": [
                    {
                        "scope": r.scope,
                        "role_definition_id": r.role_definition_id,
                        "principal_id": r.principal_id,
                        "name": r.name,
                        "description": r.description,
                    }
                    for r in sorted(self.role_assignments.values(), key=lambda r: key(r.id))
                ],
                "relays": [{"id": r.id, "cluster": r.cluster} for r in self.relays()],
            }


def compute_key(workspace_id: str, name: str) -> str:
    return f"{key(workspace_id)}/computes/{name.lower()}"


def cluster_kind_ok(resource_id: str) -> bool:
    return type_of(resource_id).lower() in {AKS_TYPE.lower(), ARC_TYPE.lower()}
