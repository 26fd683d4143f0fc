"""Plain data the planner reasons over: what Azure looks like now, and what policy wants."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from shared.decisions.arm_id import CONNECTED_CLUSTER, ResourceId

SUCCEEDED = "succeeded"
FAILED_STATES = frozenset({"failed", "canceled"})
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"
# Marks what autoattach created, so it only ever removes its own work: a tag on managed
# namespaces; on computes only a legacy claim (shared.decisions.ownership: Azure ML keeps no tags).
MANAGED_BY_TAG = "managed-by"
MANAGED_BY_VALUE = "autoattach"
ROLE_ASSIGNMENT_DESCRIPTION = "Created by autoattach"


def state_text(value: object) -> str:
    """An SDK provisioning state as plain text: SDK enums print as 'ProvisioningState.FAILED'."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


class StorageAccess(StrEnum):
    READ = "read"
    READ_WRITE = "read-write"


class IdentityType(StrEnum):
    SYSTEM_ASSIGNED = "system_assigned"
    USER_ASSIGNED = "user_assigned"


class Role(StrEnum):
    """Built-in role definition GUIDs autoattach grants, and nothing else."""

    ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    KUBERNETES_EXTENSION_CONTRIBUTOR = "85cb6faf-e071-4c9b-8136-154b5a04f717"
    AKS_CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
    AZURE_RELAY_OWNER = "2787bf04-f1f5-4bfe-8383-c8a24483ee38"
    # a workspace's user-assigned identity on an AKS cluster whose Trusted Access binds the
    # workspace (Azure ML's attach doc)
    CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"

    @property
    def display_name(self) -> str:
        return ROLE_TITLES[self]


ROLE_TITLES = {
    Role.ACR_PULL: "AcrPull",
    Role.STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    Role.STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    Role.READER: "Reader",
    Role.KUBERNETES_EXTENSION_CONTRIBUTOR: "Kubernetes Extension Contributor",
    Role.AKS_CLUSTER_ADMIN: "Azure Kubernetes Service Cluster Admin Role",
    Role.AZURE_RELAY_OWNER: "Azure Relay Owner",
    Role.CONTRIBUTOR: "Contributor",
}


@dataclass(frozen=True)
class MadeAssignment:
    """A role assignment autoattach made: its deterministic name matches scope, role and
    principal, and it carries autoattach's description."""

    scope: ResourceId
    role: Role
    principal_id: str


@dataclass(frozen=True)
class ComputeIdentity:
    type: IdentityType
    resource_id: ResourceId | None = None  # the user-assigned identity, when type says so


@dataclass(frozen=True)
class Attachment:
    """One compute the policy wants on a cluster: in a workspace, in a namespace."""

    workspace_id: ResourceId
    compute_name: str
    namespace: str
    identity: ComputeIdentity
    storage_access: StorageAccess


@dataclass(frozen=True)
class ClusterState:
    id: ResourceId
    exists: bool
    provisioning_state: str = ""
    location: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    azure_rbac: bool = True
    # Arc only (properties.connectivityStatus): Connecting, Connected, Offline or Expired.
    connectivity_status: str = ""
    # AKS only: the API server's FQDNs ARM gives (fqdn, privateFQDN, azurePortalFQDN)
    api_server_hosts: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "arc" if self.id.resource_type == CONNECTED_CLUSTER else "aks"


@dataclass(frozen=True)
class ExtensionState:
    id: ResourceId
    extension_type: str
    provisioning_state: str
    # The Azure Relay namespace of the hybrid connection the extension's
    # ``relayserver.hybridConnectionResourceID`` setting names (Arc, installed with the CLI).
    relay: ResourceId | None = None


@dataclass(frozen=True)
class WorkspaceState:
    id: ResourceId
    location: str
    storage_account: ResourceId | None
    container_registry: ResourceId | None
    # Set when the workspace runs under a user-assigned identity: attach then needs its rights.
    user_assigned_identity: ResourceId | None = None
    # That identity's principal, as the workspace's own answer names it ("" when it does not:
    # then it is read from the identity, which needs a read right on it)
    user_assigned_principal: str = ""


