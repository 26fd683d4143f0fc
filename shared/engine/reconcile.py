"""Reconcile one cluster: observe Azure, plan purely, apply through adapters, notify owners.

Plans repeat until the plan is empty, because what a step creates (a compute's identity) is
what the next step needs (its role assignments); between them the observation is carried
forward from the writes' answers (shared.engine.progress), and read again only after writes whose
outcome Azure decides (installs, detaches, revokes). Nothing here waits on Azure: when the cluster
is not ready the result says so and the caller schedules a re-check.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from shared.adapters.operations import OperationStatus
from shared.decisions import notices
from shared.decisions.arm_id import ResourceId
from shared.decisions.departures import departure
from shared.decisions.errors import (
    AutoattachError,
    FailedForNow,
    PermanentError,
    StillRunning,
    TransientError,
)
from shared.decisions.model import (
    SUCCEEDED,
    Attachment,
    ClusterState,
    ComputeState,
    IdentityType,
)
from shared.decisions.notices import Notification, Record
from shared.decisions.planner import (
    Action,
    AttachCompute,
    CreateNamespace,
    DetachCompute,
    GrantRole,
    InstallExtension,
    Observation,
    Plan,
    Problem,
    RevokeRole,
    extension_failed,
    in_progress,
    plan,
)
from shared.decisions.policy import TagDecision, decide_attachments
from shared.decisions.wording import action_words
from shared.engine.continuation import (
    COMPUTE,
    EXTENSION,
    NAMESPACE,
    Continuation,
    Pending,
    capture,
    installing,
    restore,
    settled,
)
from shared.engine.ledger_record import RunGrants, with_grants
from shared.engine.observe import (
    Memo,
    observe,
    observe_cluster,
    observe_continued,
    with_attach_errors,
)
from shared.engine.progress import Applied, carried
from shared.ports import Services

log = logging.getLogger("autoattach.reconcile")

MAX_ROUNDS = 6
# Writes to one compute in one reconcile: a replace is a detach and an attach. A compute written
# more often is flapping (two wanted computes on one name, or something the plan cannot see):
# autoattach stops writing it and tells the owners, instead of writing it at every round and look.
MAX_COMPUTE_WRITES = 2
# The soonest a re-check polls a namespace autoattach asked ARM for, whatever Retry-After ARM
# gives (a hint of when to look, not of when it is done): as long as azure-core's ARM poller
# waits without one, and about what a managed namespace takes, so that one poll usually finds it
# made (an attach waits for its namespace: Azure ML neither makes nor checks it, and its jobs fail
# without it: azure-facts.md).
OPERATION_POLL_SECONDS = 30.0
PREREQUISITE_HINT = (
    "without it Azure answers attach with 'extension not installed' or 'internal server error'"
)


@dataclass
class ReconcileResult:
    cluster_id: ResourceId
    waiting: str | None = None
    applied: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused: tuple[str, ...] = ()
    attachments: int = 0
    notifications: list[Notification] = field(default_factory=list)
    retry_after: float | None = None  # the longest Retry-After of a problem worth re-checking
    settled: bool = False  # the ledger shows it converged as the tag asks: nothing was read
    installing: bool = False  # what it waits for first is the Azure ML extension's install
    attach_tries: int = 0  # the most tries of a Failed compute this run detached to try again

    @property
    def only_rechecks(self) -> bool:
        """Every problem is one that asking Azure again may mend."""
        return all(problem.recheck for problem in self.problems)

    def summary(self) -> str:
        if self.waiting:
            return f"waiting: {self.waiting}"
        if not self.applied and not self.refused and not self.problems and not self.attachments:
            return "nothing to do: the cluster is not tagged for any workspace, or is gone"
        parts = [f"{len(self.applied)} change(s)" if self.applied else "already converged"]
        if self.settled:
            parts = ["already converged, as last announced (the sweep checks for drift)"]
        if self.refused:
            parts.append(f"tag entries not allowed by policy: {', '.join(self.refused)}")
        if self.problems:
            parts.append("; ".join(p.message for p in self.problems))
        return "; ".join(parts)


def reconcile(
    cluster_id: ResourceId,
    services: Services,
    *,
    discover: bool = False,
    continuing: bool = False,
) -> ReconcileResult:
    """Converge one cluster, then tell owners what Azure now shows and they were not yet told.
    Raises TransientError for the caller to retry later. The caller holds the cluster's lease.

    ``discover`` (the sweep) reads everything, listing every workspace of the policy; an event
    reads what it needs, and nothing more when the cluster's ledger shows it converged as its
    tag asks (drift since is the sweep's to find). ``continuing`` (a re-check) goes on from what
    the last reconcile left in the ledger when it waited only for its own writes: it polls them
    (shared.engine.continuation)."""
    result = ReconcileResult(cluster_id)
    run = _Run(services, result)
    memo = Memo()
    announced = services.ledger.announced(cluster_id)
    run.announced = announced
    kept = services.ledger.continuation(cluster_id)
    continued = restore(kept) if kept and continuing and not discover else None
    failures: dict[str, str] = {}
    seen: tuple[ClusterState, TagDecision] | None = None
    if continued is not None:
        running = _still_running(continued, services, result, failures, kept)
        if running:
            return result
        if running is None:  # one failed: read everything, Azure says what became of it
            continued = None
        elif continued.reread_cluster:  # an event since said the cluster may have changed
            seen = observe_cluster(cluster_id, services)
            if _same_cluster(continued.cluster, seen[0], services):
                continued = replace(continued, cluster=seen[0], reread_cluster=False)
            else:
                continued = None
    if continued is None:
        seen = seen or observe_cluster(cluster_id, services)
        result.refused = seen[1].refused
        result.attachments = len(seen[1].attachments)
        if not discover and notices.settled(seen[0], seen[1], announced):
            result.settled = True
            return result
    observed: Observation | None = None
    current: Plan | None = None
    waiting = False
    try:
        if continued is None:
            observed = observe(cluster_id, services, memo, announced, discover=discover, seen=seen)
            observed = with_attach_errors(observed, failures)
        else:
            observed = observe_continued(continued, services, memo, announced)
            result.refused = observed.decision.refused
            result.attachments = len(observed.decision.attachments)
        for attachment, reason in observed.decision.collisions:
            run.problem(Problem(attachment, reason))
        for _round in range(MAX_ROUNDS):
            current = run.without_blocked(plan(observed), observed)
            applied = [run.apply(action, observed) for action in current.actions]
            if current.wait_reason is not None or run.running:
                result.waiting = current.wait_reason or run.running[0]
                waiting = True
                result.installing = installing(observed)
                result.retry_after = _recheck_hint(result, run, observed)
                return result
            if not current.actions:
                return result
            # actions not applied (blocked, refused) changed nothing
            following = carried(observed, [a for a in applied if a is not None])
            if following is None:  # Azure decides what remains: read it again
                memo, seen = Memo(), observe_cluster(cluster_id, services)
                following = observe(
                    cluster_id,
                    services,
                    memo,
                    announced,
                    discover=discover,
                    seen=seen,
                    grants=run.grants,
                )
                following = with_attach_errors(following, failures)
            observed = following
        raise TransientError(f"cluster {cluster_id.name} did not converge in {MAX_ROUNDS} rounds")
    finally:
        if observed is not None and current is not None:
            run.announce(observed, current, announced)
        state = capture(observed, run.pending) if waiting and observed is not None else None
        if kept is not None or state is not None:
            try:
                services.ledger.keep_continuation(cluster_id, state)
            except AutoattachError as error:  # the re-check reads everything instead
                log.warning("cluster %s: could not keep the continuation: %s", cluster_id, error)


def _recheck_hint(result: ReconcileResult, run: _Run, observed: Observation) -> float | None:
    """When the re-check should come, if sooner than the usual delay: a namespace being made
    sets it only when nothing else is awaited (an install, an attach, a workspace identity's
    fresh roles: the namespace is polled with them), and never sooner than
    OPERATION_POLL_SECONDS after it was asked for."""
    hint = result.retry_after or 0.0
    if run.fresh_identities:  # their attaches wait the re-check delay for the roles (apply)
        return hint or None
    if run.namespace_retry_after and not result.installing:
        attaching = any(in_progress(compute) for compute in observed.owned)
        if not attaching:
            hint = max(hint, run.namespace_retry_after, OPERATION_POLL_SECONDS)
    return hint or None


def _status(pending: Pending, continued: Continuation, services: Services) -> OperationStatus:
    """A pending write's status, or the extension's install read as one."""
    if pending.kind != EXTENSION:
        return services.operations.status(pending.url)
    extension = services.extensions.find_azureml(continued.cluster.id)
    if extension is None or extension_failed(extension):
        return OperationStatus("failed")  # read everything: the plan says what to do
    if extension.provisioning_state.lower() == SUCCEEDED:
        return OperationStatus("succeeded")
    return OperationStatus(extension.provisioning_state.lower() or "running")


def _same_cluster(seen: ClusterState, now: ClusterState, services: Services) -> bool:
    """What the cluster shows now asks for what it asked when seen, and is in the same state."""

    def asks(cluster: ClusterState) -> TagDecision:
        return decide_attachments(cluster.id, cluster.tags, services.tag_key, services.policy)

    return (
        now.exists
        and (now.provisioning_state, now.azure_rbac, now.connectivity_status, now.location)
        == (seen.provisioning_state, seen.azure_rbac, seen.connectivity_status, seen.location)
        and asks(now) == asks(seen)
    )


def _still_running(
    continued: Continuation,
    services: Services,
    result: ReconcileResult,
    failures: dict[str, str],
    kept: dict[str, Any] | None = None,
) -> bool | None:
    """Poll the writes the last reconcile waited for: True while one still runs (the result says
    so), False when all succeeded, None when one failed (an attach's error kept in
    ``failures``, by compute id key: the reason its owners are told)."""
    statuses = _statuses(continued, services)
    for pending, status in zip(continued.pending, statuses, strict=True):
        if pending.kind == COMPUTE and status.error:
            failures[pending.name.lower()] = status.error
    if any(not s.running and not s.succeeded for s in statuses):
        return None
    running = [(p, s) for p, s in zip(continued.pending, statuses, strict=True) if s.running]
    if not running:
        return False
    what = ", ".join(f"{p.kind} {p.name.rsplit('/', 1)[-1]}" for p, _s in running)
    result.waiting = f"Azure is still carrying out autoattach's writes: {what}"
    installs = [p for p, _s in running if p.kind == EXTENSION]
    if installs:
        names = ", ".join(p.name.rsplit("/", 1)[-1] for p in installs)
        result.waiting = f"the Azure ML extension is still installing: extension {names}"
        result.installing = True
    result.retry_after = max((s.retry_after or 0 for _p, s in running), default=0) or None
    decision = decide_attachments(
        continued.cluster.id, continued.cluster.tags, services.tag_key, services.policy
    )
    result.refused = decision.refused
    result.attachments = len(decision.attachments)
    done = [p for p, s in zip(continued.pending, statuses, strict=True) if s.succeeded]
    if kept is not None and any(p.kind in (NAMESPACE, EXTENSION) for p in done):
        # what is done is not polled again: a namespace made is one the cluster has
        _keep_quietly(services, continued.cluster.id, settled(kept, done))
    return True


# What an unpolled write counts as while the install it waits behind still runs.
_NOT_POLLED = OperationStatus("running")


def _statuses(continued: Continuation, services: Services) -> list[OperationStatus]:
    """Each pending write's status. While the Azure ML extension installs, the namespaces made
    meanwhile are not polled: nothing can use them before the install ends, so they are polled
    once, with it, when it is over (a namespace that failed is found then)."""
    extensions = {
        p: _status(p, continued, services) for p in continued.pending if p.kind == EXTENSION
    }
    install_running = any(s.running for s in extensions.values())
    return [
        extensions[p]
        if p.kind == EXTENSION
        else _NOT_POLLED
        if install_running and p.kind == NAMESPACE
        else _status(p, continued, services)
        for p in continued.pending
    ]


def _keep_quietly(services: Services, cluster_id: ResourceId, state: dict[str, Any]) -> None:
    try:
        services.ledger.keep_continuation(cluster_id, state)
    except AutoattachError as error:  # the next re-check polls them again
        log.warning("cluster %s: could not keep the continuation: %s", cluster_id, error)


class _Run:
    """The mutable part of one reconcile: what was done and what is blocked."""

    def __init__(self, services: Services, result: ReconcileResult) -> None:
        self.services = services
        self.result = result
        self.blocked: set[Attachment] = set()
        self.running: list[str] = []  # writes Azure accepted and is still carrying out
        self.pending: list[Pending] = []  # those of them a re-check can poll
        self.namespace_retry_after = 0.0  # when the namespaces made ask to be polled
        # workspaces whose identity this run granted its roles on the cluster: not attached now
        self.fresh_identities: set[ResourceId] = set()
        self.detach_reasons: dict[str, str] = {}
        self.compute_writes: Counter[tuple[str, str]] = Counter()
        self.stopped: set[tuple[str, str]] = set()  # computes that flapped: not written again
        self.retried: list[str] = []  # Failed computes detached to be attached again
        self.told: list[Notification] = []  # departures published before their detach
        self.announced: Record = {}  # the cluster's ledger record, as this run read it
        self.departures: Record = {}  # its entries recording a departure told by this run
        self.grants = RunGrants()  # roles granted to new identities (and revoked): recorded

    def problem(self, problem: Problem) -> None:
        if problem.attachment is not None:
            self.blocked.add(problem.attachment)
        if problem not in self.result.problems:
            self.result.problems.append(problem)

    def without_blocked(self, current: Plan, observed: Observation) -> Plan:
        """Record new problems; drop actions that only serve attachments needing a person."""
        for problem in current.problems:
            self.problem(problem)
        keep = [
            action
            for action in current.actions
            if (
                not (concerned := _attachments_of(action, observed))
                or not all(a in self.blocked for a in concerned)
            )
            and _compute_written(action) not in self.stopped
        ]
        held = [
            a
            for a in keep
            if isinstance(a, AttachCompute) and a.attachment.workspace_id in self.fresh_identities
        ]
        keep = [a for a in keep if a not in held]
        wait_reason = current.wait_reason
        if held and not keep and wait_reason is None:
            # Azure fails an attach until the workspace identity's new roles on the cluster
            # take effect (azure-facts.md): a re-check attaches, not this run, right after
            names = ", ".join(sorted({a.attachment.workspace_id.name for a in held}))
            wait_reason = (
                f"the roles just granted to the identity of workspace {names} on cluster "
                f"{self.result.cluster_id.name} take effect before the attach"
            )
        return Plan(tuple(keep), wait_reason, current.problems)

    def apply(self, action: Action, observed: Observation) -> Applied | None:
        """Carry out one action; what Azure answered, or None when it was not done."""
        concerned = _attachments_of(action, observed)
        if concerned and all(a in self.blocked for a in concerned):
            return None
        if self.flapping(action):
            return None
        # a handler that lost the cluster's lease writes nothing more (LeaseLost: re-checked)
        self.services.ledger.check(self.result.cluster_id)
        if isinstance(action, DetachCompute):
            self.tell_departure(action, observed)
        try:
            note, compute = _perform(action, self.services, observed)
        except StillRunning as error:
            # Azure is at it: the rest of the plan goes ahead, then the cluster waits for it
            self.running.append(str(error))
            if error.operation and isinstance(action, CreateNamespace):
                self.pending.append(Pending(NAMESPACE, action.namespace, error.operation))
                # polled when it is due, unless an install must end first (reconcile)
                self.namespace_retry_after = max(self.namespace_retry_after, error.retry_after or 0)
                return None
            self.pending.append(Pending("unknown", "", ""))  # nothing to poll: read again
            self.result.retry_after = max(self.result.retry_after or 0, error.retry_after or 0)
            return None
        except FailedForNow as error:
            if not concerned:
                raise
            for attachment in concerned:
                self.problem(Problem(attachment, str(error), recheck=True))
            self.result.retry_after = max(self.result.retry_after or 0, error.retry_after or 0)
            return None
        except PermanentError as error:
            message = str(error)
            if isinstance(action, GrantRole) and action.attachment is None:
                message = (
                    f"the identity of workspace {action.workspace_id.name} lacks "
                    f"{action.role.display_name} on {action.scope.name} and autoattach cannot "
                    f"grant it ({error}); {PREREQUISITE_HINT}"
                )
            if not concerned:
                raise
            for attachment in concerned:
                self.problem(Problem(attachment, message))
            return None
        log.info(note)
        self.result.applied.append(note)
        self.remember_grant(action)
        if isinstance(action, GrantRole) and action.attachment is None:
            self.fresh_identities.add(action.workspace_id)
        if isinstance(action, DetachCompute):
            self.detach_reasons[action.compute.id.key] = action.reason
            if action.retry:
                self.retried.append(action.compute.id.key)
                tries = observed.attach_tries.get(action.compute.id.key, 0) + 1
                self.result.attach_tries = max(self.result.attach_tries, tries)
        return Applied(action, compute)

    def remember_grant(self, action: Action) -> None:
        """A role granted to a compute's system-assigned identity is kept in the cluster's
        ledger record until the compute is announced (later looks take it as held, instead of
        asking Azure for it again); a role revoked leaves that record."""
        if isinstance(action, RevokeRole):
            self.grants.revoke(action.scope, action.principal_id, action.role.value)
        attachment = action.attachment if isinstance(action, GrantRole) else None
        if attachment is None or attachment.identity.type is not IdentityType.SYSTEM_ASSIGNED:
            return
        assert isinstance(action, GrantRole)
        compute_id = attachment.workspace_id.child("computes", attachment.compute_name)
        self.grants.grant(compute_id, action.scope, action.principal_id, action.role.value)

    def flapping(self, action: Action) -> bool:
        """True (and the owners are told) when this would write a compute once more than a
        reconcile may; else the write is counted."""
        written = _compute_written(action)
        if written is None:
            return False
        if self.compute_writes[written] < MAX_COMPUTE_WRITES:
            self.compute_writes[written] += 1
            return False
        self.stopped.add(written)
        assert isinstance(action, AttachCompute | DetachCompute)
        workspace_id, name = _compute_of(action)
        message = (
            f"compute {name} in workspace {workspace_id.name} was written "
            f"{self.compute_writes[written]} times in one look at cluster "
            f"{self.result.cluster_id.name} and still differs from what the attach policy asks: "
            "two computes the policy asks for may have the same name (names that differ only in "
            "case count as the same), or a person changes it; autoattach stops writing it until "
            "the next look"
        )
        attachment = action.attachment if isinstance(action, AttachCompute) else None
        self.problem(Problem(attachment, message, workspace_id=workspace_id))
        return True

    def tell_departure(self, action: DetachCompute, observed: Observation) -> None:
        """Owners are told a compute goes before it goes (a failed publish stops the detach:
        the cluster is re-checked): the ledger's record of what they were told may be lost,
        corrupted, stale or never written, and then nothing would tell them once it is gone."""
        told = departure(
            observed, action.compute, action.reason, {**self.announced, **self.departures}
        )
        if told is None:
            return
        if told.told or any(n.id == told.notice.id for n in self.told):
            self.departures[told.key] = told.as_told()
            return
        # its reason is recorded first: a copy published after this one fails gives the same
        self.departures[told.key] = told.entry
        self.services.notifier.publish([told.notice])
        self.told.append(told.notice)
        self.departures[told.key] = told.as_told()

    def announce(self, observed: Observation, current: Plan, announced: Record) -> None:
        """Publish what the owners were not told yet, then remember it (announced until
        published: a failure before the record is written announces again, same ids)."""
        self.services.ledger.check(self.result.cluster_id)  # the lease's holder tells, no other
        announcements = notices.derive(
            observed,
            current,
            announced,
            problems=self.result.problems,
            detach_reasons=self.detach_reasons,
            retried=self.retried,
            departures=self.departures,
        )
        self.services.notifier.publish(list(announcements.notices))
        self.result.notifications = [*self.told, *announcements.notices]
        shown = [*observed.computes.values(), *observed.owned]
        record = with_grants(announcements.record, self.grants, shown)
        if record != announced:
            self.services.ledger.record(self.result.cluster_id, record)


def _perform(
    action: Action, services: Services, observed: Observation
) -> tuple[str, ComputeState | None]:
    """Carry out one action through its adapter; return what was done, in words (and the
    compute an attach made, as Azure answered)."""
    cluster = observed.cluster
    compute: ComputeState | None = None
    if isinstance(action, CreateNamespace):
        services.namespaces.create(
            action.cluster_id, action.namespace, action.route, cluster.location, action.state
        )
    elif isinstance(action, InstallExtension):
        services.extensions.install(action.cluster_id, action.policy)
    elif isinstance(action, AttachCompute):
        compute = services.workspaces.attach(action.attachment, action.cluster_id)
    elif isinstance(action, GrantRole):
        services.roles.grant(action.scope, action.role, action.principal_id)
    elif isinstance(action, RevokeRole):
        services.roles.revoke(action.scope, action.role, action.principal_id)
    else:
        assert isinstance(action, DetachCompute)
        services.workspaces.detach(action.compute.workspace_id, action.compute.name)
    return action_words(action, cluster.id.name, done=True), compute


def _attachments_of(action: Action, observed: Observation) -> list[Attachment]:
    attachments = observed.decision.attachments
    if isinstance(action, CreateNamespace):
        return [a for a in attachments if a.namespace == action.namespace]
    if isinstance(action, InstallExtension):
        return list(attachments)
    if isinstance(action, AttachCompute):
        return [action.attachment]
    if isinstance(action, GrantRole):
        if action.attachment is not None:
            return [action.attachment]
        return [a for a in attachments if a.workspace_id == action.workspace_id]
    return []


def _compute_of(action: AttachCompute | DetachCompute) -> tuple[ResourceId, str]:
    if isinstance(action, AttachCompute):
        return action.attachment.workspace_id, action.attachment.compute_name
    return action.compute.workspace_id, action.compute.name


def _compute_written(action: Action) -> tuple[str, str] | None:
    """The compute an attach or detach writes, as Azure ML tells names apart; None otherwise."""
    if not isinstance(action, AttachCompute | DetachCompute):
        return None
    workspace_id, name = _compute_of(action)
    return (workspace_id.key, name.lower())
