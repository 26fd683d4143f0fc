"""ARM resource id helpers: ids are case-insensitive, so the double keys its state lowercased."""

from __future__ import annotations

import hashlib
import re
import uuid

SANDBOX_TENANT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "autoattach-sandbox-tenant"))
PRINCIPAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "autoattach-sandbox-principals")

AKS_TYPE = "Microsoft.ContainerService/managedClusters"
ARC_TYPE = "Microsoft.Kubernetes/connectedClusters"
UAI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
RELAY_TYPE = "Microsoft.Relay/namespaces"
AZUREML_EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"

# Relay namespace names: 6-50 letters, digits and hyphens, starting with a letter and ending with a
# letter or digit (Microsoft.Relay naming rules).
RELAY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$")
_RELAY_MIDDLE_MAX = 50 - len("azureml-") - len("-relay")  # 36


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


def default_relay_name(cluster_id: str) -> str:
    """``azureml-<cluster name>-relay``: the Relay namespace the AzureML extension makes (modelled).

    The cluster name is lowercased, characters other than letters/digits/hyphens become hyphens
    and runs of hyphens collapse. Names longer than 36 characters keep their first 29 characters
    plus ``-`` and 6 hex characters of sha256(lowercased cluster id), so the result stays within
    Relay's 50-character limit and distinct clusters with a long common prefix stay distinct.
    """
    middle = re.sub(r"[^a-z0-9-]+", "-", name_of(cluster_id).lower())
    middle = re.sub(r"-{2,}", "-", middle).strip("-") or "cluster"
    if len(middle) > _RELAY_MIDDLE_MAX:
        digest = hashlib.sha256(key(cluster_id).encode()).hexdigest()[:6]
        middle = f"{middle[: _RELAY_MIDDLE_MAX - 7].rstrip('-')}-{digest}"
    return f"azureml-{middle}-relay"


def relay_id(cluster_id: str, relay_name: str) -> str:
    """The Relay namespace id in the cluster's subscription and resource group."""
    return (
        f"/subscriptions/{subscription_of(cluster_id)}/resourceGroups/"
        f"{resource_group_of(cluster_id)}/providers/{RELAY_TYPE}/{relay_name}"
    )
