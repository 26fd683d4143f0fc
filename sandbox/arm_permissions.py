"""``GET {scope}/providers/Microsoft.Authorization/permissions``: the caller's own permissions.

Permissions - List For Resource Group / For Resource (api 2022-04-01): one entry per role
assignment of the caller at the scope or above that has taken effect (``role_propagation_seconds``
after its PUT), with the role's ``actions`` and ``notActions`` (the double models no data
actions: ``dataActions`` stay empty). ``autoattach smoke`` times a new assignment's propagation
by reading this.

Guessed: that ARM lists one entry per assignment (two assignments of one role, two entries), and
that this read sees an assignment exactly when ARM's authorization honours it.
"""

from __future__ import annotations

from typing import Any

from sandbox.arm_authorization import _is_at_or_above
from sandbox.arm_http import Ctx
from sandbox.arm_rbac import permissions_of, principal_of
from sandbox.https import Response


def permissions(ctx: Ctx) -> Response:
    scope = ctx.groups["scope"]
    caller = principal_of(ctx.world, ctx.request.headers.get("authorization", ""))
    seconds = ctx.world.seconds()
    entries: list[dict[str, Any]] = []
    with ctx.world.lock:
        for assignment in ctx.world.role_assignments.values():
            if assignment.principal_id.lower() != caller.lower():
                continue
            if not _is_at_or_above(assignment.scope, scope) or not assignment.effective(seconds):
                continue
            role = permissions_of(ctx.world, assignment.role_definition_id)
            if role is None:
                continue
            entries.append(
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": [],
                    "notDataActions": [],
                }
            )
    return Response(200, {"value": entries})
