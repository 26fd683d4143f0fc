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
    CLI_RELAY_RIGHTS,
    CLI_RELAY_RULE,
    CLI_RELAY_TAGS,
    SANDBOX_TENANT_ID,
    deterministic_principal,
    key,
    name_of,
    relay_id,
    same_id,
    type_of,
)
from sandbox.clock import VirtualClock
from sandbox.hub import Hub

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
CONNECTIVITY_STATUSES = {"Connecting", "Connected", "Offline", "Expired"}  # hybridkubernetes
DEFAULT_EXTENSION_INSTALL_SECONDS = 120.0
# Virtual durations of the other long-running writes, and of role propagation (see
# sandbox/README.md, "Timing"): realistic defaults, settable per world.
DEFAULT_COMPUTE_ATTACH_SECONDS = 60.0
DEFAULT_COMPUTE_DETACH_SECONDS = 30.0
DEFAULT_NAMESPACE_CREATE_SECONDS = 20.0
DEFAULT_ROLE_PROPAGATION_SECONDS = 600.0  # "Troubleshoot Azure RBAC": up to 10 minutes
DEFAULT_LRO_RETRY_AFTER_SECONDS = 10.0
COMPUTE_TAGS_DROPPED = "dropped"
COMPUTE_TAGS_KEPT = "kept"
COMPUTE_TAGS = (COMPUTE_TAGS_DROPPED, COMPUTE_TAGS_KEPT)


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
    # Kept, never returned by GET (as ARM does with protected settings).
    configuration_protected_settings: dict[str, str] = field(default_factory=dict)
    # AzureML on Arc installed with the Azure CLI: the Relay namespace the CLI made for it (the
    # world builds it in the cluster's resource group when the cluster is added).
    relay_name: str | None = None

    def state_at(self, seconds: float) -> str:
        if self.succeeds_after_seconds is not None and seconds >= self.succeeds_after_seconds:
            return self.final_state
        return self.provisioning_state

    @property
    def is_azureml(self) -> bool:
        return self.extension_type.lower() == AZUREML_EXTENSION_TYPE.lower()

    @property
    def linked_relay(self) -> str | None:
        """The Relay namespace whose hybrid connection ``relayserver.hybridConnectionResourceID``
        names (how Azure ML finds the extension's relay); None when no setting names one."""
        connection = self.configuration_settings.get("relayserver.hybridConnectionResourceID")
        parts = [p for p in str(connection or "").split("/") if p]
        if len(parts) < 4 or parts[-2].lower() != "hybridconnections":
            return None
        return "/" + "/".join(parts[:-2])


