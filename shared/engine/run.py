"""One reconcile's run: carrying out the plan's actions through the adapters, and what they did.

``Run`` applies each action (skipping those that only serve attachments needing a person, and a
compute written more often than a reconcile may), keeps what Azure is still carrying out, tells
owners a compute goes before it goes, and announces what they were not told yet;
``ReconcileResult`` is what the reconcile of a cluster comes to (shared.engine.reconcile).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from shared.decisions import notices
from shared.decisions.arm_id import ResourceId
from shared.decisions.departures import departure
from shared.decisions.errors import (
    FailedForNow,
    PermanentError,
    StillRunning,
)
from shared.decisions.model import (
    Attachment,
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
)
from shared.decisions.wording import action_words
from shared.engine.continuation import (
    NAMESPACE,
    Pending,
)
from shared.engine.ledger_record import RunGrants, with_grants
from shared.engine.progress import Applied
from shared.ports import Services

log = logging.getLogger("autoattach.reconcile")

# Writes to one compute in one reconcile: a replace is a detach and an attach. A compute written
# more often is flapping (two wanted computes on one name, or something the plan cannot see):
# autoattach stops writing it and tells the owners, instead of writing it at every round and look.
MAX_COMPUTE_WRITES = 2
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
    def untagged(self) -> bool:
        """Nothing was asked of this cluster: no tag entry for any workspace (or the cluster is
        gone), and nothing of autoattach's was on it to undo."""
        return not (
            self.applied or self.refused or self.problems or self.attachments or self.waiting
        )

    @property
    def only_rechecks(self) -> bool:
        """Every problem is one that asking Azure again may mend."""
        return all(problem.recheck for problem in self.problems)

    def summary(self) -> str:
        if self.waiting:
            return f"waiting: {self.waiting}"
        if self.untagged:
            return "nothing to do: the cluster is not tagged for any workspace, or is gone"
        parts = [f"{len(self.applied)} change(s)"] if self.applied else []
        if not self.applied and not self.problems:
            parts = ["already converged"]
        if self.settled:
            parts = ["already converged, as last announced (the sweep checks for drift)"]
        if self.refused:
            parts.append(f"tag entries not allowed by policy: {', '.join(self.refused)}")
        # a problem several attachments share (a failed extension) is named once
        parts += dict.fromkeys(p.message for p in self.problems)
        return "; ".join(parts)


class Run:
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
