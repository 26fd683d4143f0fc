"""Decide, purely: from what Azure looks like now to the next actions. No I/O here.

``plan`` is called again after every round of actions, so it only has to say what is missing
now; a converged cluster plans nothing, which is what makes replays free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.arm_id import ResourceId
from shared.model import (
    FAILED_STATES,
    SUCCEEDED,
    Attachment,
    ClusterState,
    ComputeState,
    ExtensionState,
    IdentityType,
    Role,
    StorageAccess,
    WorkspaceState,
)
from shared.policy import TagDecision


@dataclass(frozen=True)
class CreateNamespace:
    cluster_id: ResourceId
    namespace: str


@dataclass(frozen=True)
class AttachCompute:
    attachment: Attachment
    cluster_id: ResourceId
    location: str


@dataclass(frozen=True)
class GrantRole:
    scope: ResourceId
    role: Role
    principal_id: str
    attachment: Attachment


Action = CreateNamespace | AttachCompute | GrantRole


@dataclass(frozen=True)
class Problem:
    """Something about one attachment that needs a person; reported, not retried."""

    attachment: Attachment
    message: str


@dataclass(frozen=True)
class Observation:
    """What reconcile read from Azure for one cluster and the attachments policy grants it."""

    cluster: ClusterState
    decision: TagDecision
    extension: ExtensionState | None = None
    workspaces: dict[ResourceId, WorkspaceState] = field(default_factory=dict)
    computes: dict[tuple[ResourceId, str], ComputeState] = field(default_factory=dict)
    namespaces: frozenset[str] = frozenset()
    # (scope key, principal id) -> role GUIDs that principal holds at that scope
    role_holdings: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    wait_reason: str | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def converged(self) -> bool:
        return not self.actions and self.wait_reason is None


def storage_role(access: StorageAccess) -> Role:
    if access is StorageAccess.READ_WRITE:
        return Role.STORAGE_BLOB_DATA_CONTRIBUTOR
    return Role.STORAGE_BLOB_DATA_READER


def readiness(cluster: ClusterState, extension: ExtensionState | None) -> str | None:
    """Why the cluster cannot take computes yet, or None when it can."""
    if not cluster.exists:
        return None
    state = cluster.provisioning_state.lower()
    if state != SUCCEEDED:
        return f"cluster {cluster.id.name} is {cluster.provisioning_state or 'not provisioned'}"
    if extension is None:
        return f"the Azure ML extension is not installed on cluster {cluster.id.name}"
    if extension.provisioning_state.lower() != SUCCEEDED:
        return (
            f"the Azure ML extension {extension.id.name} on cluster {cluster.id.name} is "
            f"{extension.provisioning_state}"
        )
    return None


def plan(observed: Observation) -> Plan:
    """The next actions that move this cluster toward what policy grants it."""
    cluster = observed.cluster
    if not cluster.exists or not observed.decision.attachments:
        return Plan()
    waiting = readiness(cluster, observed.extension)
    if waiting is not None:
        return Plan(wait_reason=waiting)

    actions: list[Action] = []
    problems: list[Problem] = []
    for attachment in observed.decision.attachments:
        compute = observed.computes.get((attachment.workspace_id, attachment.compute_name))
        conflict = None if compute is None else _conflict(attachment, compute, cluster.id)
        if conflict:
            problems.append(Problem(attachment, conflict))
            continue
        if attachment.namespace not in observed.namespaces:
            action = CreateNamespace(cluster.id, attachment.namespace)
            if action not in actions:
                actions.append(action)
        if compute is None:
            actions.append(AttachCompute(attachment, cluster.id, cluster.location))
            continue
        workspace = observed.workspaces.get(attachment.workspace_id)
        if workspace is None or not compute.principal_id:
            continue
        for scope, role in required_roles(attachment, workspace, problems):
            held = observed.role_holdings.get((scope.key, compute.principal_id), frozenset())
            if role.value not in held:
                actions.append(GrantRole(scope, role, compute.principal_id, attachment))
    return Plan(actions=tuple(actions), problems=tuple(problems))


def required_roles(
    attachment: Attachment, workspace: WorkspaceState, problems: list[Problem]
) -> list[tuple[ResourceId, Role]]:
    """The data-plane roles a compute's identity needs on its workspace's resources."""
    roles: list[tuple[ResourceId, Role]] = []
    if workspace.container_registry is None:
        problems.append(
            Problem(attachment, f"workspace {workspace.id.name} has no container registry")
        )
    else:
        roles.append((workspace.container_registry, Role.ACR_PULL))
    if workspace.storage_account is None:
        problems.append(
            Problem(attachment, f"workspace {workspace.id.name} has no storage account")
        )
    else:
        roles.append((workspace.storage_account, storage_role(attachment.storage_access)))
    return roles


def _conflict(attachment: Attachment, compute: ComputeState, cluster_id: ResourceId) -> str | None:
    where = f"compute {compute.name} in workspace {attachment.workspace_id.name}"
    if compute.cluster_id is None or compute.cluster_id != cluster_id:
        return f"{where} already exists for another target; choose another compute name"
    if compute.namespace != attachment.namespace:
        return (
            f"{where} already runs in namespace {compute.namespace}, "
            f"not {attachment.namespace} as policy says"
        )
    if compute.provisioning_state.lower() in FAILED_STATES:
        return f"{where} is {compute.provisioning_state}"
    if compute.identity_type is not None and compute.identity_type != attachment.identity.type:
        wanted = IdentityType(attachment.identity.type).value
        return f"{where} has a {compute.identity_type.value} identity, policy wants {wanted}"
    return None
