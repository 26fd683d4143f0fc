"""What workspace owners are told: one CloudEvent per thing that happened to their workspace."""

from __future__ import annotations

from shared.adapters.notifications import Notification
from shared.arm_id import ResourceId
from shared.model import Attachment, ComputeState
from shared.planner import Problem

ATTACHED = "Autoattach.ComputeAttached"
DETACHED = "Autoattach.ComputeDetached"
ATTACH_FAILED = "Autoattach.AttachFailed"
WAITING = "Autoattach.AttachWaiting"
EXTENSION_INSTALLING = "Autoattach.ExtensionInstalling"


def attached(
    attachment: Attachment, cluster_id: ResourceId, principal_id: str | None, changes: list[str]
) -> Notification:
    return Notification(
        type=ATTACHED,
        subject=f"{attachment.workspace_id.raw}/computes/{attachment.compute_name}",
        data={
            "workspace": attachment.workspace_id.raw,
            "compute": attachment.compute_name,
            "cluster": cluster_id.raw,
            "namespace": attachment.namespace,
            "identity_type": attachment.identity.type.value,
            "principal_id": principal_id,
            "storage_access": attachment.storage_access.value,
            "changes": changes,
        },
    )


def detached(compute: ComputeState, reason: str, changes: list[str]) -> Notification:
    return Notification(
        type=DETACHED,
        subject=f"{compute.workspace_id.raw}/computes/{compute.name}",
        data={
            "workspace": compute.workspace_id.raw,
            "compute": compute.name,
            "cluster": compute.cluster_id.raw if compute.cluster_id else None,
            "reason": reason,
            "changes": changes,
        },
    )


def failed(problem: Problem, cluster_id: ResourceId) -> Notification:
    data = {
        "workspace": problem.workspace.raw,
        "cluster": cluster_id.raw,
        "problem": problem.message,
    }
    if problem.attachment is not None:
        data["compute"] = problem.attachment.compute_name
    return Notification(type=ATTACH_FAILED, subject=problem.workspace.raw, data=data)


def waiting(workspace_id: ResourceId, cluster_id: ResourceId, reason: str) -> Notification:
    return Notification(
        type=WAITING,
        subject=workspace_id.raw,
        data={"workspace": workspace_id.raw, "cluster": cluster_id.raw, "waiting_for": reason},
    )


def installing(workspace_id: ResourceId, cluster_id: ResourceId, name: str) -> Notification:
    return Notification(
        type=EXTENSION_INSTALLING,
        subject=workspace_id.raw,
        data={"workspace": workspace_id.raw, "cluster": cluster_id.raw, "extension": name},
    )
