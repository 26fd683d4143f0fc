"""Observe: read from Azure what the planner needs to know about one cluster, and nothing more.

Everything here is a read; the result is plain data (shared.planner.Observation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.arm_id import InvalidResourceId, ResourceId
from shared.model import FAILED_STATES, ComputeState, IdentityType, Role, WorkspaceState
from shared.planner import (
    Observation,
    compute_key,
    prerequisite_roles,
    principal_of,
    readiness,
    storage_role,
)
from shared.policy import TagDecision, decide_attachments
from shared.ports import Services


@dataclass
class Memo:
    """What does not change while one cluster is reconciled (autoattach never writes it), so
    later rounds need not read it again: workspaces and identities' principals."""

    workspaces: dict[ResourceId, WorkspaceState] = field(default_factory=dict)
    principals: dict[str, str] = field(default_factory=dict)


def observe(
    cluster_id: ResourceId,
    services: Services,
    memo: Memo | None = None,
    announced: Mapping[str, Mapping[str, Any]] | None = None,
) -> Observation:
    """``announced`` is the cluster's ledger record: computes announced there that lie in
    workspaces the policy no longer names are read too, so that they are detached."""
    memo = Memo() if memo is None else memo
    policy = services.policy
    cluster = services.clusters.get(cluster_id)
    cluster_id = cluster.id  # ARM's spelling: compute names come from it, not from the event
    decision = TagDecision((), ())
    if cluster.exists:
        decision = decide_attachments(cluster_id, cluster.tags, services.tag_key, policy)
    attachments = decision.attachments
    wanted = {compute_key(a.workspace_id, a.compute_name) for a in attachments}
    computes: dict[tuple[ResourceId, str], ComputeState] = {}
    owned: list[ComputeState] = []
    elsewhere: list[ComputeState] = []
    # Every workspace of the policy, not only those this cluster may join now: a narrowed
    # policy must find what autoattach made before.
    for workspace_id in dict.fromkeys(rule.workspace_id for rule in policy.workspaces):
        for compute in services.workspaces.list_computes(workspace_id):
            key = compute_key(compute.workspace_id, compute.name)
            if key in wanted:
                computes[key] = compute
            if not compute.managed_by_autoattach:
                continue
            if compute.cluster_id == cluster_id:
                owned.append(compute)
            else:
                elsewhere.append(compute)
    owned += _announced_outside_policy(services, cluster_id, announced or {})
    workspace_ids = dict.fromkeys(
        [a.workspace_id for a in attachments] + [c.workspace_id for c in owned]
    )
    for workspace_id in workspace_ids:
        if workspace_id not in memo.workspaces:
            memo.workspaces[workspace_id] = services.workspaces.get_workspace(workspace_id)
    workspaces = {w: memo.workspaces[w] for w in workspace_ids}

    extension = None
    route = None
    namespaces: frozenset[str] = frozenset()
    uses_identity = any(w.user_assigned_identity is not None for w in workspaces.values())
    arc_relay_needed = uses_identity and cluster.exists and cluster.kind == "arc"
    if attachments or arc_relay_needed:
        extension = services.extensions.find_azureml(cluster_id)
    # Azure Relay Owner goes only to the relay this cluster's extension names.
    relay = extension.relay if extension is not None and cluster.kind == "arc" else None
    if attachments:
        route = policy.namespace_route(cluster_id, cluster.azure_rbac)
        if readiness(cluster, extension) is None and route is not None:
            namespaces = frozenset(
                ns
                for ns in dict.fromkeys(a.namespace for a in attachments)
                if services.namespaces.exists(cluster_id, ns, route)
            )

    principals = _principals(services, list(computes.values()) + owned, workspaces, memo)
    observed = Observation(
        cluster=cluster,
        decision=decision,
        extension=extension,
        extension_policy=policy.extension,
        namespace_route=route,
        workspaces=workspaces,
        computes=computes,
        owned=tuple(owned),
        allowed_workspaces=frozenset(policy.workspaces_for(cluster_id)),
        kept_elsewhere=_kept_elsewhere(services, owned, elsewhere, memo),
        namespaces=namespaces,
        principals=principals,
        relay=relay,
    )
    return _with_holdings(observed, services)


