"""Decide, purely: from what Azure looks like now to the next actions. No I/O here.

``plan`` is called again after every round of actions, so it only says what is missing now; a
converged cluster plans nothing, which is what makes replays free. autoattach only ever detaches
or revokes what it created itself (computes whose description carries autoattach's seal:
shared.decisions.ownership).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.decisions.arm_id import ResourceId
from shared.decisions.azureml_extension import install_refusal
from shared.decisions.model import (
    FAILED_STATES,
    SUCCEEDED,
    Attachment,
    ClusterState,
    ComputeState,
    ExtensionPolicy,
    ExtensionState,
    IdentityType,
    MadeAssignment,
    NamespaceRoute,
    Role,
    StorageAccess,
    WhenExtensionMissing,
    WorkspaceState,
)
from shared.decisions.policy import TagDecision

# What a workspace's user-assigned identity needs on a cluster before attach; without these
# Azure answers attach with "extension not installed" or "internal server error".
CLUSTER_PREREQUISITES = (Role.READER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, Role.AKS_CLUSTER_ADMIN)
# Every right autoattach may give a workspace identity on a cluster: with Contributor where the
# cluster's Trusted Access binds the workspace (Azure ML's attach doc).
CLUSTER_RIGHTS = (*CLUSTER_PREREQUISITES, Role.CONTRIBUTOR)
DATA_ROLES = (Role.ACR_PULL, Role.STORAGE_BLOB_DATA_READER, Role.STORAGE_BLOB_DATA_CONTRIBUTOR)
# How often a compute of autoattach's that ended Failed is detached and attached again before
# its owners must look: a few times, more while the failure may be role propagation.
ATTACH_TRIES = 3
PROPAGATION_TRIES = 6


@dataclass(frozen=True)
class CreateNamespace:
    cluster_id: ResourceId
    namespace: str
    route: NamespaceRoute
    # what ARM showed of it when observed (None: nothing; "failed": the last write failed)
    state: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class InstallExtension:
    cluster_id: ResourceId
    policy: ExtensionPolicy


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
    workspace_id: ResourceId
    attachment: Attachment | None = None  # None: a workspace prerequisite on the cluster


@dataclass(frozen=True)
class RevokeRole:
    scope: ResourceId
    role: Role
    principal_id: str
    why: str  # e.g. "compute aks-ml", "workspace ws-edge's identity"


@dataclass(frozen=True)
class DetachCompute:
    compute: ComputeState
    reason: str
    retry: bool = False  # it ended Failed and is detached to be attached again


Action = CreateNamespace | InstallExtension | AttachCompute | GrantRole | RevokeRole | DetachCompute


@dataclass(frozen=True)
class Problem:
    """Something that needs a person, about one attachment (or one workspace's computes);
    reported to the workspace owners and dead-lettered, not retried; unless ``recheck``: Azure
    reported a failure that asking again may mend, so the cluster is re-checked instead."""

    attachment: Attachment | None
    message: str
    workspace_id: ResourceId | None = None
    recheck: bool = False

    @property
    def workspace(self) -> ResourceId:
        if self.attachment is not None:
            return self.attachment.workspace_id
        assert self.workspace_id is not None
        return self.workspace_id


@dataclass(frozen=True)
class Observation:
    """What reconcile read from Azure for one cluster and the attachments policy grants it."""

    cluster: ClusterState
    decision: TagDecision
    extension: ExtensionState | None = None
    extension_policy: ExtensionPolicy = field(default_factory=ExtensionPolicy)
    namespace_route: NamespaceRoute | None = None
    # why the namespace route cannot be used (its kubeconfig reaches another cluster): then
    # nothing is made through it, and each attachment has this problem
    route_problem: str | None = None
    workspaces: dict[ResourceId, WorkspaceState] = field(default_factory=dict)
    # Computes by (workspace, lower-cased name), whoever made them, for the names policy wants.
    computes: dict[tuple[ResourceId, str], ComputeState] = field(default_factory=dict)
    # Computes autoattach made for this cluster, in every workspace of the policy (or known to
    # have been served before).
    owned: tuple[ComputeState, ...] = ()
    # Computes on a user-assigned identity that the cluster's ledger says autoattach announced
    # and that Azure no longer shows: the roles their identity held may still need removing.
    departed: tuple[ComputeState, ...] = ()
    # The workspaces the policy lets this cluster join (a tag can ask for no others).
    allowed_workspaces: frozenset[ResourceId] = frozenset()
    # (scope key, role GUID, principal id lower-cased) that computes autoattach keeps on other
    # clusters still need: never revoked here, whatever this cluster no longer needs.
    kept_elsewhere: frozenset[tuple[str, str, str]] = frozenset()
    namespaces: frozenset[str] = frozenset()
    # namespaces ARM shows in another state than Succeeded (lower-case): failed, being written
    namespace_states: dict[str, str] = field(default_factory=dict)
    # user-assigned identity key -> its principal id, read from ARM
    principals: dict[str, str] = field(default_factory=dict)
    relay: ResourceId | None = None
    # (scope key, principal id) -> role GUIDs that principal holds at that scope
    role_holdings: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # (scope key, principal id) -> those of them held through an assignment autoattach made
    our_roles: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # False when every wanted compute was already there: the extension (and the namespaces under
    # those computes) were not read, and are taken as they were (the sweep reads them)
    extension_read: bool = True
    # autoattach's assignments of cluster rights on this cluster and its relay, read when
    # something leaves (None: not read, nothing to release)
    made_here: tuple[MadeAssignment, ...] | None = None
    # principals Azure made in this reconcile (a new compute's system-assigned identity): they
    # hold no roles yet, so nobody reads their assignments
    new_principals: frozenset[str] = frozenset()
    # compute id key -> why its attach failed, as the operation a re-check polled said
    attach_errors: dict[str, str] = field(default_factory=dict)
    # compute id key -> how often autoattach attached it again after it ended Failed (the
    # cluster's ledger; cleared once it is announced attached)
    attach_tries: dict[str, int] = field(default_factory=dict)
    # (compute id key, createdOn) of computes whose departure owners were told (the ledger):
    # they go, whatever the policy wants now (shared.decisions.departures)
    departing: frozenset[tuple[str, str]] = frozenset()
    # the workspaces the (AKS) cluster's Trusted Access binds, when read (trusted_access_read)
    trusted_access: frozenset[ResourceId] = frozenset()
    trusted_access_read: bool = False
    # workspace -> the user-assigned identity the attach policy names for it (None: none): the
    # only identity autoattach gives rights on clusters for that workspace
    named_identities: dict[ResourceId, ResourceId | None] = field(default_factory=dict)

    def holds(self, scope: ResourceId, principal_id: str, role: Role) -> bool:
        return role.value in self.role_holdings.get((scope.key, principal_id), frozenset())

    def made_by_us(self, scope: ResourceId, principal_id: str, role: Role) -> bool:
        return role.value in self.our_roles.get((scope.key, principal_id), frozenset())

    def compute_for(self, attachment: Attachment) -> ComputeState | None:
        return self.computes.get(compute_key(attachment.workspace_id, attachment.compute_name))

    def needed_elsewhere(self, scope: ResourceId, role: Role, principal_id: str) -> bool:
        return (scope.key, role.value, principal_id.lower()) in self.kept_elsewhere


def compute_key(workspace_id: ResourceId, name: str) -> tuple[ResourceId, str]:
    """Compute names compare as Azure ML compares them: without regard to case."""
    return (workspace_id, name.lower())


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


def _other_storage_role(access: StorageAccess) -> Role:
    if access is StorageAccess.READ_WRITE:
        return Role.STORAGE_BLOB_DATA_READER
    return Role.STORAGE_BLOB_DATA_CONTRIBUTOR


def in_progress(compute: ComputeState) -> bool:
    """Azure is still working on it (Creating, Updating, Deleting, ...): look again later."""
    state = compute.provisioning_state.lower()
    return state != SUCCEEDED and state not in FAILED_STATES


def extension_failed(extension: ExtensionState | None) -> bool:
    return extension is not None and extension.provisioning_state.lower() in FAILED_STATES


def readiness(
    cluster: ClusterState, extension: ExtensionState | None, *, extension_read: bool = True
) -> str | None:
    """Why the cluster cannot take computes yet, or None when it can (the extension is judged
    only when it was read)."""
    if not cluster.exists:
        return None
    state = cluster.provisioning_state.lower()
    if state != SUCCEEDED:
        return f"cluster {cluster.id.name} is {cluster.provisioning_state or 'not provisioned'}"
    if cluster.kind == "arc" and cluster.connectivity_status.lower() in ("offline", "expired"):
        return (
            f"Arc cluster {cluster.id.name} is {cluster.connectivity_status}: autoattach waits "
            "until its agents connect again"
        )
    if not extension_read:
        return None
    if extension is None:
        return f"the Azure ML extension is not installed on cluster {cluster.id.name}"
    if extension.provisioning_state.lower() != SUCCEEDED:
        return (
            f"the Azure ML extension {extension.id.name} on cluster {cluster.id.name} is "
            f"{extension.provisioning_state}"
        )
    return None


def _cluster_ready(cluster: ClusterState) -> bool:
    return readiness(cluster, None, extension_read=False) is None


def _namespaces_while_installing(
    observed: Observation, attachments: tuple[Attachment, ...], planned: list[Action]
) -> list[CreateNamespace]:
    """The namespaces the attachments need, made while the extension installs."""
    if observed.namespace_route is None or observed.route_problem is not None:
        return []
    made: list[CreateNamespace] = []
    for attachment in attachments:
        if attachment.namespace in observed.namespaces:
            continue
        if observed.compute_for(attachment) is not None:
            continue  # its namespace is taken as there (observe reads it only on a sweep)
        action = CreateNamespace(
            observed.cluster.id,
            attachment.namespace,
            observed.namespace_route,
            observed.namespace_states.get(attachment.namespace),
        )
        if action not in planned and action not in made:
            made.append(action)
    return made


def principal_of(observed: Observation, compute: ComputeState) -> str | None:
    """The identity that receives roles: always read from ARM, never from a tag or event."""
    if compute.identity_type is IdentityType.USER_ASSIGNED:
        if compute.user_assigned_identity is None:
            return None
        return observed.principals.get(compute.user_assigned_identity.key)
    return compute.principal_id


def data_roles(attachment: Attachment, workspace: WorkspaceState) -> list[tuple[ResourceId, Role]]:
    """The data-plane roles a compute's identity needs on its workspace's resources."""
    roles: list[tuple[ResourceId, Role]] = []
    if workspace.container_registry is not None:
        roles.append((workspace.container_registry, Role.ACR_PULL))
    if workspace.storage_account is not None:
        roles.append((workspace.storage_account, storage_role(attachment.storage_access)))
    return roles


def prerequisite_roles(
    cluster: ClusterState, relay: ResourceId | None, trusted_access: bool = False
) -> list[tuple[ResourceId, Role]]:
    """What a workspace's user-assigned identity needs before attach: Reader, Kubernetes
    Extension Contributor and AKS Cluster Admin on the cluster, Contributor too where the
    cluster's Trusted Access binds the workspace, Azure Relay Owner on an Arc cluster's relay."""
    roles = [(cluster.id, role) for role in CLUSTER_PREREQUISITES]
    if trusted_access and cluster.kind == "aks":
        roles.append((cluster.id, Role.CONTRIBUTOR))
    if relay is not None:
        roles.append((relay, Role.AZURE_RELAY_OWNER))
    return roles


def plan(observed: Observation) -> Plan:
    """The next actions that move this cluster toward what policy grants it."""
    cluster = observed.cluster
    attachments = observed.decision.attachments if cluster.exists else ()
    actions: list[Action] = _release_unwanted(observed, attachments)
    detaching = [
        f"compute {c.name} in workspace {c.workspace_id.name} is being detached"
        for c in observed.owned
        if c.provisioning_state.lower() == "deleting"
    ]
    if not attachments:
        return Plan(tuple(actions), wait_reason=detaching[0] if detaching and not actions else None)

    if observed.extension_read and extension_failed(observed.extension):
        assert observed.extension is not None
        message = (
            f"the Azure ML extension {observed.extension.id.name} on cluster {cluster.id.name} "
            f"ended {observed.extension.provisioning_state}; fix or reinstall it, then replay"
        )
        return Plan(tuple(actions), problems=tuple(Problem(a, message) for a in attachments))
    waiting = readiness(cluster, observed.extension, extension_read=observed.extension_read)
    if waiting is not None:
        if (
            observed.extension is None
            and cluster.provisioning_state.lower() == SUCCEEDED
            and observed.extension_policy.when_missing is WhenExtensionMissing.INSTALL
        ):
            refusal = install_refusal(cluster.id, observed.extension_policy)
            if refusal is not None:
                return Plan(
                    tuple(actions), problems=tuple(Problem(a, refusal) for a in attachments)
                )
            actions.append(InstallExtension(cluster.id, observed.extension_policy))
            waiting = f"installing the Azure ML extension on cluster {cluster.id.name}"
        elif observed.extension is not None and _cluster_ready(cluster):
            # the extension installs: its namespaces need nothing of it, so they are made
            # meanwhile and the attach starts as soon as the install ends
            actions += _namespaces_while_installing(observed, attachments, actions)
        return Plan(tuple(actions), wait_reason=waiting)
    if observed.namespace_route is None:
        message = (
            f"no way to create namespaces on {cluster.kind} cluster {cluster.id.name}: "
            "name a kubeconfig_secret for it in the policy's 'clusters' section"
            + ("" if cluster.kind == "arc" else " or enable Azure RBAC on the cluster")
        )
        return Plan(tuple(actions), problems=tuple(Problem(a, message) for a in attachments))
    if observed.route_problem is not None:
        refused = tuple(Problem(a, observed.route_problem) for a in attachments)
        return Plan(tuple(actions), problems=refused)

    problems: list[Problem] = []
    waits: list[str] = list(detaching)
    needed = _needed_grants(observed, attachments)
    ready_workspaces = _grant_prerequisites(observed, attachments, actions, problems, waits)
    for attachment in attachments:
        if any(p.attachment == attachment for p in problems):
            continue
        compute = observed.compute_for(attachment)
        conflict = None if compute is None else _conflict(attachment, compute, cluster.id)
        if conflict:
            problems.append(Problem(attachment, conflict))
            continue
        if compute is not None and failed_own(compute):
            problems.append(_failure_problem(observed, attachment, compute))
            continue  # detached by _release_unwanted while tries are left; attached later
        if compute is not None and _going(observed, attachment, compute) is not None:
            continue  # detached by _release_unwanted; attached again next round
        if compute is not None and in_progress(compute):
            waits.append(
                f"compute {compute.name} in workspace {attachment.workspace_id.name} is "
                f"{compute.provisioning_state or 'not ready'}"
            )
            # its identity exists from the attach's answer: granted now, its roles propagate
            # while Azure attaches (not once the attach is done)
            actions += _grants_while_attaching(observed, attachment, compute)
            continue
        if attachment.namespace not in observed.namespaces:
            action = CreateNamespace(
                cluster.id,
                attachment.namespace,
                observed.namespace_route,
                observed.namespace_states.get(attachment.namespace),
            )
            if action not in actions:
                actions.append(action)
            continue  # attached once the namespace is there (the next round)
        if attachment.workspace_id not in ready_workspaces:
            continue
        if compute is None:
            actions.append(AttachCompute(attachment, cluster.id, cluster.location))
            continue
        workspace = observed.workspaces.get(attachment.workspace_id)
        principal = principal_of(observed, compute)
        if workspace is None or not principal:
            continue
        missing = _missing_resources(attachment, workspace)
        if missing:
            problems.append(Problem(attachment, missing))
            continue
        for scope, role in data_roles(attachment, workspace):
            if not observed.holds(scope, principal, role):
                actions.append(
                    GrantRole(scope, role, principal, attachment.workspace_id, attachment)
                )
        storage = workspace.storage_account
        other = _other_storage_role(attachment.storage_access)
        if (
            storage is not None
            and observed.made_by_us(storage, principal, other)
            and (storage.key, other, principal) not in needed
            and not observed.needed_elsewhere(storage, other, principal)
        ):
            why = f"compute {compute.name}, whose storage access is now {attachment.storage_access}"
            actions.append(RevokeRole(storage, other, principal, why))
    wait_reason = waits[0] if waits and not actions else None
    return Plan(tuple(actions), wait_reason=wait_reason, problems=tuple(problems))


def _grants_while_attaching(
    observed: Observation, attachment: Attachment, compute: ComputeState
) -> list[Action]:
    """The data roles of a compute Azure is still creating, once its principal is known."""
    if compute.provisioning_state.lower() not in ("creating", "updating"):
        return []  # deleting, or a state that says nothing of what it becomes
    workspace = observed.workspaces.get(attachment.workspace_id)
    principal = principal_of(observed, compute)
    if workspace is None or not principal or _missing_resources(attachment, workspace):
        return []  # the attach's end says what is missing
    return [
        GrantRole(scope, role, principal, attachment.workspace_id, attachment)
        for scope, role in data_roles(attachment, workspace)
        if not observed.holds(scope, principal, role)
    ]


def _grant_prerequisites(
    observed: Observation,
    attachments: tuple[Attachment, ...],
    actions: list[Action],
    problems: list[Problem],
    waits: list[str],
) -> set[ResourceId]:
    """Grant user-assigned workspace identities their rights on the cluster; return the
    workspaces whose identity already holds them all (ready to attach)."""
    ready: set[ResourceId] = set()
    for workspace_id in dict.fromkeys(a.workspace_id for a in attachments):
        workspace = observed.workspaces.get(workspace_id)
        if workspace is None:
            continue
        if workspace.user_assigned_identity is None:
            ready.add(workspace_id)
            continue
        refusal = identity_refusal(observed, workspace)
        if refusal is not None:
            for attachment in (a for a in attachments if a.workspace_id == workspace_id):
                problems.append(Problem(attachment, refusal))
            continue
        principal = observed.principals.get(workspace.user_assigned_identity.key)
        if not principal:
            for attachment in (a for a in attachments if a.workspace_id == workspace_id):
                problems.append(
                    Problem(
                        attachment,
                        f"cannot read the principal of workspace {workspace_id.name}'s identity "
                        f"{workspace.user_assigned_identity.name}",
                    )
                )
            continue
        if observed.cluster.kind == "arc" and observed.relay is None:
            message = (
                f"the Azure ML extension on Arc cluster {observed.cluster.id.name} names no Azure "
                "Relay (setting relayserver.hybridConnectionResourceID), so autoattach cannot "
                f"grant workspace {workspace_id.name}'s identity Azure Relay Owner on it; grant "
                "it by hand, or reinstall the extension with az k8s-extension create"
            )
            for attachment in (a for a in attachments if a.workspace_id == workspace_id):
                problems.append(Problem(attachment, message))
            continue
        missing = [
            (scope, role)
            for scope, role in workspace_rights(observed, workspace_id)
            if not observed.holds(scope, principal, role)
        ]
        for scope, role in missing:
            actions.append(GrantRole(scope, role, principal, workspace_id))
        if not missing:
            ready.add(workspace_id)
    return ready


def _release_unwanted(observed: Observation, attachments: tuple[Attachment, ...]) -> list[Action]:
    """Detach (and revoke the roles of) computes autoattach made that policy no longer wants:
    removed from the tag, on a deleted cluster, or ended Failed (to attach again)."""
    wanted = {compute_key(a.workspace_id, a.compute_name): a for a in attachments}
    still_needed = _needed_grants(observed, attachments)
    actions: list[Action] = []
    for compute in [*observed.owned, *observed.departed]:
        reason = release_reason(
            observed, compute, wanted.get(compute_key(compute.workspace_id, compute.name))
        )
        if reason is None:
            continue
        # already on its way out, or gone: no (second) detach, but the roles it held still go
        # once no other compute needs them (another cluster's, sharing its identity, may have
        # left since)
        detaching = compute in observed.departed or compute.provisioning_state.lower() == "deleting"
        workspace = observed.workspaces.get(compute.workspace_id)
        principal = principal_of(observed, compute)
        if workspace is not None and principal:
            for scope in (workspace.container_registry, workspace.storage_account):
                if scope is None:
                    continue
                for role in DATA_ROLES:
                    if (
                        observed.made_by_us(scope, principal, role)
                        and (scope.key, role, principal) not in still_needed
                        and not observed.needed_elsewhere(scope, role, principal)
                    ):
                        actions.append(
                            RevokeRole(scope, role, principal, f"compute {compute.name}")
                        )
        if not detaching:
            actions.append(DetachCompute(compute, reason, retry=failed_own(compute)))
    return actions + _release_prerequisites(observed, attachments)


def release_reason(
    observed: Observation, compute: ComputeState, attachment: Attachment | None
) -> str | None:
    """Why a compute autoattach made must go, or None when the policy still wants it as it is.
    The policy is the authority: what it no longer allows is undone."""
    cluster = observed.cluster.id.name
    if not observed.cluster.exists:
        return f"cluster {cluster} was deleted"
    if attachment is None:
        if compute.workspace_id not in observed.allowed_workspaces:
            return (
                f"the attach policy no longer lets cluster {cluster} join workspace "
                f"{compute.workspace_id.name}"
            )
        return f"cluster {cluster} is no longer tagged for workspace {compute.workspace_id.name}"
    return _going(observed, attachment, compute)


def _going(observed: Observation, attachment: Attachment, compute: ComputeState) -> str | None:
    """Why a compute the policy wants must be detached (and attached again), or None."""
    if compute.managed_by_autoattach and (compute.id.key, compute.created_on) in observed.departing:
        return (
            f"owners were told compute {compute.name} was detached; it is detached and "
            "attached again"
        )
    return _replaced(attachment, compute, observed)


def _replaced(attachment: Attachment, compute: ComputeState, observed: Observation) -> str | None:
    """Why autoattach's own compute must be detached and attached again, or None."""
    if not compute.managed_by_autoattach:
        return None
    if failed_own(compute):
        if tries_left(observed, attachment, compute) <= 0:
            return None  # left Failed for a person to see why (_failure_problem)
        if observed.extension_read and extension_failed(observed.extension):
            return None  # the extension's failure is why: left Failed, its owners told (plan)
        return (
            f"compute {compute.name} ended {compute.provisioning_state} "
            f"({failure_of(observed, compute)}); attaching again"
        )
    wanted = attachment.identity
    if compute.identity_type is not None and compute.identity_type != wanted.type:
        return (
            f"the attach policy now wants a {wanted.type.value} identity for compute "
            f"{compute.name}; attaching again"
        )
    if (
        wanted.type is IdentityType.USER_ASSIGNED
        and wanted.resource_id is not None
        and compute.user_assigned_identity is not None
        and compute.user_assigned_identity != wanted.resource_id
    ):
        return (
            f"the attach policy now wants identity {wanted.resource_id.name} for compute "
            f"{compute.name}; attaching again"
        )
    if compute.namespace != attachment.namespace:
        return (
            f"the attach policy now wants namespace {attachment.namespace} for compute "
            f"{compute.name}; attaching again"
        )
    return None


def _release_prerequisites(
    observed: Observation, attachments: tuple[Attachment, ...]
) -> list[Action]:
    """Revoke the cluster rights autoattach gave a workspace identity once no workspace on that
    identity keeps a compute on the cluster. Assignments a person made are never touched."""
    if not observed.cluster.exists or observed.made_here is None:
        return []
    staying = {
        principal.lower()
        for w in observed.workspaces.values()
        if w.user_assigned_identity is not None
        and any(a.workspace_id == w.id for a in attachments)
        and (principal := observed.principals.get(w.user_assigned_identity.key))
    }
    # a workspace switched to an identity the policy does not name keeps the named one's
    # rights: the switch is refused, not followed
    staying |= {
        principal.lower()
        for w, named in observed.named_identities.items()
        if named is not None
        and any(a.workspace_id == w for a in attachments)
        and (principal := observed.principals.get(named.key))
    }
    names = {
        principal.lower(): w.id.name
        for w in observed.workspaces.values()
        if w.user_assigned_identity is not None
        and (principal := observed.principals.get(w.user_assigned_identity.key))
    }
    # Contributor only where the cluster's Trusted Access binds one of the principal's workspaces
    contributors = {
        principal.lower()
        for w in observed.workspaces.values()
        if w.id in observed.trusted_access
        and w.user_assigned_identity is not None
        and any(a.workspace_id == w.id for a in attachments)
        and (principal := observed.principals.get(w.user_assigned_identity.key))
    }
    actions: list[Action] = []
    for made in observed.made_here:
        principal = made.principal_id.lower()
        if (
            made.role is Role.CONTRIBUTOR
            and observed.trusted_access_read
            and principal in staying
            and principal not in contributors
        ):
            why = "a workspace identity the cluster's Trusted Access no longer needs it for"
            actions.append(RevokeRole(made.scope, made.role, made.principal_id, why))
            continue
        if principal in staying:
            continue
        whose = names.get(principal)
        why = (
            f"workspace {whose}'s identity"
            if whose
            else "a workspace identity no compute here needs"
        )
        actions.append(RevokeRole(made.scope, made.role, made.principal_id, why))
    return list(dict.fromkeys(actions))


def _needed_grants(
    observed: Observation, attachments: tuple[Attachment, ...]
) -> set[tuple[str, Role, str]]:
    needed: set[tuple[str, Role, str]] = set()
    for attachment in attachments:
        compute = observed.compute_for(attachment)
        workspace = observed.workspaces.get(attachment.workspace_id)
        if compute is None or workspace is None:
            continue
        if not compute.managed_by_autoattach or _going(observed, attachment, compute) is not None:
            continue
        principal = principal_of(observed, compute)
        if principal:
            needed.update((s.key, r, principal) for s, r in data_roles(attachment, workspace))
    return needed


def failed_own(compute: ComputeState) -> bool:
    """autoattach's own compute, whose attach ended Failed (or Canceled)."""
    return compute.managed_by_autoattach and compute.provisioning_state.lower() in FAILED_STATES


def failure_of(observed: Observation, compute: ComputeState) -> str:
    """Why Azure failed the compute's attach, in Azure's words."""
    return (
        observed.attach_errors.get(compute.id.key)
        or compute.errors
        or "Azure gave no reason for it"
    )


def waits_for_propagation(observed: Observation, workspace_id: ResourceId) -> bool:
    """The workspace runs on a user-assigned identity that ARM lists with every right it needs
    on the cluster: an attach that failed may only have come before those rights took effect
    (Azure takes up to 10 minutes, 30 and more in places; autoattach cannot see when)."""
    workspace = observed.workspaces.get(workspace_id)
    if workspace is None or workspace.user_assigned_identity is None:
        return False
    principal = observed.principals.get(workspace.user_assigned_identity.key, "")
    return bool(principal) and all(
        observed.holds(scope, principal, role)
        for scope, role in workspace_rights(observed, workspace_id)
    )


def workspace_rights(
    observed: Observation, workspace_id: ResourceId
) -> list[tuple[ResourceId, Role]]:
    """The rights a workspace's user-assigned identity needs on this cluster (and its relay)."""
    return prerequisite_roles(
        observed.cluster, observed.relay, workspace_id in observed.trusted_access
    )


def identity_refusal(observed: Observation, workspace: WorkspaceState) -> str | None:
    """Why autoattach gives the workspace's user-assigned identity no rights on clusters: the
    attach policy names another identity for the workspace, or none. A workspace contributor
    can switch the workspace's identity to one they control; granting it would hand them
    cluster admin on every cluster attached to the workspace."""
    identity = workspace.user_assigned_identity
    named = observed.named_identities.get(workspace.id)
    if identity is None or named == identity:
        return None
    expected = (
        f"the attach policy names {named.raw} for it"
        if named is not None
        else "the attach policy names none for it (workspace_identity)"
    )
    return (
        f"workspace {workspace.id.name} runs on identity {identity.raw}, but {expected}: "
        f"autoattach gives that identity no rights on cluster {observed.cluster.id.name} and "
        "attaches nothing there for the workspace. If the change is wanted, name the identity "
        "in the policy's workspace_identity; if not, switch the workspace back"
    )


def tries_left(observed: Observation, attachment: Attachment, compute: ComputeState) -> int:
    """How often autoattach may still detach its Failed compute and attach it again: a few
    times, more while the failure may be role propagation (the re-checks between tries back
    off, so the tries span well over 30 minutes)."""
    limit = (
        PROPAGATION_TRIES
        if waits_for_propagation(observed, attachment.workspace_id)
        else ATTACH_TRIES
    )
    return limit - observed.attach_tries.get(compute.id.key, 0)


def _failure_problem(
    observed: Observation, attachment: Attachment, compute: ComputeState
) -> Problem:
    """What the owners are told of a compute whose attach Azure failed, with Azure's reason: it
    is attached again later (re-checked, never dead-lettered), or, once the tries are spent, it
    needs a person."""
    where = f"compute {compute.name} in workspace {attachment.workspace_id.name}"
    reason = failure_of(observed, compute)
    cluster = observed.cluster.id.name
    if tries_left(observed, attachment, compute) <= 0:
        tries = observed.attach_tries.get(compute.id.key, 0)
        return Problem(
            attachment,
            f"attaching {where} to cluster {cluster} failed {tries + 1} times; Azure's reason: "
            f"{reason}. autoattach leaves it {compute.provisioning_state} so you can see why: "
            f"fix the cause, detach it (az ml compute detach) and replay",
        )
    if waits_for_propagation(observed, attachment.workspace_id):
        return Problem(
            attachment,
            f"attaching {where} to cluster {cluster} failed: {reason}. The workspace "
            "identity's roles on the cluster are granted but may not have taken effect yet "
            "(Azure takes up to 30 minutes); autoattach attaches it again later",
            recheck=True,
        )
    return Problem(
        attachment,
        f"attaching {where} to cluster {cluster} failed: {reason}; autoattach detaches it "
        "and attaches it again",
        recheck=True,
    )


def _missing_resources(attachment: Attachment, workspace: WorkspaceState) -> str | None:
    if workspace.container_registry is None:
        return f"workspace {workspace.id.name} has no container registry"
    if workspace.storage_account is None:
        return f"workspace {workspace.id.name} has no storage account"
    return None


def _conflict(attachment: Attachment, compute: ComputeState, cluster_id: ResourceId) -> str | None:
    where = f"compute {compute.name} in workspace {attachment.workspace_id.name}"
    if compute.cluster_id is None or compute.cluster_id != cluster_id:
        return f"{where} already exists for another target; choose another compute name"
    if not compute.managed_by_autoattach:
        return (
            f"{where} was not made by autoattach (its description carries no autoattach seal "
            "for it, and the cluster's ledger records no attach of it), so autoattach grants it "
            "nothing; rename or remove it, or give autoattach's compute another name in the "
            "attach policy"
        )
    return None
