"""The small interfaces reconcile needs; real adapters and doubles both fit them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.adapters.dead_letters import DeadLetter, Replayed
from shared.adapters.ledger import LedgerView
from shared.adapters.operations import OperationStatus
from shared.adapters.roles import Assignment, MadeAssignment
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import (
    Attachment,
    ClusterState,
    ComputeState,
    ExtensionPolicy,
    ExtensionState,
    NamespaceRoute,
    Role,
    WorkspaceState,
)
from shared.decisions.notices import Notification
from shared.decisions.policy import AttachPolicy


class Clusters(Protocol):
    def get(self, cluster_id: ResourceId) -> ClusterState: ...
    def tagged(self, subscription_id: str, tag_key: str) -> Iterable[ResourceId]: ...
    def principal_of_identity(self, identity_id: ResourceId) -> str: ...
    def trusted_workspaces(self, cluster_id: ResourceId) -> frozenset[ResourceId]: ...


class Extensions(Protocol):
    def find_azureml(self, cluster_id: ResourceId) -> ExtensionState | None: ...
    def install(self, cluster_id: ResourceId, policy: ExtensionPolicy) -> None: ...


class Namespaces(Protocol):
    def state(
        self, cluster_id: ResourceId, namespace: str, route: NamespaceRoute
    ) -> str | None: ...
    def states(
        self, cluster_id: ResourceId, namespaces: list[str], route: NamespaceRoute
    ) -> dict[str, str | None]: ...
    def create(
        self,
        cluster_id: ResourceId,
        namespace: str,
        route: NamespaceRoute,
        location: str,
        before: str | None = None,
    ) -> None: ...


class Workspaces(Protocol):
    def get_workspace(self, workspace_id: ResourceId) -> WorkspaceState: ...
    def list_computes(self, workspace_id: ResourceId) -> list[ComputeState]: ...
    def get_compute(self, workspace_id: ResourceId, name: str) -> ComputeState | None: ...
    def attach(self, attachment: Attachment, cluster_id: ResourceId) -> ComputeState: ...
    def detach(self, workspace_id: ResourceId, name: str) -> None: ...


class RoleAssignments(Protocol):
    def of_principal(self, principal_id: str, subscription_id: str) -> list[Assignment]: ...
    def made_at(self, scope: ResourceId) -> list[MadeAssignment]: ...
    def grant(self, scope: ResourceId, role: Role, principal_id: str) -> None: ...
    def revoke(self, scope: ResourceId, role: Role, principal_id: str) -> None: ...
    def made_in(self, subscription_id: str) -> list[MadeAssignment]: ...


class Operations(Protocol):
    def status(self, url: str) -> OperationStatus: ...


class Notifier(Protocol):
    def publish(self, notifications: list[Notification]) -> None: ...


class RecheckScheduler(Protocol):
    def schedule(
        self,
        queue: str,
        body: bytes,
        *,
        message_id: str,
        attempt: int,
        delay_seconds: float,
        chain: str | None = None,
    ) -> None: ...
    def schedule_all(
        self, queue: str, messages: Iterable[tuple[bytes, str]], *, delay_seconds: float
    ) -> int: ...
    def now(self) -> datetime: ...


class DeadLetterQueues(Protocol):
    """shared.adapters.dead_letters.ServiceBusDeadLetters (over Azure or the queue double)."""

    def now(self) -> datetime: ...
    def peek(self, queue: str) -> list[DeadLetter]: ...
    def replay(
        self,
        queue: str,
        letters: Sequence[DeadLetter],
        on_each: Callable[[Replayed], None] | None = None,
    ) -> list[Replayed]: ...


class ClusterLease(Protocol):
    """The held lease on one cluster's ledger entry."""

    def renew(self) -> None: ...


class ClusterLedger(Protocol):
    """Per-cluster lease and the notices already announced (shared.adapters.ledger).

    ``lease`` serializes work on one cluster across threads and instances; it raises
    ``ClusterBusy`` while another holder has it. ``announced`` and ``record`` read and replace the
    announced set (notice id -> small record) and need the lease held by the caller: a lease lost
    meanwhile makes them fail as a TransientError. ``record_outcome`` keeps what became of the
    last message about the cluster, under the lease too; ``view`` reads the ledger without the
    lease, for people (``autoattach status``), never to decide anything. ``continuation`` (read
    with ``announced``) and ``keep_continuation`` hold what the last reconcile saw and the writes
    it waits for, so its re-check polls them instead of reading everything again. ``check``
    raises ``LeaseLost`` once the caller's lease is lost (taken over, broken, not renewed in
    time): reconcile calls it before each write, so a handler that lost it writes nothing more.
    ``chain`` and ``keep_chain`` hold the cluster's live re-check chain (its id and when its next
    re-check is due), so that a new event for a cluster already waiting joins that chain instead
    of starting another (shared.engine.handling). ``last_outcome`` is what ``record_outcome``
    kept, read under the lease: an extension event for a cluster last read untagged reads nothing.
    """

    def lease(self, cluster_id: ResourceId) -> AbstractContextManager[ClusterLease]: ...
    def announced(self, cluster_id: ResourceId) -> dict[str, dict[str, Any]]: ...
    def record(self, cluster_id: ResourceId, entries: dict[str, dict[str, Any]]) -> None: ...
    def record_outcome(self, cluster_id: ResourceId, outcome: dict[str, Any]) -> None: ...
    def view(self, cluster_id: ResourceId) -> LedgerView: ...
    def continuation(self, cluster_id: ResourceId) -> dict[str, Any] | None: ...
    def keep_continuation(self, cluster_id: ResourceId, state: dict[str, Any] | None) -> None: ...
    def check(self, cluster_id: ResourceId) -> None: ...
    def chain(self, cluster_id: ResourceId) -> dict[str, Any] | None: ...
    def keep_chain(self, cluster_id: ResourceId, chain: dict[str, Any] | None) -> None: ...
    def last_outcome(self, cluster_id: ResourceId) -> dict[str, Any] | None: ...


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
    ledger: ClusterLedger
    operations: Operations
