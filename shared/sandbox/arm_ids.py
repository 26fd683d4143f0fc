"""ARM resource id helpers: ids are case-insensitive, so the double keys its state lowercased."""

from __future__ import annotations

import uuid

SANDBOX_TENANT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "autoattach-sandbox-tenant"))
PRINCIPAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "autoattach-sandbox-principals")

AKS_TYPE = "Microsoft.ContainerService/managedClusters"
ARC_TYPE = "Microsoft.Kubernetes/connectedClusters"
UAI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"


def key(resource_id: str) -> str:
    """The lookup key of an ARM id: lowercased, one leading slash, no trailing slash."""
    return "/" + resource_id.strip().strip("/").lower()


def same_id(a: str, b: str) -> bool:
    return key(a) == key(b)


def segments(resource_id: str) -> list[str]:
    return [part for part in resource_id.strip("/").split("/") if part]


def name_of(resource_id: str) -> str:
    return segments(resource_id)[-1]


def subscription_of(resource_id: str) -> str:
    parts = segments(resource_id)
    return parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""


def resource_group_of(resource_id: str) -> str:
    parts = segments(resource_id)
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        index = lowered.index("resourcegroups")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""


def type_of(resource_id: str) -> str:
    """``Namespace/type[/child...]`` of a provider resource id, in the id's own casing."""
    parts = segments(resource_id)
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    index = len(lowered) - 1 - lowered[::-1].index("providers")
    tail = parts[index + 1 :]
    if not tail:
        return ""
    return "/".join([tail[0], *tail[1::2]])


def deterministic_principal(resource_id: str) -> str:
    """The system-assigned principal id of a resource: uuid5 of its lowercased id."""
    return str(uuid.uuid5(PRINCIPAL_NAMESPACE, key(resource_id)))
