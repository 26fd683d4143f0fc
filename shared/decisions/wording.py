"""An action in words, one wording in two tenses: what ``autoattach plan`` says reconcile would
do, and what reconcile logs (and reports) it did. Pure."""

from __future__ import annotations

from shared.decisions.planner import (
    Action,
    AttachCompute,
    CreateNamespace,
    DetachCompute,
    GrantRole,
    InstallExtension,
    RevokeRole,
)

# (would do, did)
_VERBS: dict[type, tuple[str, str]] = {
    CreateNamespace: ("create", "created"),
    InstallExtension: ("install", "started installing"),
    AttachCompute: ("attach", "attached"),
    GrantRole: ("grant", "granted"),
    RevokeRole: ("remove", "removed"),
    DetachCompute: ("detach", "detached"),
}


def action_words(action: Action, cluster: str, *, done: bool) -> str:
    """``action`` on the cluster named ``cluster``, as done (``done``) or to be done."""
    verb = _VERBS[type(action)][1 if done else 0]
    if isinstance(action, CreateNamespace):
        return f"{verb} namespace {action.namespace} on {cluster} (via {action.route.via})"
    if isinstance(action, InstallExtension):
        return f"{verb} the Azure ML extension {action.policy.name} on {cluster}"
    if isinstance(action, AttachCompute):
        a = action.attachment
        return (
            f"{verb} {cluster} as compute {a.compute_name} in workspace {a.workspace_id.name} "
            f"(namespace {a.namespace}, {a.identity.type.value} identity)"
        )
    if isinstance(action, GrantRole):
        whose = "" if action.attachment else f" (workspace {action.workspace_id.name}'s identity)"
        return (
            f"{verb} {action.role.display_name} on {action.scope.name} to "
            f"{action.principal_id}{whose}"
        )
    if isinstance(action, RevokeRole):
        return (
            f"{verb} {action.role.display_name} on {action.scope.name} from "
            f"{action.principal_id} ({action.why})"
        )
    assert isinstance(action, DetachCompute)
    return (
        f"{verb} compute {action.compute.name} from workspace "
        f"{action.compute.workspace_id.name}: {action.reason}"
    )
