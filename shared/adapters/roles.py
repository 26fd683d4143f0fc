"""Role assignments (azure-mgmt-authorization) with deterministic names, marked as ours."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.adapters.arm import ArmConnection
from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.errors import azure_call
from shared.decisions.model import ROLE_ASSIGNMENT_DESCRIPTION, MadeAssignment, Role

if TYPE_CHECKING:  # imported on first use: a new cluster's first write needs no role (cold start)
    from azure.mgmt.authorization import AuthorizationManagementClient

__all__ = ["Assignment", "HeldRoles", "MadeAssignment", "RoleAssignments", "holdings"]

# Fixed namespace: the same scope, role and principal always give the same assignment name.
ASSIGNMENT_NAMESPACE = uuid.UUID("5f0c3a52-7a0e-4f57-9d5c-6f1c2b9a7e31")


KNOWN_ROLES = frozenset(role.value for role in Role)


@dataclass(frozen=True)
class HeldRoles:
    roles: frozenset[str]
    ours: frozenset[str]


@dataclass(frozen=True)
class Assignment:
    """One role assignment of a principal: where, which role (GUID), and whether autoattach
    made it (its deterministic name)."""

    scope: ResourceId
    role: str
    principal_id: str
    ours: bool


def holdings(assignments: list[Assignment], scope: ResourceId) -> HeldRoles:
    """Pure: the roles held at ``scope`` (assigned there or above it), and those held through
    autoattach's own assignment at exactly that scope."""
    roles = {a.role for a in assignments if scope.is_within(a.scope)}
    ours = {a.role for a in assignments if a.ours and a.scope == scope}
    return HeldRoles(frozenset(roles), frozenset(ours))


def _made(assignment: Any) -> MadeAssignment | None:
    """The assignment as one autoattach made (deterministic name and description), or None."""
    if (assignment.description or "") != ROLE_ASSIGNMENT_DESCRIPTION:
        return None
    role = (assignment.role_definition_id or "").rsplit("/", 1)[-1].lower()
    principal = (assignment.principal_id or "").lower()
    if role not in KNOWN_ROLES or not principal or not assignment.scope:
        return None
    try:
        target = ResourceId.parse(assignment.scope)
    except InvalidResourceId:
        return None
    if (assignment.name or "").lower() != assignment_name(target, Role(role), principal):
        return None
    return MadeAssignment(target, Role(role), principal)


def assignment_name(scope: ResourceId, role: Role, principal_id: str) -> str:
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, f"{scope.key}|{role.value}|{principal_id.lower()}"))


def role_definition_id(scope: ResourceId, role: Role) -> str:
    return (
        f"/subscriptions/{scope.subscription}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{role.value}"
    )


def authorization_client(
    credential: Any, subscription_id: str, **kwargs: Any
) -> AuthorizationManagementClient:
    """azure-mgmt-authorization's client, imported when the first one is built."""
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(credential, subscription_id, **kwargs)


class RoleAssignments:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def _client(self, scope: ResourceId) -> AuthorizationManagementClient:
        return self._arm.client(authorization_client, scope.subscription)

    def of_principal(self, principal_id: str, subscription_id: str) -> list[Assignment]:
        """Every assignment the principal has in the subscription (and above it): one read
        serves every scope there (``holdings`` tells what it holds at each)."""
        scope = f"/subscriptions/{subscription_id}"
        with azure_call(f"list role assignments of {principal_id} in {subscription_id}"):
            found = list(
                self._arm.client(
                    authorization_client, subscription_id
                ).role_assignments.list_for_scope(scope, filter=f"principalId eq '{principal_id}'")
            )
        assignments = []
        for assignment in found:
            if (assignment.principal_id or "").lower() != principal_id.lower():
                continue
            try:
                target = ResourceId.parse(assignment.scope or "")
            except InvalidResourceId:
                continue
            role = (assignment.role_definition_id or "").rsplit("/", 1)[-1].lower()
            ours = role in KNOWN_ROLES and (assignment.name or "").lower() == assignment_name(
                target, Role(role), principal_id
            )
            assignments.append(Assignment(target, role, principal_id.lower(), ours))
        return assignments

    def made_at(self, scope: ResourceId) -> list[MadeAssignment]:
        """The assignments autoattach made at exactly this scope, to any principal."""
        with azure_call(f"list role assignments on {scope}"):
            found = list(
                self._client(scope).role_assignments.list_for_scope(scope.raw, filter="atScope()")
            )
        return [made for made in map(_made, found) if made is not None and made.scope == scope]

    def made_in(self, subscription_id: str) -> list[MadeAssignment]:
        """Every assignment autoattach made in the subscription, at any scope (for the sweep)."""
        scope = f"/subscriptions/{subscription_id}"
        with azure_call(f"list role assignments in subscription {subscription_id}"):
            assignments = list(
                self._arm.client(
                    authorization_client, subscription_id
                ).role_assignments.list_for_scope(scope)
            )
        return [made for made in map(_made, assignments) if made is not None]

    def grant(self, scope: ResourceId, role: Role, principal_id: str) -> None:
        # The client's role assignment operations use api-version 2022-04-01; its models match.
        from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

        parameters = RoleAssignmentCreateParameters(
            role_definition_id=role_definition_id(scope, role),
            principal_id=principal_id,
            principal_type="ServicePrincipal",
            description=ROLE_ASSIGNMENT_DESCRIPTION,
        )
        name = assignment_name(scope, role, principal_id)
        with azure_call(f"grant {role.display_name} on {scope} to {principal_id}"):
            try:
                self._client(scope).role_assignments.create(scope.raw, name, parameters)
            except HttpResponseError as error:
                if error.error is not None and error.error.code == "RoleAssignmentExists":
                    return
                raise

    def revoke(self, scope: ResourceId, role: Role, principal_id: str) -> None:
        """Remove the assignment autoattach made (by its deterministic name); absent is fine."""
        name = assignment_name(scope, role, principal_id)
        with azure_call(f"remove {role.display_name} on {scope} from {principal_id}"):
            try:
                self._client(scope).role_assignments.delete(scope.raw, name)
            except ResourceNotFoundError:
                return
