"""Role assignments (azure-mgmt-authorization) with deterministic names, marked as ours."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient

# The client's role assignment operations use api-version 2022-04-01; its models match.
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from shared.adapters.arm import ArmConnection
from shared.arm_id import InvalidResourceId, ResourceId
from shared.errors import azure_call
from shared.model import ROLE_ASSIGNMENT_DESCRIPTION, Role

# Fixed namespace: the same scope, role and principal always give the same assignment name.
ASSIGNMENT_NAMESPACE = uuid.UUID("5f0c3a52-7a0e-4f57-9d5c-6f1c2b9a7e31")


KNOWN_ROLES = frozenset(role.value for role in Role)


@dataclass(frozen=True)
class MadeAssignment:
    """A role assignment autoattach made: its deterministic name matches scope, role and
    principal, and it carries autoattach's description."""

    scope: ResourceId
    role: Role
    principal_id: str


@dataclass(frozen=True)
class HeldRoles:
    roles: frozenset[str]
    ours: frozenset[str]


def assignment_name(scope: ResourceId, role: Role, principal_id: str) -> str:
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, f"{scope.key}|{role.value}|{principal_id.lower()}"))


def role_definition_id(scope: ResourceId, role: Role) -> str:
    return (
        f"/subscriptions/{scope.subscription}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{role.value}"
    )


class RoleAssignments:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def _client(self, scope: ResourceId) -> AuthorizationManagementClient:
        return self._arm.client(AuthorizationManagementClient, scope.subscription)

    def held(self, scope: ResourceId, principal_id: str) -> HeldRoles:
        """Role GUIDs the principal holds at (or above) the scope, and which of those come from
        an assignment autoattach made (its deterministic name, at exactly this scope)."""
        with azure_call(f"list role assignments on {scope}"):
            assignments = list(
                self._client(scope).role_assignments.list_for_scope(
                    scope.raw, filter=f"principalId eq '{principal_id}'"
                )
            )
        roles: set[str] = set()
        ours: set[str] = set()
        for assignment in assignments:
            if (assignment.principal_id or "").lower() != principal_id.lower():
                continue
            role = (assignment.role_definition_id or "").rsplit("/", 1)[-1].lower()
            roles.add(role)
            if role in KNOWN_ROLES and (assignment.name or "").lower() == assignment_name(
                scope, Role(role), principal_id
            ):
                ours.add(role)
        return HeldRoles(frozenset(roles), frozenset(ours))

    def made_in(self, subscription_id: str) -> list[MadeAssignment]:
        """Every assignment autoattach made in the subscription, at any scope (for the sweep)."""
        scope = f"/subscriptions/{subscription_id}"
        with azure_call(f"list role assignments in subscription {subscription_id}"):
            assignments = list(
                self._arm.client(
                    AuthorizationManagementClient, subscription_id
                ).role_assignments.list_for_scope(scope)
            )
        made = []
        for assignment in assignments:
            if (assignment.description or "") != ROLE_ASSIGNMENT_DESCRIPTION:
                continue
            role = (assignment.role_definition_id or "").rsplit("/", 1)[-1].lower()
            principal = (assignment.principal_id or "").lower()
            if role not in KNOWN_ROLES or not principal or not assignment.scope:
                continue
            try:
                target = ResourceId.parse(assignment.scope)
            except InvalidResourceId:
                continue
            if (assignment.name or "").lower() == assignment_name(target, Role(role), principal):
                made.append(MadeAssignment(target, Role(role), principal))
        return made

    def grant(self, scope: ResourceId, role: Role, principal_id: str) -> None:
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
