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
HYBRID_CONNECTION_TYPE = "Microsoft.Relay/namespaces/hybridConnections"
RELAY_RULE_TYPE = "Microsoft.Relay/namespaces/hybridConnections/authorizationRules"
# What `az k8s-extension create --extension-type Microsoft.AzureML.Kubernetes` leaves on an Arc
# cluster (Azure/azure-cli-extensions, k8s-extension, partner_extensions/AzureMLKubernetes.py).
CLI_RELAY_TAGS = {"created_by": "Azure Arc-enabled ML"}
CLI_RELAY_RULE = "azureml_rw"
CLI_RELAY_RIGHTS = ("Manage", "Send", "Listen")


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


def cli_relay_name(cluster_id: str) -> str:
    """The Relay namespace name the Azure CLI gives an Arc cluster's AzureML extension.

    ``_get_valid_name("{cluster}-{subscription}-{resource group}-relay", suffix_len=6,
    max_len=50)``: keep letters and digits only (case kept); over 50 characters, the first 44
    plus the first 6 hex digits of the md5 of the unreduced text. The names come from the cluster
    id, as the CLI's arguments would name them.
    """
    parts = (name_of(cluster_id), subscription_of(cluster_id), resource_group_of(cluster_id))
    text = "-".join(parts) + "-relay"
    reduced = "".join(c for c in text if c.isalnum())
    if len(reduced) <= 50:
        return reduced
    digest = hashlib.md5(text.encode("utf8")).hexdigest()[:6]  # the CLI's own choice of hash
    return reduced[:44] + digest


def relay_id(cluster_id: str, relay_name: str) -> str:
    """The Relay namespace id in the cluster's subscription and resource group."""
    return (
        f"/subscriptions/{subscription_of(cluster_id)}/resourceGroups/"
        f"{resource_group_of(cluster_id)}/providers/{RELAY_TYPE}/{relay_name}"
    )