@dataclass
class Namespace:
    """A Kubernetes namespace on a cluster reached through ARM (managed namespaces): whoever made
    it (the world file, the AzureML extension, an ARM managed namespace)."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class ManagedNamespace:
    """An ARM ``managedClusters/managedNamespaces`` resource: not the Kubernetes namespace itself
    (a namespace made with kubectl or by the AzureML extension is not one)."""

    name: str
    adoption_policy: str = "Never"
    delete_policy: str = "Keep"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"  # the write's outcome: Succeeded or Failed
    pending_state: str = "Creating"  # shown until ``settles_at``
    settles_at: float | None = None

    def state_at(self, seconds: float) -> str:
        if self.settles_at is not None and seconds < self.settles_at:
            return self.pending_state
        return self.provisioning_state


@dataclass
class Cluster:
    id: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"
    succeeds_after_seconds: float | None = None
    azure_rbac: bool = False
    extensions: dict[str, Extension] = field(default_factory=dict)
    namespaces: dict[str, Namespace] = field(default_factory=dict)  # Kubernetes namespaces
    managed_namespaces: dict[str, ManagedNamespace] = field(default_factory=dict)  # ARM
    exists: bool = True
    connectivity_status: str = "Connected"  # Arc only: Connecting, Connected, Offline, Expired
    # AKS only: the workspaces bound by a trustedAccessRoleBinding (Trusted Access): a workspace
    # on a user-assigned identity then also needs Contributor on the cluster to attach it
    trusted_access: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "aks" if type_of(self.id).lower() == AKS_TYPE.lower() else "arc"

    def state_at(self, seconds: float) -> str:
        if self.succeeds_after_seconds is not None and seconds >= self.succeeds_after_seconds:
            return "Succeeded"
        return self.provisioning_state

    def settle_namespaces(self, seconds: float) -> None:
        """The AzureML extension's Helm release makes its release namespace (``azureml``) in
        Kubernetes when the install succeeds; it stays after an uninstall, as Helm leaves it."""
        for extension in self.extensions.values():
            if extension.is_azureml and extension.state_at(seconds) == "Succeeded":
                self.namespaces.setdefault(
                    extension.release_namespace.lower(), Namespace(extension.release_namespace)
                )


@dataclass
class HybridConnection:
    """A hybrid connection of a Relay namespace, with its authorization rules (name -> rights)."""

    name: str
    requires_client_authorization: bool = True
    rules: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Relay:
    """An Azure Relay namespace: one the Azure CLI made for an Arc cluster's AzureML extension
    (tagged ``created_by: Azure Arc-enabled ML``), or any other the world lists."""

    id: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    hybrid_connections: dict[str, HybridConnection] = field(default_factory=dict)  # lowercased

    @property
    def name(self) -> str:
        return name_of(self.id)

    def hybrid_connection_id(self, name: str) -> str:
        return f"{self.id}/hybridConnections/{name}"


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
    # A PUT or DELETE still running: at virtual ``settles_at`` the state becomes
    # ``final_state`` ("Succeeded", "Failed", or "Deleted": the compute is gone).
    settles_at: float | None = None
    final_state: str = "Succeeded"
    # Virtual seconds when it was made (``createdOn``); None: before the sandbox started.
    created_at: float | None = None
    # Why its attach failed (ARM's {"code", "message"}), shown once it is Failed
    error: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.workspace}/computes/{self.name}"

    def settle(self, seconds: float) -> None:
        """Apply the outcome of a write whose time has come (not "Deleted": the world does)."""
        if self.settles_at is not None and seconds >= self.settles_at:
            self.settles_at = None
            self.provisioning_state = self.final_state


@dataclass
class RoleAssignment:
    scope: str
    role_definition_id: str
    principal_id: str
    name: str
    description: str | None = None
    principal_type: str | None = None
    condition: str | None = None  # an ABAC condition (conditionVersion 2.0) limiting it
    # Listed at once, but the double's own authorization checks honour it only from this
    # virtual time on (role propagation); None: effective from the start.
    effective_at: float | None = None

    def effective(self, seconds: float) -> bool:
        return self.effective_at is None or seconds >= self.effective_at

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
        self.relay_namespaces: dict[str, Relay] = {}  # key(relay id)
        self.resource_groups: dict[str, Any] = {}  # key(group id) -> arm_groups.ResourceGroup
        self.hub = Hub()  # what doctor reads around autoattach (sandbox/hub.py)
        self.extra_principals: set[str] = set()
        self.extension_install_seconds = DEFAULT_EXTENSION_INSTALL_SECONDS  # for extension PUTs
        self.extension_install_outcome = "Succeeded"  # or "Failed": how extension PUTs end
        self.compute_attach_seconds = DEFAULT_COMPUTE_ATTACH_SECONDS  # compute PUT: Creating
        self.compute_detach_seconds = DEFAULT_COMPUTE_DETACH_SECONDS  # compute DELETE: Deleting
        self.namespace_create_seconds = DEFAULT_NAMESPACE_CREATE_SECONDS  # managed namespace PUT
        self.role_propagation_seconds = DEFAULT_ROLE_PROPAGATION_SECONDS  # until effective
        self.lro_retry_after_seconds = DEFAULT_LRO_RETRY_AFTER_SECONDS  # on pending LROs
        self.arm_throttling = False  # enforce ARM's token buckets (sandbox/arm_throttle.py)
        self.arm_authorization = False  # authorize every request with RBAC (sandbox/arm_rbac.py)
        # a system-assigned compute's principalId in the attach's answer (ARM makes the identity
        # before the RP sees the PUT); False: only once the compute is Succeeded
        self.compute_principal_on_put = True
        # how Azure ML reports an attach it cannot do (no extension, no roles, no cluster, another
        # subscription): "operation" accepts the PUT and fails its operation, leaving the compute
        # Failed (the traces show this); "refusal" refuses the PUT at once
        self.attach_failures = "operation"
        # what Azure ML does with a compute's tags (sandbox/README.md, *Compute tags*: unknown):
        # "dropped" (the default: Microsoft lists computes as not supporting tags) or "kept"
        self.compute_tags = COMPUTE_TAGS_DROPPED
        self.arm_region = "sandbox"  # region of the ARM instance serving: buckets are per region
        self.clock: VirtualClock | None = None  # set by the ARM double serving this world

    def seconds(self) -> float:
        """Virtual seconds now (0 until an ARM double serves this world)."""
        return self.clock.seconds() if self.clock is not None else 0.0

    def settle_computes(self) -> None:
        """Apply the compute writes whose virtual time has come; detached computes go."""
        with self.lock:
            now = self.seconds()
            for record_key, compute in list(self.computes.items()):
                compute.settle(now)
                if compute.provisioning_state == "Deleted":
                    del self.computes[record_key]

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
            if found is None or not found.exists:
                return None
            found.settle_namespaces(self.seconds())
            return found

    def compute(self, workspace_id: str, name: str) -> Compute | None:
        with self.lock:
            self.settle_computes()
            return self.computes.get(compute_key(workspace_id, name))

    def computes_of(self, workspace_id: str) -> list[Compute]:
        with self.lock:
            self.settle_computes()
            return [c for c in self.computes.values() if same_id(c.workspace, workspace_id)]

    def relays(self) -> list[Relay]:
        """Every Relay namespace, stored: a relay outlives the extension and the cluster it
        served, as in Azure (the CLI made it; nothing deletes it with them)."""
        with self.lock:
            return sorted(self.relay_namespaces.values(), key=lambda r: key(r.id))

    def relay(self, resource_id: str) -> Relay | None:
        with self.lock:
            return self.relay_namespaces.get(key(resource_id))

    def add_relay(self, relay: Relay) -> Relay:
        """Store a relay namespace; one already stored under that id keeps its hybrid
        connections and gains the new one's."""
        with self.lock:
            stored = self.relay_namespaces.setdefault(key(relay.id), relay)
            for name, connection in relay.hybrid_connections.items():
                stored.hybrid_connections.setdefault(name, connection)
            return stored

    def location_of(self, resource_id: str) -> str | None:
        """The region of a resource the world holds, or of its nearest parent that it holds (a
        compute's workspace, an extension's or managed namespace's cluster); None: unknown."""
        parts = [p for p in resource_id.strip("/").split("/") if p]
        hub = self.hub
        with self.lock:
            tables: list[dict[str, Any]] = [
                self.clusters,
                self.workspaces,
                self.identities,
                self.relay_namespaces,
                hub.storage_accounts,
                hub.registries,
                hub.service_bus,
                hub.topics,
            ]
            while len(parts) > 2:
                candidate = key("/".join(parts))
                for table in tables:
                    found = table.get(candidate)
                    if found is not None:
                        return str(found.location)
                parts = parts[:-2]
        return None

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
            for extension in cluster.extensions.values():
                if extension.relay_name:
                    self.add_relay(cli_relay(cluster, extension.relay_name))

    def put_compute(self, compute: Compute) -> None:
        """Store a compute as Azure ML keeps it: without its tags unless this world keeps them."""
        with self.lock:
            if self.compute_tags != COMPUTE_TAGS_KEPT:
                compute.tags = {}
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
            self.settle_computes()
            clusters = sorted(self.clusters.values(), key=lambda c: key(c.id))
            for cluster in clusters:
                cluster.settle_namespaces(self.seconds())
            return {
                "clusters": [{"id": c.id, "kind": c.kind, "exists": c.exists} for c in clusters],
                "namespaces": [  # Kubernetes namespaces
                    {"cluster": c.id, "name": n.name}
                    for c in clusters
                    if c.exists
                    for n in sorted(c.namespaces.values(), key=lambda n: n.name)
                ],
                "managed_namespaces": [  # ARM managedClusters/managedNamespaces
                    {
                        "cluster": c.id,
                        "name": m.name,
                        "provisioning_state": m.state_at(self.seconds()),
                        "adoption_policy": m.adoption_policy,
                        "delete_policy": m.delete_policy,
                    }
                    for c in clusters
                    if c.exists
                    for m in sorted(c.managed_namespaces.values(), key=lambda m: m.name)
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
                        "description": c.description,
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
                    # not the deployment's grants to autoattach's own identity (``autoattach``
                    # section, read by doctor): autoattach never changes those
                    if r.principal_id.lower() != self.hub.deployment.get("principal_id", "").lower()
                ],
                "relays": [
                    {
                        "id": r.id,
                        "hybrid_connections": sorted(c.name for c in r.hybrid_connections.values()),
                    }
                    for r in self.relays()
                ],
            }


def cli_relay(cluster: Cluster, relay_name: str) -> Relay:
    """The Relay namespace ``az k8s-extension create`` makes for an Arc cluster: in the cluster's
    resource group and region, tagged by the CLI, with a hybrid connection named after the
    cluster (client authorization required) and its ``azureml_rw`` rule."""
    connection = HybridConnection(
        name=name_of(cluster.id), rules={CLI_RELAY_RULE: tuple(CLI_RELAY_RIGHTS)}
    )
    return Relay(
        id=relay_id(cluster.id, relay_name),
        location=cluster.location,
        tags=dict(CLI_RELAY_TAGS),
        hybrid_connections={connection.name.lower(): connection},
    )


def compute_key(workspace_id: str, name: str) -> str:
    return f"{key(workspace_id)}/computes/{name.lower()}"


def cluster_kind_ok(resource_id: str) -> bool:
    return type_of(resource_id).lower() in {AKS_TYPE.lower(), ARC_TYPE.lower()}