class AdoptionPolicy(StrEnum):
    """ARM managed namespaces' ``adoptionPolicy``: what a PUT does when the Kubernetes namespace
    already exists but is not an ARM managed namespace."""

    NEVER = "Never"  # the PUT fails; the namespace stays as it is
    IF_IDENTICAL = "IfIdentical"  # adopted only if what the PUT asks for is already so
    ALWAYS = "Always"  # adopted; labels and annotations the PUT names are overwritten


@dataclass(frozen=True)
class NamespaceRoute:
    """How namespaces are made on a cluster: ARM managed namespaces, or the Kubernetes API with
    a kubeconfig kept as a Key Vault secret. ``adoption_policy`` applies to ARM managed
    namespaces (the Kubernetes API route uses an existing namespace as it is)."""

    via: str  # "arm" or "kubernetes"
    kubeconfig_secret: str | None = None
    adoption_policy: AdoptionPolicy = AdoptionPolicy.IF_IDENTICAL
    # where ARM says an AKS cluster's API server is (its FQDNs): a kubeconfig reaching another
    # AKS API server is refused (shared.adapters.kube_namespaces)
    api_server_hosts: tuple[str, ...] = ()


class WhenExtensionMissing(StrEnum):
    WAIT = "wait"
    INSTALL = "install"


@dataclass(frozen=True)
class ExtensionPolicy:
    when_missing: WhenExtensionMissing = WhenExtensionMissing.WAIT
    name: str = "azureml"
    release_train: str = "stable"
    settings: tuple[tuple[str, str], ...] = (
        ("enableTraining", "true"),
        ("enableInference", "false"),
        ("inferenceRouterServiceType", "ClusterIP"),
        ("allowInsecureConnections", "false"),
        ("installNvidiaDevicePlugin", "false"),
        ("installPromOp", "true"),
        ("installVolcano", "true"),
        ("installDcgmExporter", "false"),
    )


@dataclass(frozen=True)
class ComputeState:
    workspace_id: ResourceId
    name: str
    cluster_id: ResourceId | None
    namespace: str
    identity_type: IdentityType | None
    principal_id: str | None
    provisioning_state: str
    # autoattach's (shared.decisions.ownership): its description's seal matches, or its legacy
    # claim was confirmed by the cluster's ledger; never a person's
    managed_by_autoattach: bool
    user_assigned_identity: ResourceId | None = None
    created_on: str = ""  # when Azure ML made it: a re-attached compute is another change
    # it says autoattach (a managed-by tag, the description autoattach wrote before seals) but
    # anyone could have written that: autoattach's only where the ledger confirms it
    legacy_claim: bool = False
    # the status URL of the attach that answered with this state, while it runs (not compared)
    operation: str | None = field(default=None, compare=False)
    # why Azure says its attach failed (the operation's error, or the compute's
    # provisioningErrors), when it is Failed and Azure said (not compared)
    errors: str = field(default="", compare=False)

    @property
    def id(self) -> ResourceId:
        return self.workspace_id.child("computes", self.name)


def attached_as_answered(compute: ComputeState) -> ComputeState | None:
    """The compute once its attach has succeeded, as the attach's own answer showed it, when
    that answer already names the identity its grants go to: a system-assigned identity's
    principal (ARM makes the identity before Azure ML sees the PUT), a user-assigned identity,
    or none. None when only reading the settled compute can tell (no principal in the answer)."""
    if compute.identity_type is IdentityType.SYSTEM_ASSIGNED and not compute.principal_id:
        return None
    if (
        compute.identity_type is IdentityType.USER_ASSIGNED
        and compute.user_assigned_identity is None
    ):
        return None
    return replace(compute, provisioning_state="Succeeded", operation=None)


def failed_as_answered(compute: ComputeState, error: str) -> ComputeState:
    """The compute once its attach's operation ended Failed, with Azure's reason."""
    return replace(compute, provisioning_state="Failed", operation=None, errors=error)
