"""Microsoft.Authorization role definitions (api-version 2022-04-01), read-only: GET by id and the
list at a scope (``$filter=type eq 'CustomRole'`` or ``roleName eq '...'``). The world lists custom
roles (``role_definitions``); built-in roles are not modelled, so a GET of one answers 404
``RoleDefinitionDoesNotExist`` (sandbox/README.md)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.arm_http import Ctx, arm_error
from sandbox.arm_ids import key, name_of
from sandbox.https import Response
from sandbox.hub import ROLE_DEFINITION_TYPE, RoleDefinition

_ROLE_NAME_FILTER = re.compile(r"roleName\s+eq\s+'([^']*)'", re.IGNORECASE)


def definition_json(definition: RoleDefinition, stamp: str) -> dict[str, Any]:
    return {
        "id": definition.id,
        "name": definition.guid,
        "type": ROLE_DEFINITION_TYPE,
        "properties": {
            "roleName": definition.role_name,
            "description": definition.description,
            "type": "CustomRole",
            "permissions": [
                {
                    "actions": list(definition.actions),
                    "notActions": list(definition.not_actions),
                    "dataActions": list(definition.data_actions),
                    "notDataActions": [],
                }
            ],
            "assignableScopes": list(definition.assignable_scopes),
            "createdOn": stamp,
            "updatedOn": stamp,
            "createdBy": None,
            "updatedBy": None,
        },
    }


def _visible_at(definition: RoleDefinition, scope: str) -> bool:
    """A custom role is visible at its assignable scopes and below them."""
    inner = key(scope)
    return any(
        inner == key(s) or inner.startswith(key(s).rstrip("/") + "/")
        for s in definition.assignable_scopes
    )


def role_definitions(ctx: Ctx) -> Response:
    scope = ctx.groups["scope"]
    name = ctx.groups.get("name")
    stamp = ctx.timestamp()
    with ctx.world.lock:
        definitions = list(ctx.world.hub.role_definitions.values())
    if name is not None:
        found = next(
            (d for d in definitions if d.guid == name.lower() and _visible_at(d, scope)), None
        )
        if found is None:
            return arm_error(
                404,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{name_of(name)}' does not exist.",
            )
        return Response(200, definition_json(found, stamp))
    expression = ctx.request.query.get("$filter", "")
    wanted_name = _ROLE_NAME_FILTER.search(expression)
    listed = [
        d
        for d in definitions
        if _visible_at(d, scope) and (wanted_name is None or d.role_name == wanted_name.group(1))
    ]
    if "builtinrole" in expression.lower().replace(" ", ""):
        listed = []  # built-in roles are not modelled
    listed.sort(key=lambda d: d.guid)
    return Response(200, {"value": [definition_json(d, stamp) for d in listed]})
