"""What the sweep heals beyond tagged clusters: a lost untag or delete event leaves computes and
role assignments behind, so the sweep also looks at everything autoattach made.

- every compute autoattach made, in every workspace of the policy: its cluster is reconciled
  (untagged or deleted, the reconcile detaches it and revokes its roles);
- every role assignment autoattach made (its deterministic name and description): on a cluster,
  that cluster is reconciled, or, when the cluster is gone, the assignment is removed; on a
  registry or storage account, it is removed once no compute autoattach keeps needs it; on an
  Azure Relay, once no living Arc cluster's extension names that relay (its cluster was deleted).

Deciding is pure (``orphaned``); reading and revoking go through the same adapters as reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from shared.adapters.roles import MadeAssignment
from shared.decisions.arm_id import (
    CONNECTED_CLUSTER,
    MANAGED_CLUSTER,
    InvalidResourceId,
    ResourceId,
)
from shared.decisions.errors import AutoattachError
from shared.decisions.model import FAILED_STATES, ComputeState, IdentityType, Role
from shared.decisions.planner import CLUSTER_RIGHTS, DATA_ROLES, storage_role
from shared.ports import Services

log = logging.getLogger("autoattach.healing")

CLUSTER_TYPES = frozenset({MANAGED_CLUSTER, CONNECTED_CLUSTER})
Need = tuple[str, str, str]  # (scope key, role GUID, principal id lower-cased)


@dataclass(frozen=True)
class Survey:
    """What the sweep found beyond the tagged clusters."""

    clusters: tuple[ResourceId, ...]  # to reconcile: they hold autoattach's computes or roles
    orphans: tuple[MadeAssignment, ...]  # to remove: nothing autoattach keeps needs them


def orphaned(
    made: Iterable[MadeAssignment],
    needed: set[Need],
    gone_clusters: set[ResourceId],
    relays_in_use: set[ResourceId] | None = None,
) -> list[MadeAssignment]:
    """Pure: the assignments autoattach made that no kept compute needs any more. Data roles
    (registry, storage) go when no compute autoattach keeps needs them at that scope; cluster
    rights go when their cluster no longer exists (a living cluster's reconcile decides);
    Azure Relay Owner goes when no living Arc cluster's extension names that relay (None: the
    relays were not read, keep them)."""
    orphans = []
    for assignment in made:
        if assignment.role is Role.AZURE_RELAY_OWNER:
            if relays_in_use is not None and assignment.scope not in relays_in_use:
                orphans.append(assignment)
            continue
        if assignment.role in DATA_ROLES:
            key = (assignment.scope.key, assignment.role.value, assignment.principal_id.lower())
            if key not in needed:
                orphans.append(assignment)
        elif assignment.role in CLUSTER_RIGHTS and assignment.scope in gone_clusters:
            orphans.append(assignment)
    return orphans


def survey(
    services: Services, subscriptions: Iterable[str], tagged: Iterable[ResourceId] = ()
) -> Survey:
    """Read what autoattach made (computes in policy workspaces, role assignments in the given
    subscriptions and those of the workspaces' resources) and decide what to revisit. ``tagged``
    are the tagged clusters ARM just listed: they exist, so a cluster holding autoattach's role
    assignments is read one by one only when it is not among them (the sweep's ARM reads stay
    a few lists per subscription, not one read per cluster); an Arc one among them may be
    mid-attach, so its relay stays."""
    tagged = tuple(tagged)
    listed = set(tagged)
    policy = services.policy
    kept: list[ComputeState] = []
    clusters: dict[ResourceId, None] = {}
    for rule in policy.workspaces:
        for compute in services.workspaces.list_computes(rule.workspace_id):
            # a legacy claim too: its cluster's reconcile asks the ledger whether it is ours
            claimed = compute.managed_by_autoattach or compute.legacy_claim
            if not claimed or compute.cluster_id is None:
                continue
            clusters[compute.cluster_id] = None
            if compute.provisioning_state.lower() not in FAILED_STATES:
                kept.append(compute)
    needed, scopes_subscriptions = _needs(services, kept)
    made: list[MadeAssignment] = []
    in_policy = [rule.workspace_id.subscription for rule in policy.workspaces]
    for subscription in dict.fromkeys([*subscriptions, *in_policy, *scopes_subscriptions]):
        made += services.roles.made_in(subscription)
    gone: set[ResourceId] = set()
    for scope in dict.fromkeys(a.scope for a in made if _is_cluster(a.scope)):
        if scope in listed or services.clusters.get(scope).exists:
            clusters[scope] = None
        else:
            gone.add(scope)
    relays = None
    if any(a.role is Role.AZURE_RELAY_OWNER for a in made):
        relays = _relays_in_use(services, [*tagged, *clusters])
    return Survey(tuple(clusters), tuple(orphaned(made, needed, gone, relays)))


def _relays_in_use(services: Services, clusters: Iterable[ResourceId]) -> set[ResourceId]:
    """The relays the Azure ML extensions of these Arc clusters name (those that still exist)."""
    relays: set[ResourceId] = set()
    for cluster_id in dict.fromkeys(clusters):
        if cluster_id.resource_type != CONNECTED_CLUSTER:
            continue
        extension = services.extensions.find_azureml(cluster_id)
        if extension is not None and extension.relay is not None:
            relays.add(extension.relay)
    return relays


def revoke_orphans(services: Services, orphans: Iterable[MadeAssignment]) -> int:
    """Remove each orphan; one that fails is left for the next sweep (logged, not lost)."""
    removed = 0
    for orphan in orphans:
        try:
            services.roles.revoke(orphan.scope, orphan.role, orphan.principal_id)
        except AutoattachError as error:
            log.warning(
                "sweep: could not remove %s on %s: %s",
                orphan.role.display_name,
                orphan.scope,
                error,
            )
            continue
        log.info(
            "sweep: removed %s on %s from %s: no compute autoattach keeps needs it",
            orphan.role.display_name,
            orphan.scope.name,
            orphan.principal_id,
        )
        removed += 1
    return removed


def _needs(services: Services, kept: list[ComputeState]) -> tuple[set[Need], list[str]]:
    needed: set[Need] = set()
    subscriptions: list[str] = []
    workspaces = {}
    principals: dict[str, str] = {}
    for compute in kept:
        principal = compute.principal_id
        if compute.identity_type is IdentityType.USER_ASSIGNED:
            identity = compute.user_assigned_identity
            if identity is None:
                continue
            if identity.key not in principals:
                principals[identity.key] = services.clusters.principal_of_identity(identity)
            principal = principals[identity.key]
        rule = services.policy.rule_for(compute.workspace_id)
        if not principal or rule is None:
            continue
        if compute.workspace_id not in workspaces:
            workspaces[compute.workspace_id] = services.workspaces.get_workspace(
                compute.workspace_id
            )
        workspace = workspaces[compute.workspace_id]
        for scope, role in (
            (workspace.container_registry, Role.ACR_PULL),
            (workspace.storage_account, storage_role(rule.storage_access)),
        ):
            if scope is not None:
                needed.add((scope.key, role.value, principal.lower()))
                subscriptions.append(scope.subscription)
    for workspace in workspaces.values():
        for scope in (workspace.container_registry, workspace.storage_account):
            if scope is not None:
                subscriptions.append(scope.subscription)
    return needed, subscriptions


def _is_cluster(scope: ResourceId) -> bool:
    try:
        return scope.resource_type in CLUSTER_TYPES
    except InvalidResourceId:
        return False
