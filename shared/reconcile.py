"""Reconcile one cluster: observe Azure, plan purely, apply through adapters, notify owners.

Rounds repeat until the plan is empty, because what a step creates (a compute's identity) is
what the next step needs (its role assignments). Nothing here waits on Azure: when the cluster
is not ready the result says so and the caller schedules a re-check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared.adapters.notifications import Notification
from shared.arm_id import ResourceId
from shared.errors import PermanentError, TransientError
from shared.model import Attachment
from shared.planner import (
    Action,
    AttachCompute,
    CreateNamespace,
    Observation,
    Plan,
    Problem,
    plan,
    readiness,
    required_roles,
)
from shared.policy import AttachPolicy, TagDecision, decide_attachments
from shared.ports import Clusters, Extensions, Namespaces, Notifier, RoleAssignments, Workspaces

log = logging.getLogger("autoattach.reconcile")

MAX_ROUNDS = 4
ATTACHED = "Autoattach.ComputeAttached"
ATTACH_FAILED = "Autoattach.AttachFailed"


@dataclass
class Services:
    """Everything reconcile talks to; built in one place (shared.wiring)."""

    policy: AttachPolicy
    tag_key: str
    clusters: Clusters
    extensions: Extensions
    namespaces: Namespaces
    workspaces: Workspaces
    roles: RoleAssignments
    notifier: Notifier


@dataclass
class ReconcileResult:
    cluster_id: ResourceId
    waiting: str | None = None
    applied: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused: tuple[str, ...] = ()
    attachments: int = 0
    notifications: list[Notification] = field(default_factory=list)

    def summary(self) -> str:
        if self.waiting:
            return f"waiting: {self.waiting}"
        if not self.applied and not self.refused and not self.problems and not self.attachments:
            return "nothing to do: the cluster is not tagged for any workspace, or is gone"
        parts = [f"{len(self.applied)} change(s)" if self.applied else "already converged"]
        if self.refused:
            parts.append(f"tag entries not allowed by policy: {', '.join(self.refused)}")
        if self.problems:
            parts.append("; ".join(p.message for p in self.problems))
        return "; ".join(parts)


def observe(cluster_id: ResourceId, services: Services) -> Observation:
    cluster = services.clusters.get(cluster_id)
    if not cluster.exists:
        return Observation(cluster=cluster, decision=TagDecision((), ()))
    decision = decide_attachments(cluster_id, cluster.tags, services.tag_key, services.policy)
    if not decision.attachments:
        return Observation(cluster=cluster, decision=decision)
    extension = services.extensions.find_azureml(cluster_id)
    if readiness(cluster, extension) is not None:
        return Observation(cluster=cluster, decision=decision, extension=extension)

    namespaces = frozenset(
        ns
        for ns in dict.fromkeys(a.namespace for a in decision.attachments)
        if services.namespaces.exists(cluster_id, ns)
    )
    workspace_ids = dict.fromkeys(a.workspace_id for a in decision.attachments)
    workspaces = {w: services.workspaces.get_workspace(w) for w in workspace_ids}
    computes = {}
    holdings: dict[tuple[str, str], frozenset[str]] = {}
    for attachment in decision.attachments:
        compute = services.workspaces.get_compute(attachment.workspace_id, attachment.compute_name)
        if compute is None:
            continue
        computes[(attachment.workspace_id, attachment.compute_name)] = compute
        if not compute.principal_id:
            continue
        for scope, _role in required_roles(attachment, workspaces[attachment.workspace_id], []):
            key = (scope.key, compute.principal_id)
            if key not in holdings:
                holdings[key] = services.roles.held(scope, compute.principal_id)
    return Observation(
        cluster=cluster,
        decision=decision,
        extension=extension,
        workspaces=workspaces,
        computes=computes,
        namespaces=namespaces,
        role_holdings=holdings,
    )


def reconcile(cluster_id: ResourceId, services: Services) -> ReconcileResult:
    """Converge one cluster. Raises TransientError for the caller to retry later."""
    result = ReconcileResult(cluster_id)
    blocked: set[Attachment] = set()
    touched: dict[Attachment, list[str]] = {}
    for _round in range(MAX_ROUNDS):
        observed = observe(cluster_id, services)
        result.refused = observed.decision.refused
        result.attachments = len(observed.decision.attachments)
        current = plan(observed)
        for problem in current.problems:
            if problem.attachment not in blocked:
                blocked.add(problem.attachment)
                result.problems.append(problem)
        current = _without_blocked(current, blocked, observed)
        if current.wait_reason is not None:
            result.waiting = current.wait_reason
            return result
        if not current.actions:
            result.notifications = _notifications(observed, touched, result.problems)
            services.notifier.publish(result.notifications)
            return result
        for action in current.actions:
            _apply(action, services, observed, result, blocked, touched)
    raise TransientError(f"cluster {cluster_id.name} did not converge in {MAX_ROUNDS} rounds")


def _apply(
    action: Action,
    services: Services,
    observed: Observation,
    result: ReconcileResult,
    blocked: set[Attachment],
    touched: dict[Attachment, list[str]],
) -> None:
    concerned = _attachments_of(action, observed)
    if concerned and all(a in blocked for a in concerned):
        return
    try:
        if isinstance(action, CreateNamespace):
            services.namespaces.create(
                action.cluster_id, action.namespace, observed.cluster.location
            )
            note = f"created namespace {action.namespace} on {action.cluster_id.name}"
        elif isinstance(action, AttachCompute):
            services.workspaces.attach(action.attachment, action.cluster_id)
            note = (
                f"attached {action.cluster_id.name} as compute {action.attachment.compute_name} "
                f"in workspace {action.attachment.workspace_id.name}"
            )
        else:
            services.roles.grant(action.scope, action.role, action.principal_id)
            role, scope = action.role.display_name, action.scope.name
            note = f"granted {role} on {scope} to {action.principal_id}"
    except PermanentError as error:
        for attachment in concerned:
            if attachment not in blocked:
                blocked.add(attachment)
                result.problems.append(Problem(attachment, str(error)))
        return
    log.info(note)
    result.applied.append(note)
    for attachment in concerned:
        touched.setdefault(attachment, []).append(note)


def _attachments_of(action: Action, observed: Observation) -> list[Attachment]:
    if isinstance(action, CreateNamespace):
        return [a for a in observed.decision.attachments if a.namespace == action.namespace]
    return [action.attachment]


def _without_blocked(current: Plan, blocked: set[Attachment], observed: Observation) -> Plan:
    """Drop actions that only serve attachments already found to need a person."""
    if not blocked:
        return current
    keep = [
        action
        for action in current.actions
        if not all(a in blocked for a in _attachments_of(action, observed))
    ]
    return Plan(tuple(keep), current.wait_reason, current.problems)


def _notifications(
    observed: Observation, touched: dict[Attachment, list[str]], problems: list[Problem]
) -> list[Notification]:
    out: list[Notification] = []
    for attachment, notes in touched.items():
        compute = observed.computes.get((attachment.workspace_id, attachment.compute_name))
        if compute is None or attachment in {p.attachment for p in problems}:
            continue
        out.append(
            Notification(
                type=ATTACHED,
                subject=f"{attachment.workspace_id.raw}/computes/{attachment.compute_name}",
                data={
                    "workspace": attachment.workspace_id.raw,
                    "compute": attachment.compute_name,
                    "cluster": observed.cluster.id.raw,
                    "namespace": attachment.namespace,
                    "identity_type": attachment.identity.type.value,
                    "principal_id": compute.principal_id,
                    "storage_access": attachment.storage_access.value,
                    "changes": notes,
                },
            )
        )
    for problem in problems:
        out.append(
            Notification(
                type=ATTACH_FAILED,
                subject=problem.attachment.workspace_id.raw,
                data={
                    "workspace": problem.attachment.workspace_id.raw,
                    "compute": problem.attachment.compute_name,
                    "cluster": observed.cluster.id.raw,
                    "problem": problem.message,
                },
            )
        )
    return out
