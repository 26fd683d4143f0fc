"""The small interfaces reconcile needs; real adapters and doubles both fit them."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from shared.adapters.dead_letters import DeadLetter
from shared.adapters.notifications import Notification
from shared.adapters.roles import HeldRoles, MadeAssignment
from shared.arm_id import ResourceId
from shared.model import (
    Attachment,
    ClusterState,
    ComputeState,
    ExtensionPolicy,
    ExtensionState,
    NamespaceRoute,
    Role,
    WorkspaceState,
)
from shared.policy import AttachPolicy


class Clusters(Protocol):
    def get(self, cluster_id: ResourceId) -> ClusterState: ...
    def tagged(self, subscription_id: str, tag_key: str) -> list[ResourceId]: ...
    def principal_of_identity(self, identity_id: ResourceId) -> str: ...


class Extensions(Protocol):
    def find_azureml(self, cluster_id: ResourceId) -> ExtensionState | None: ...
    def install(self, cluster_id: ResourceId, policy: ExtensionPolicy) -> None: ...


class Namespaces(Protocol):
    def exists(self, cluster_id: ResourceId, namespace: str, route: NamespaceRoute) -> bool: ...
    def create(
        self, cluster_id: ResourceId, namespace: str, route: NamespaceRoute, location: str
    ) -> None: ...


class Workspaces(Protocol):
    def get_workspace(self, workspace_id: ResourceId) -> WorkspaceState: ...
    def list_computes(self, workspace_id: ResourceId) -> list[ComputeState]: ...
    def get_compute(self, workspace_id: ResourceId, name: str) -> ComputeState | None: ...
    def attach(self, attachment: Attachment, cluster_id: ResourceId) -> ComputeState: ...
    def detach(self, workspace_id: ResourceId, name: str) -> None: ...


class RoleAssignments(Protocol):
    def held(self, scope: ResourceId, principal_id: str) -> HeldRoles: ...
    def grant(self, scope: ResourceId, role: Role, principal_id: str) -> None: ...
    def revoke(self, scope: ResourceId, role: Role, principal_id: str) -> None: ...
    def made_in(self, subscription_id: str) -> list[MadeAssignment]: ...


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


class DeadLetterQueues(Protocol):
    def peek(self, queue: str) -> list[DeadLetter]: ...
    def replay(self, queue: str, message_ids: Iterable[str] | None) -> list[str]: ...


class ClusterLease(Protocol):
    """The held lease on one cluster's ledger entry."""

    def renew(self) -> None: ...


class ClusterLedger(Protocol):
    """Per-cluster lease and the notices already announced (shared.adapters.ledger).

    ``lease`` serializes work on one cluster across threads and instances; it raises
    ``ClusterBusy`` while another holder has it. ``announced`` and ``record`` read and replace the
    announced set (notice id -> small record) and need the lease held by the caller: a lease lost
    meanwhile makes them fail as a TransientError.
    """

    def lease(self, cluster_id: ResourceId) -> AbstractContextManager[ClusterLease]: ...
    def announced(self, cluster_id: ResourceId) -> dict[str, dict[str, Any]]: ...
    def record(self, cluster_id: ResourceId, entries: dict[str, dict[str, Any]]) -> None: ...


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
