"""Observe: read from Azure what the planner needs to know about one cluster, and nothing more.

Everything here is a read; the result is plain data (shared.decisions.planner.Observation).
ARM's read budget is what bounds a storm of new clusters, so each read earns its place:

- the computes the policy wants are read by name; autoattach's other computes on the cluster are
  found through the cluster's ledger record (what was announced), and only a sweep
  (``discover``) lists every workspace of the policy to find what a lost event left;
- the extension and the namespaces are read only when a compute is still to be attached (or on
  a sweep): a compute that is ``Succeeded`` needed both, and the sweep re-checks them;
- one role-assignment list per principal and subscription serves every scope there;
- workspaces and identities' principals come from the adapters' process-wide caches;
- autoattach's own assignments at the cluster scope are listed only when something leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.adapters.roles import Assignment, MadeAssignment, holdings
from shared.decisions.arm_id import ResourceId
from shared.decisions.departures import departing
from shared.decisions.errors import WRONG_CLUSTER_REASONS, PermanentError
from shared.decisions.model import (
    FAILED_STATES,
    SUCCEEDED,
    Attachment,
    ClusterState,
    ComputeState,
    IdentityType,
    NamespaceRoute,
    Role,
    WorkspaceState,
    attached_as_answered,
)
from shared.decisions.notices import announced_as_wanted, attach_tries
from shared.decisions.planner import (
    CLUSTER_RIGHTS,
    Observation,
    compute_key,
    data_roles,
    prerequisite_roles,
    principal_of,
    readiness,
    release_reason,
    storage_role,
)
from shared.decisions.policy import AttachPolicy, TagDecision, decide_attachments
from shared.engine.continuation import COMPUTE, NAMESPACE, Continuation
from shared.engine.ledger_record import (
    Grant,
    RunGrants,
    announced_computes,
    departed_computes,
    grants_held,
    lost_some,
    new_principals,
    recorded_grants,
    with_ledger_claim,
)
from shared.ports import Services


@dataclass
class Memo:
    """What one reconcile already read and does not change meanwhile: principals' assignments
    (kept up to date with what this reconcile grants and revokes)."""

    assignments: dict[tuple[str, str], list[Assignment]] = field(default_factory=dict)


def observe_cluster(cluster_id: ResourceId, services: Services) -> tuple[ClusterState, TagDecision]:
    """The cluster as ARM shows it (its id in ARM's spelling) and what its tag asks for."""
    cluster = services.clusters.get(cluster_id)
    decision = TagDecision((), ())
    if cluster.exists:
        decision = decide_attachments(cluster.id, cluster.tags, services.tag_key, services.policy)
    return cluster, decision


def observe(
    cluster_id: ResourceId,
    services: Services,
    memo: Memo | None = None,
    announced: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    discover: bool = False,
    seen: tuple[ClusterState, TagDecision] | None = None,
    grants: RunGrants | None = None,
    extension_changed: bool = False,
) -> Observation:
    """``announced`` is the cluster's ledger record: computes announced there are read too, so
    that those no longer wanted are detached. ``discover`` (the sweep) lists every workspace of
    the policy instead, and reads everything the event path takes on trust (what the ledger
    records granted to identities never announced, too). ``seen`` is the cluster already read
    by the caller; ``grants`` what this reconcile granted and revoked before this read;
    ``extension_changed``: an extension's event, so the extension is read as a sweep reads it."""
    memo = Memo() if memo is None else memo
    policy = services.policy
    cluster, decision = seen or observe_cluster(cluster_id, services)
    cluster_id = cluster.id  # ARM's spelling: compute names come from it, not from the event
    attachments = decision.attachments
    computes, owned, elsewhere = _computes(services, cluster_id, attachments, announced, discover)
    shown = [*computes.values(), *owned]
    departed = [] if discover else departed_computes(cluster_id, announced or {}, shown)
    workspace_ids = dict.fromkeys(
        [a.workspace_id for a in attachments] + [c.workspace_id for c in [*owned, *departed]]
    )
    workspaces = {w: services.workspaces.get_workspace(w) for w in workspace_ids}
    allowed = frozenset(policy.workspaces_for(cluster_id))

    to_attach = [a for a in attachments if _needs_attaching(a, computes)]
    uses_identity = any(w.user_assigned_identity is not None for w in workspaces.values())
    arc_relay_needed = uses_identity and cluster.exists and cluster.kind == "arc"
    route = namespace_route(policy, cluster) if attachments else None
    # Namespaces first (when the cluster itself is ready)
    namespaces, namespace_states, route_problem = _namespaces(
        services, cluster, attachments, to_attach, route, discover
    )
    # namespaces are made while the extension installs, so one there says nothing of it: the
    # extension is read while a compute is still to be attached
    unasked = list(to_attach)
    # on a sweep, an Arc cluster's extension names the relay a right may be left on
    arc_sweep = discover and cluster.exists and cluster.kind == "arc"
    looked_for = (discover or extension_changed) and attachments
    extension_read = bool(unasked or arc_relay_needed or arc_sweep or looked_for)
    extension = services.extensions.find_azureml(cluster_id) if extension_read else None
    # Azure Relay Owner goes only to the relay this cluster's extension names.
    relay = extension.relay if extension is not None and cluster.kind == "arc" else None

    named = _named_identities(services, workspaces)
    principals = _principals(services, [*computes.values(), *owned, *departed], workspaces, named)
    # an AKS cluster's Trusted Access asks more of a workspace identity before attach (and on a
    # sweep, of one already attached)
    trusted: frozenset[ResourceId] = frozenset()
    trusted_read = uses_identity and cluster.exists and cluster.kind == "aks"
    trusted_read = trusted_read and bool(to_attach or discover)
    if trusted_read:
        trusted = services.clusters.trusted_workspaces(cluster.id)
    for attachment in to_attach:  # a user-assigned compute identity to be: its roles matter
        if attachment.identity.resource_id is not None:
            identity = attachment.identity.resource_id
            principals.setdefault(identity.key, services.clusters.principal_of_identity(identity))
    observed = Observation(
        cluster=cluster,
        decision=decision,
        extension=extension,
        extension_read=extension_read,
        extension_policy=policy.extension,
        namespace_route=route,
        workspaces=workspaces,
        computes=computes,
        owned=tuple(owned),
        departed=tuple(departed),
        allowed_workspaces=allowed,
        namespaces=namespaces,
        namespace_states=namespace_states,
        route_problem=route_problem,
        principals=principals,
        relay=relay,
        attach_tries=attach_tries(announced or {}),
        departing=departing(announced or {}),
        trusted_access=trusted,
        trusted_access_read=trusted_read,
        named_identities=named,
    )
    leaving = [c for c in [*owned, *departed] if _leaving(observed, c)]
    fresh = new_principals(owned, leaving, announced)
    if discover:  # what identities never announced hold is read, but for those made just now
        fresh &= {principal.lower() for _scope, principal, _role in (grants or RunGrants()).granted}
    observed = _with(observed, new_principals=fresh)
    if leaving and not discover and any(c.user_assigned_identity for c in leaving):
        # a shared user-assigned identity may still serve computes on other clusters
        elsewhere = _all_elsewhere(services, cluster_id)
    observed = _with(
        observed, kept_elsewhere=_kept_elsewhere(services, [*owned, *departed], elsewhere)
    )
    if leaving or discover or lost_some(announced, computes, owned):
        observed = _with(observed, made_here=_made_here(services, cluster, relay))
    if not discover:
        observed = _as_announced(observed, leaving, announced or {})
    recorded = set() if discover else recorded_grants(announced, owned)
    observed = with_holdings(observed, services, memo, to_attach)
    return _with_granted(observed, grants_held(recorded, grants, observed.new_principals))


def _as_announced(
    observed: Observation, leaving: list[ComputeState], announced: Mapping[str, Mapping[str, Any]]
) -> Observation:
    """A compute announced attached in the shape the policy still wants, and Succeeded, held its
    roles when it was announced: on an event they are taken as held, unread (the sweep reads
    them). Computes that leave, or changed, are read."""
    holdings = dict(observed.role_holdings)
    ours = dict(observed.our_roles)
    for attachment in observed.decision.attachments:
        compute = observed.compute_for(attachment)
        workspace = observed.workspaces.get(attachment.workspace_id)
        if (
            compute is None
            or workspace is None
            or compute in leaving
            or compute.provisioning_state.lower() != SUCCEEDED
            or not announced_as_wanted(observed.cluster.id, attachment, announced)
        ):
            continue
        principal = principal_of(observed, compute)
        if not principal:
            continue
        for scope, role in data_roles(attachment, workspace):
            pair = (scope.key, principal)
            holdings[pair] = holdings.get(pair, frozenset()) | {role.value}
            ours[pair] = ours.get(pair, frozenset()) | {role.value}
    return _with(observed, role_holdings=holdings, our_roles=ours)


def _computes(
    services: Services,
    cluster_id: ResourceId,
    attachments: tuple[Attachment, ...],
    announced: Mapping[str, Mapping[str, Any]] | None,
    discover: bool,
) -> tuple[dict[tuple[ResourceId, str], ComputeState], list[ComputeState], list[ComputeState]]:
    """(computes by the names policy wants, autoattach's computes for this cluster, autoattach's
    computes on other clusters: known only when ``discover`` lists the workspaces)."""
    wanted = {compute_key(a.workspace_id, a.compute_name): a for a in attachments}
    computes: dict[tuple[ResourceId, str], ComputeState] = {}
    found: dict[tuple[ResourceId, str], ComputeState] = {}
    elsewhere: list[ComputeState] = []
    if discover:
        for workspace_id in dict.fromkeys(r.workspace_id for r in services.policy.workspaces):
            for listed in services.workspaces.list_computes(workspace_id):
                compute = with_ledger_claim(listed, announced)
                key = compute_key(compute.workspace_id, compute.name)
                if key in wanted:
                    computes[key] = compute
                if compute.managed_by_autoattach and compute.cluster_id == cluster_id:
                    found[key] = compute
                elif compute.managed_by_autoattach or compute.legacy_claim:
                    elsewhere.append(compute)  # its roles are kept: claimed is enough for that
    else:
        for key, attachment in wanted.items():
            named = services.workspaces.get_compute(attachment.workspace_id, key[1])
            if named is not None:
                named = with_ledger_claim(named, announced)
                computes[key] = named
                if named.managed_by_autoattach and named.cluster_id == cluster_id:
                    found[key] = named
    for workspace_id, name in announced_computes(announced or {}):
        key = compute_key(workspace_id, name)
        if key in found or key in computes:
            continue
        known = services.workspaces.get_compute(workspace_id, name)
        known = with_ledger_claim(known, announced) if known is not None else None
        if known is not None and known.managed_by_autoattach and known.cluster_id == cluster_id:
            found[key] = known
    return computes, list(found.values()), elsewhere


def namespace_route(policy: AttachPolicy, cluster: ClusterState) -> NamespaceRoute | None:
    """How namespaces are made on the cluster; a Kubernetes-API route carries where ARM says
    the cluster's API server is, so a kubeconfig reaching another one is refused."""
    route = policy.namespace_route(cluster.id, cluster.azure_rbac)
    if route is None or route.kubeconfig_secret is None:
        return route
    return replace(route, api_server_hosts=cluster.api_server_hosts)


def _needs_attaching(
    attachment: Attachment, computes: Mapping[tuple[ResourceId, str], ComputeState]
) -> bool:
    """No compute yet, or one that is not settled as policy wants it (failed, replaced)."""
    compute = computes.get(compute_key(attachment.workspace_id, attachment.compute_name))
    if compute is None:
        return True
    state = compute.provisioning_state.lower()
    if not compute.managed_by_autoattach:
        return False  # a conflict: nothing to attach
    return state in FAILED_STATES or compute.namespace != attachment.namespace


def _namespaces(
    services: Services,
    cluster: ClusterState,
    attachments: tuple[Attachment, ...],
    to_attach: list[Attachment],
    route: Any,
    discover: bool,
) -> tuple[frozenset[str], dict[str, str], str | None]:
    """The namespaces that are ready, of those the attachments use, and the state of the others
    ARM shows. A namespace under a compute that already exists is taken as there, except on a
    sweep; the rest are read once the cluster itself is ready (provisioned, Arc connected).
    Last, why the route cannot be used for this cluster (its kubeconfig reaches another)."""
    if route is None:
        return frozenset(), {}, None
    ready = readiness(cluster, None, extension_read=False) is None
    check = attachments if discover else to_attach
    present = {a.namespace for a in attachments} - {a.namespace for a in check}
    others: dict[str, str] = {}
    if ready:
        wanted = list(dict.fromkeys(a.namespace for a in check))
        try:
            states = services.namespaces.states(cluster.id, wanted, route) if wanted else {}
        except PermanentError as error:
            if error.reason not in WRONG_CLUSTER_REASONS:
                raise
            return frozenset(present), others, str(error)  # owners hear it, as a problem
        for ns in wanted:
            state = states.get(ns)
            if state == SUCCEEDED:
                present.add(ns)
            elif state is not None:
                others[ns] = state
    return frozenset(present), others, None


def _leaving(observed: Observation, compute: ComputeState) -> bool:
    wanted = {compute_key(a.workspace_id, a.compute_name): a for a in observed.decision.attachments}
    attachment = wanted.get(compute_key(compute.workspace_id, compute.name))
    return release_reason(observed, compute, attachment) is not None


def _all_elsewhere(services: Services, cluster_id: ResourceId) -> list[ComputeState]:
    """autoattach's computes on other clusters, in every workspace of the policy."""
    found = []
    for workspace_id in dict.fromkeys(r.workspace_id for r in services.policy.workspaces):
        for compute in services.workspaces.list_computes(workspace_id):
            claimed = compute.managed_by_autoattach or compute.legacy_claim  # roles kept for it
            if claimed and compute.cluster_id != cluster_id:
                found.append(compute)
    return found


def _kept_elsewhere(
    services: Services, owned: list[ComputeState], elsewhere: list[ComputeState]
) -> frozenset[tuple[str, str, str]]:
    """The data roles that autoattach's computes on other clusters still need, for the
    identities this cluster's computes share with them (a user-assigned identity can serve many
    computes). Only these could be revoked here, so only these are looked at."""
    shared_identities = {
        c.user_assigned_identity for c in owned if c.user_assigned_identity is not None
    }
    kept: set[tuple[str, str, str]] = set()
    for compute in elsewhere:
        if compute.provisioning_state.lower() in FAILED_STATES | {"deleting"}:
            continue  # failed, or being detached: it needs nothing any more
        if compute.user_assigned_identity not in shared_identities:
            continue
        rule = services.policy.rule_for(compute.workspace_id)
        if rule is None or compute.cluster_id is None or not rule.allows(compute.cluster_id):
            continue  # leaving as well: its own cluster's reconcile releases it
        assert compute.user_assigned_identity is not None
        principal = services.clusters.principal_of_identity(compute.user_assigned_identity)
        workspace = services.workspaces.get_workspace(compute.workspace_id)
        if workspace.container_registry is not None:
            kept.add((workspace.container_registry.key, Role.ACR_PULL.value, principal.lower()))
        if workspace.storage_account is not None:
            role = storage_role(rule.storage_access)
            kept.add((workspace.storage_account.key, role.value, principal.lower()))
    return frozenset(kept)


def _made_here(
    services: Services, cluster: ClusterState, relay: ResourceId | None
) -> tuple[MadeAssignment, ...]:
    """autoattach's own assignments of cluster rights here (and on the relay), whoever holds them:
    a run that stopped half-way may have left them for a workspace no compute serves any more."""
    if not cluster.exists:
        return ()
    made = [m for m in services.roles.made_at(cluster.id) if m.role in CLUSTER_RIGHTS]
    if relay is not None:
        made += [m for m in services.roles.made_at(relay) if m.role is Role.AZURE_RELAY_OWNER]
    return tuple(made)


def _named_identities(
    services: Services, workspaces: Mapping[ResourceId, WorkspaceState]
) -> dict[ResourceId, ResourceId | None]:
    """The user-assigned identity the attach policy names for each workspace (None: none)."""
    named: dict[ResourceId, ResourceId | None] = {}
    for workspace_id in workspaces:
        rule = services.policy.rule_for(workspace_id)
        named[workspace_id] = rule.workspace_identity if rule is not None else None
    return named


def _principals(
    services: Services,
    computes: list[ComputeState],
    workspaces: dict[ResourceId, WorkspaceState],
    named: Mapping[ResourceId, ResourceId | None] | None = None,
) -> dict[str, str]:
    identities: list[ResourceId] = [
        c.user_assigned_identity
        for c in computes
        if c.identity_type is IdentityType.USER_ASSIGNED and c.user_assigned_identity is not None
    ]
    principals = {
        w.user_assigned_identity.key: principal
        for w in workspaces.values()
        if w.user_assigned_identity and (principal := workspace_principal(services, w))
    }
    # the identities the policy names for workspaces that now run on another: their rights stay
    for workspace_id, identity in (named or {}).items():
        workspace = workspaces.get(workspace_id)
        if identity is not None and workspace is not None and workspace.user_assigned_identity:
            identities.append(identity)
    for identity in dict.fromkeys(identities):
        if identity.key not in principals:
            principals[identity.key] = services.clusters.principal_of_identity(identity)
    return principals


def workspace_principal(services: Services, workspace: WorkspaceState) -> str:
    """The principal of the workspace's user-assigned identity ("" without one): as the
    workspace's answer named it, else read from the identity."""
    if workspace.user_assigned_identity is None:
        return ""
    return workspace.user_assigned_principal or services.clusters.principal_of_identity(
        workspace.user_assigned_identity
    )


def with_holdings(
    observed: Observation,
    services: Services,
    memo: Memo,
    to_attach: Iterable[Attachment] = (),
) -> Observation:
    """Which roles each relevant principal holds at each relevant scope: one assignment list per
    principal and subscription. A system-assigned principal Azure made for autoattach's attach
    and never announced holds only what autoattach granted it: no read for it (the caller adds
    those grants)."""
    pairs: dict[tuple[str, str], ResourceId] = {}
    for compute in [*observed.computes.values(), *observed.owned, *observed.departed]:
        workspace = observed.workspaces.get(compute.workspace_id)
        principal = principal_of(observed, compute)
        if workspace is None or not principal or principal.lower() in observed.new_principals:
            continue
        for scope in (workspace.container_registry, workspace.storage_account):
            if scope is not None:
                pairs[(scope.key, principal)] = scope
    for attachment in to_attach:
        workspace = observed.workspaces.get(attachment.workspace_id)
        identity = attachment.identity.resource_id
        principal = observed.principals.get(identity.key) if identity else None
        if workspace is not None and principal:
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
    role_holdings = dict(observed.role_holdings)
    our_roles = dict(observed.our_roles)
    for (scope_key, principal), scope in pairs.items():
        if (scope_key, principal) in role_holdings:
            continue
        memo_key = (principal.lower(), scope.subscription.lower())
        if memo_key not in memo.assignments:
            memo.assignments[memo_key] = services.roles.of_principal(principal, scope.subscription)
        held = holdings(memo.assignments[memo_key], scope)
        role_holdings[(scope_key, principal)] = held.roles
        our_roles[(scope_key, principal)] = held.ours
    return _with(observed, role_holdings=role_holdings, our_roles=our_roles)


def with_attach_errors(observed: Observation, errors: Mapping[str, str]) -> Observation:
    """The observation with the errors of the attaches a re-check found failed (by compute id
    key): the reason the owners are told, where the compute itself does not say it."""
    return (
        _with(observed, attach_errors={**observed.attach_errors, **errors}) if errors else observed
    )


def _with(observed: Observation, **changes: Any) -> Observation:
    return Observation(**{**observed.__dict__, **changes})


def observe_continued(
    continued: Continuation,
    services: Services,
    memo: Memo,
    announced: Mapping[str, Mapping[str, Any]],
) -> Observation:
    """The observation a re-check goes on from, once the writes its reconcile waited for are
    done: what that reconcile saw, with those writes' results. A compute it attached is as the
    attach's answer showed it, or read when that answer did not name its new principal; nothing
    else is read (what the ledger records granted to new identities is taken as held)."""
    policy = services.policy
    cluster = continued.cluster
    decision = decide_attachments(cluster.id, cluster.tags, services.tag_key, policy)
    made = {p.name.lower() for p in continued.pending if p.kind == COMPUTE}
    computes: dict[tuple[ResourceId, str], ComputeState] = {}
    for compute in continued.computes:
        if compute.id.key in made:
            fresh = attached_as_answered(compute) or services.workspaces.get_compute(
                compute.workspace_id, compute.name
            )
            if fresh is None:
                continue
            compute = fresh
        computes[compute_key(compute.workspace_id, compute.name)] = compute
    owned = [c for c in computes.values() if c.managed_by_autoattach and c.cluster_id == cluster.id]
    namespaces = set(continued.namespaces)
    namespaces |= {p.name for p in continued.pending if p.kind == NAMESPACE}
    workspace_ids = dict.fromkeys(
        [a.workspace_id for a in decision.attachments] + [c.workspace_id for c in owned]
    )
    workspaces = {w: services.workspaces.get_workspace(w) for w in workspace_ids}
    to_attach = [a for a in decision.attachments if _needs_attaching(a, computes)]
    named = _named_identities(services, workspaces)
    principals = _principals(services, list(computes.values()), workspaces, named)
    observed = Observation(
        cluster=cluster,
        decision=decision,
        extension_read=False,
        extension_policy=policy.extension,
        namespace_route=namespace_route(policy, cluster),
        workspaces=workspaces,
        computes=computes,
        owned=tuple(owned),
        allowed_workspaces=frozenset(policy.workspaces_for(cluster.id)),
        namespaces=frozenset(namespaces),
        principals=principals,
        relay=continued.relay,
        new_principals=new_principals(owned, [], announced),
        attach_tries=attach_tries(announced),
        departing=departing(announced),
        named_identities=named,
    )
    observed = with_holdings(_as_announced(observed, [], announced), services, memo, to_attach)
    recorded = recorded_grants(announced, owned)
    return _with_granted(observed, grants_held(recorded, None, observed.new_principals))


def _with_granted(observed: Observation, granted: Iterable[Grant]) -> Observation:
    """Roles autoattach granted to new identities (the ledger records them, or this reconcile
    granted them): held, and autoattach's."""
    holdings = dict(observed.role_holdings)
    ours = dict(observed.our_roles)
    for scope, principal, role in granted:
        pair = (scope, principal)
        holdings[pair] = holdings.get(pair, frozenset()) | {role}
        ours[pair] = ours.get(pair, frozenset()) | {role}
    return _with(observed, role_holdings=holdings, our_roles=ours)