def _announced_outside_policy(
    services: Services, cluster_id: ResourceId, announced: Mapping[str, Mapping[str, Any]]
) -> list[ComputeState]:
    """Computes autoattach announced for this cluster in workspaces the policy no longer names."""
    in_policy = {rule.workspace_id for rule in services.policy.workspaces}
    found = []
    for entry in announced.values():
        try:
            compute_id = ResourceId.parse(str(entry.get("compute", "")))
            workspace_id = ResourceId.parse(str(entry.get("workspace", "")))
        except InvalidResourceId:
            continue
        if workspace_id in in_policy:
            continue
        compute = services.workspaces.get_compute(workspace_id, compute_id.name)
        if (
            compute is not None
            and compute.managed_by_autoattach
            and compute.cluster_id == cluster_id
        ):
            found.append(compute)
    return found


def _kept_elsewhere(
    services: Services, owned: list[ComputeState], elsewhere: list[ComputeState], memo: Memo
) -> frozenset[tuple[str, str, str]]:
    """The data roles that autoattach's computes on other clusters still need, for the
    identities this cluster's computes share with them (a user-assigned identity can serve many
    computes). Only these could be revoked here, so only these are looked at."""
    shared_identities = {
        c.user_assigned_identity for c in owned if c.user_assigned_identity is not None
    }
    kept: set[tuple[str, str, str]] = set()
    for compute in elsewhere:
        if compute.provisioning_state.lower() in FAILED_STATES:
            continue
        if compute.user_assigned_identity not in shared_identities:
            continue
        rule = services.policy.rule_for(compute.workspace_id)
        if rule is None or compute.cluster_id is None or not rule.allows(compute.cluster_id):
            continue  # leaving as well: its own cluster's reconcile releases it
        assert compute.user_assigned_identity is not None
        if compute.user_assigned_identity.key not in memo.principals:
            memo.principals[compute.user_assigned_identity.key] = (
                services.clusters.principal_of_identity(compute.user_assigned_identity)
            )
        principal = memo.principals[compute.user_assigned_identity.key].lower()
        if compute.workspace_id not in memo.workspaces:
            memo.workspaces[compute.workspace_id] = services.workspaces.get_workspace(
                compute.workspace_id
            )
        workspace = memo.workspaces[compute.workspace_id]
        if workspace.container_registry is not None:
            kept.add((workspace.container_registry.key, Role.ACR_PULL.value, principal))
        if workspace.storage_account is not None:
            role = storage_role(rule.storage_access)
            kept.add((workspace.storage_account.key, role.value, principal))
    return frozenset(kept)


def _principals(
    services: Services,
    computes: list[ComputeState],
    workspaces: dict[ResourceId, WorkspaceState],
    memo: Memo,
) -> dict[str, str]:
    identities: list[ResourceId] = [
        c.user_assigned_identity
        for c in computes
        if c.identity_type is IdentityType.USER_ASSIGNED and c.user_assigned_identity is not None
    ]
    identities += [
        w.user_assigned_identity for w in workspaces.values() if w.user_assigned_identity
    ]
    principals: dict[str, str] = {}
    for identity in identities:
        if identity.key not in principals:
            if identity.key not in memo.principals:
                memo.principals[identity.key] = services.clusters.principal_of_identity(identity)
            principals[identity.key] = memo.principals[identity.key]
    return principals


def _with_holdings(observed: Observation, services: Services) -> Observation:
    """Read which roles each relevant principal holds at each relevant scope (one list each)."""
    pairs: dict[tuple[str, str], ResourceId] = {}
    for compute in list(observed.computes.values()) + list(observed.owned):
        workspace = observed.workspaces.get(compute.workspace_id)
        principal = principal_of(observed, compute)
        if workspace is None or not principal:
            continue
        for scope in (workspace.container_registry, workspace.storage_account):
            if scope is not None:
                pairs[(scope.key, principal)] = scope
    if observed.cluster.exists:
        for workspace in observed.workspaces.values():
            identity = workspace.user_assigned_identity
            principal = observed.principals.get(identity.key) if identity else None
            if principal:
                for scope, _role in prerequisite_roles(observed.cluster, observed.relay):
                    pairs[(scope.key, principal)] = scope
    holdings = {key: services.roles.held(scope, key[1]) for key, scope in pairs.items()}
    return Observation(
        **{
            **observed.__dict__,
            "role_holdings": {key: held.roles for key, held in holdings.items()},
            "our_roles": {key: held.ours for key, held in holdings.items()},
        }
    )
