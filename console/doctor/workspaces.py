"""Every workspace the policy names: it exists, and its registry and storage account can be read."""

from __future__ import annotations

from console.doctor.report import Check, ok, problem
from shared.decisions.arm_id import ResourceId

AREA = "workspaces"


def check_workspace(workspace: ResourceId, error: str | None) -> Check:
    if error is not None:
        return problem(
            AREA,
            workspace.name,
            f"cannot be read: {error}",
            f"check the id in the policy, and that {workspace.raw} exists",
        )
    return ok(AREA, workspace.name, "exists")


def check_dependency(
    workspace: ResourceId, what: str, resource: ResourceId | None, error: str | None
) -> Check:
    subject = f"{workspace.name} {what}"
    if resource is None:
        return problem(
            AREA,
            subject,
            "the workspace names none",
            f"give the workspace a {what}: attached computes need one",
        )
    if error is not None:
        return problem(
            AREA,
            subject,
            f"{resource.raw} cannot be read: {error}",
            f"check that {resource.name} exists and that you may read it; autoattach grants "
            "computes a role on it",
        )
    return ok(AREA, subject, f"{resource.name} readable")
