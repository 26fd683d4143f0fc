"""Microsoft.Authorization role assignments (api-version 2022-04-01) with ARM's real error codes.

- 409 RoleAssignmentExists: the same scope + role + principal already exists (any name).
- 400 RoleAssignmentUpdateNotPermitted: the name exists with another principal, role or scope.
- 400 PrincipalNotFound: the principal is unknown to the world and no principalType was sent.
- GET of a missing name: 404 RoleAssignmentNotFound; DELETE of a missing name: 204.
- 400 InvalidRoleAssignmentCondition ("The given role assignment condition is invalid.", the
  wording "Troubleshoot Azure role assignment conditions" quotes; the code is the double's guess):
  a condition outside what Azure offers for role assignment writes and deletes
  (sandbox/arm_rbac.py), or a conditionVersion other than 2.0. A valid condition is stored and
  limits what the assignment grants.

A new assignment is listed at once but takes effect (for the double's own authorization checks,
``holds_effective``) only after the world's ``role_propagation_seconds`` of virtual time.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.arm_http import Ctx, arm_error, bad_request, body_of
from sandbox.arm_ids import SANDBOX_TENANT_ID, key, same_id
from sandbox.arm_rbac import ConditionError, parse_condition
from sandbox.https import Response
from sandbox.world import RoleAssignment, World

ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
_PRINCIPAL_FILTER = re.compile(r"principalId\s+eq\s+'([^']+)'", re.IGNORECASE)


def assignment_json(assignment: RoleAssignment, stamp: str) -> dict[str, Any]:
    return {
        "id": assignment.id,
        "name": assignment.name,
        "type": ASSIGNMENT_TYPE,
        "properties": {
            "roleDefinitionId": assignment.role_definition_id,
            "principalId": assignment.principal_id,
            "principalType": assignment.principal_type or "ServicePrincipal",
            "scope": assignment.scope,
            "description": assignment.description,
            "condition": assignment.condition,
            "conditionVersion": "2.0" if assignment.condition else None,
            "createdOn": stamp,
            "updatedOn": stamp,
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
        },
    }


def role_assignment(ctx: Ctx) -> Response:
    scope, name = ctx.groups["scope"], ctx.groups["name"]
    record_key = key(RoleAssignment(scope, "", "", name).id)
    method = ctx.request.method
    world = ctx.world
    with world.lock:
        existing = world.role_assignments.get(record_key)
        if method == "GET":
            if existing is None:
                return arm_error(
                    404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found."
                )
            return Response(200, assignment_json(existing, ctx.timestamp()))
        if method == "DELETE":
            if existing is None:
                return Response(204)
            del world.role_assignments[record_key]
            return Response(200, assignment_json(existing, ctx.timestamp()))
        if method == "PUT":
            return _create(ctx, scope, name, existing)
    return arm_error(405, "MethodNotAllowed", f"{method} is not allowed here.")


def _create(ctx: Ctx, scope: str, name: str, existing: RoleAssignment | None) -> Response:
    properties = body_of(ctx.request).get("properties") or {}
    role = properties.get("roleDefinitionId")
    principal = properties.get("principalId")
    if not role or not principal:
        return bad_request(
            "InvalidRoleAssignmentRequest",
            "properties.roleDefinitionId and properties.principalId are required.",
        )
    condition = properties.get("condition") or None
    if condition is not None and not _condition_accepted(condition, properties):
        return bad_request(
            "InvalidRoleAssignmentCondition", "The given role assignment condition is invalid."
        )
    world = ctx.world
    if existing is not None:
        if (
            same_id(existing.role_definition_id, role)
            and existing.principal_id.lower() == str(principal).lower()
            and same_id(existing.scope, scope)
        ):
            return _exists()
        return bad_request(
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        )
    for other in world.role_assignments.values():
        if (
            same_id(other.scope, scope)
            and same_id(other.role_definition_id, role)
            and other.principal_id.lower() == str(principal).lower()
        ):
            return _exists()
    principal_type = properties.get("principalType")
    if not principal_type and str(principal).lower() not in world.known_principals():
        return bad_request(
            "PrincipalNotFound",
            f"Principal {str(principal).replace('-', '')} does not exist in the directory "
            f"{SANDBOX_TENANT_ID}. Check that you have the correct principal ID. If you are "
            "creating this principal and then immediately assigning a role, this error might be "
            "related to a replication delay. In this case, set the role assignment principalType "
            "property to a value, such as ServicePrincipal, User, or Group.  See "
            "https://aka.ms/docs-principaltype",
        )
    assignment = RoleAssignment(
        scope=scope,
        role_definition_id=str(role),
        principal_id=str(principal),
        name=name,
        description=properties.get("description"),
        principal_type=principal_type,
        condition=condition,
        effective_at=ctx.clock.seconds() + world.role_propagation_seconds,
    )
    world.role_assignments[key(assignment.id)] = assignment
    return Response(201, assignment_json(assignment, ctx.timestamp()))


def _condition_accepted(condition: Any, properties: dict[str, Any]) -> bool:
    version = properties.get("conditionVersion")
    if not isinstance(condition, str) or (version is not None and str(version) != "2.0"):
        return False
    try:
        parse_condition(condition)
    except ConditionError:
        return False
    return True


def _exists() -> Response:
    return arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")


def holds_effective(world: World, scope: str, principal_id: str, role_guid: str) -> bool:
    """Whether the principal holds the role at ``scope`` (assigned there or above) through an
    assignment that has propagated by now. Role definitions compare by their GUID."""
    seconds = world.seconds()
    with world.lock:
        return any(
            a.principal_id.lower() == principal_id.lower()
            and a.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() == role_guid.lower()
            and _is_at_or_above(a.scope, scope)
            and a.effective(seconds)
            for a in world.role_assignments.values()
        )


def _is_at_or_above(candidate: str, scope: str) -> bool:
    outer, inner = key(candidate), key(scope)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def list_for_scope(ctx: Ctx) -> Response:
    """Assignments at, above and below the scope (only at/above with ``atScope()``)."""
    scope = ctx.groups["scope"]
    expression = ctx.request.query.get("$filter", "")
    at_scope = "atscope()" in expression.lower()
    principal_match = _PRINCIPAL_FILTER.search(expression)
    principal = principal_match.group(1).lower() if principal_match else None
    with ctx.world.lock:
        found = [
            a
            for a in ctx.world.role_assignments.values()
            if (
                _is_at_or_above(a.scope, scope)
                or (not at_scope and _is_at_or_above(scope, a.scope))
            )
            and (principal is None or a.principal_id.lower() == principal)
        ]
        stamp = ctx.timestamp()
        body = {"value": [assignment_json(a, stamp) for a in sorted(found, key=lambda a: a.id)]}
    return Response(200, body)
