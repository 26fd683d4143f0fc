"""The small interfaces reconcile needs; real adapters and doubles both fit them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from shared.adapters.dead_letters import DeadLetter
from shared.adapters.notifications import Notification
from shared.adapters.roles import HeldRoles
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
    def relay_for(self, cluster_id: ResourceId) -> ResourceId | None: ...


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
    def attach(self, attachment: Attachment, cluster_id: ResourceId) -> ComputeState: ...
    def detach(self, workspace_id: ResourceId, name: str) -> None: ...


class RoleAssignments(Protocol):
    def held(self, scope: ResourceId, principal_id: str) -> HeldRoles: ...
    def grant(self, scope: ResourceId, role: Role, principal_id: str) -> None: ...
    def revoke(self, scope: ResourceId, role: Role, principal_id: str) -> None: ...


class Notifier(Protocol):
    def publish(self, notifications: list[Notification]) -> None: ...


class RecheckScheduler(Protocol):
    def schedule(
        self, queue: str, body: bytes, *, message_id: str, attempt: int, delay_seconds: float
    ) -> None: ...


class DeadLetterQueues(Protocol):
    def peek(self, queue: str) -> list[DeadLetter]: ...
    def replay(self, queue: str, message_ids: Iterable[str] | None) -> list[str]: ...


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
