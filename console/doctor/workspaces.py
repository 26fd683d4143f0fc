"""Every workspace the policy names: it exists, and its registry and storage account can be read."""

from __future__ import annotations

from console.doctor.report import Check, ok, problem, warning
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import WorkspaceState
from shared.decisions.policy import AttachPolicy

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


def check_identity(workspace: WorkspaceState, error: str) -> Check:
    """A workspace runs under a user-assigned identity that cannot be read."""
    identity = workspace.user_assigned_identity
    return problem(
        AREA,
        f"{workspace.id.name} identity",
        f"{identity.raw if identity else 'its user-assigned identity'} cannot be read: {error}",
        "check that the identity exists and that you may read it; autoattach grants it the "
        "cluster roles attach needs",
    )


def check_wide_scopes(policy: AttachPolicy) -> list[Check]:
    """A workspace the policy opens to a whole subscription: any cluster there whose tag someone
    writes may join it. Writing a tag on a cluster is the trust boundary (docs/policy.md), and
    across a subscription many people may write tags."""
    checks = []
    for rule in policy.workspaces:
        for scope in rule.cluster_scopes:
            if len(scope.parts) > 2:  # /subscriptions/{id} is two parts
                continue
            checks.append(
                warning(
                    "policy",
                    f"{rule.workspace_id.name} cluster scope {scope.raw}",
                    f"subscription-wide: whoever may write tags on any cluster in subscription "
                    f"{scope.subscription} can attach it to workspace {rule.workspace_id.name}",
                    "narrow the workspace's clusters to resource groups or cluster ids whose "
                    "tag writers you trust (docs/policy.md)",
                )
            )
    return checks
