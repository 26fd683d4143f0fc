"""Reconcile one cluster: observe Azure, plan purely, apply through adapters, notify owners.

Plans repeat until the plan is empty, because what a step creates (a compute's identity) is
what the next step needs (its role assignments); between them the observation is carried
forward from the writes' answers (shared.engine.progress), and read again only after writes whose
outcome Azure decides (installs, detaches, revokes). Nothing here waits on Azure: when the cluster
is not ready the result says so and the caller schedules a re-check.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from shared.adapters.operations import OperationStatus
from shared.decisions import notices
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import (
    AutoattachError,
    TransientError,
)
from shared.decisions.model import SUCCEEDED, ClusterState
from shared.decisions.planner import (
    Observation,
    Plan,
    Problem,
    extension_failed,
    in_progress,
    plan,
)
from shared.decisions.policy import TagDecision, decide_attachments
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
from shared.engine.ledger_record import RunGrants
from shared.engine.observe import (
    Memo,
    observe,
    observe_cluster,
    observe_continued,
    with_attach_errors,
)
from shared.engine.progress import carried
from shared.engine.run import ReconcileResult, Run
from shared.ports import Services

log = logging.getLogger("autoattach.reconcile")

MAX_ROUNDS = 6
# The soonest a re-check polls a namespace autoattach asked ARM for, whatever Retry-After ARM
# gives (a hint of when to look, not of when it is done): as long as azure-core's ARM poller
# waits without one, and about what a managed namespace takes, so that one poll usually finds it
# made (an attach waits for its namespace: Azure ML neither makes nor checks it, and its jobs fail
# without it: azure-facts.md).
OPERATION_POLL_SECONDS = 30.0


def reconcile(
    cluster_id: ResourceId,
    services: Services,
    *,
    discover: bool = False,
    continuing: bool = False,
    extension_changed: bool = False,
) -> ReconcileResult:
    """Converge one cluster, then tell owners what Azure now shows and they were not yet told.
    Raises TransientError for the caller to retry later. The caller holds the cluster's lease.

    ``discover`` (the sweep) reads everything, listing every workspace of the policy; an event
    reads what it needs, and nothing more when the cluster's ledger shows it converged as its
    tag asks (drift since is the sweep's to find). ``continuing`` (a re-check) goes on from what
    the last reconcile left in the ledger when it waited only for its own writes: it polls them
    (shared.engine.continuation). ``extension_changed`` (an extension's event): a cluster the
    ledger shows converged has its Azure ML extension read too, and is looked at whole unless the
    extension is there and Succeeded, so that owners hear of an extension that failed, is being
    updated or went at its own event, not at the next sweep."""
    result = ReconcileResult(cluster_id)
    run = Run(services, result)
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
        settled = not discover and notices.settled(seen[0], seen[1], announced)
        if settled and (not extension_changed or _extension_succeeded(cluster_id, services)):
            result.settled = True
            return result

    def look(
        memo: Memo, seen: tuple[ClusterState, TagDecision] | None, grants: RunGrants | None = None
    ) -> Observation:
        """Everything this reconcile reads, the operations' errors a re-check polled with it."""
        observed = observe(
            cluster_id,
            services,
            memo,
            announced,
            discover=discover,
            seen=seen,
            grants=grants,
            extension_changed=extension_changed,
        )
        return with_attach_errors(observed, failures)

    observed: Observation | None = None
    current: Plan | None = None
    waiting = False
    try:
        if continued is None:
            observed = look(memo, seen)
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
                following = look(Memo(), observe_cluster(cluster_id, services), run.grants)
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


def _extension_succeeded(cluster_id: ResourceId, services: Services) -> bool:
    """The cluster's Azure ML extension is there and Succeeded (one read)."""
    extension = services.extensions.find_azureml(cluster_id)
    return extension is not None and extension.provisioning_state.lower() == SUCCEEDED


def _recheck_hint(result: ReconcileResult, run: Run, observed: Observation) -> float | None:
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
        result.waiting = (
            f"the Azure ML extension is still installing (or updating): extension {names}"
        )
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
