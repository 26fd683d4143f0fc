"""What the product knows about the Azure ML extension, as pure functions over plain data: the
Azure Relay an Arc cluster's extension names, and where autoattach will not install it.

On Arc the extension needs an Azure Relay. The Azure CLI (`az k8s-extension create`) makes it on
the client before the extension PUT -- a Relay namespace, a hybrid connection, a rule, and its
connection string passed as a protected setting -- and names the hybrid connection in the
setting ``relayserver.hybridConnectionResourceID``. ARM makes none. autoattach does not make relays
or carry their keys, so it installs the extension only on AKS.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from shared.decisions.arm_id import CONNECTED_CLUSTER, InvalidResourceId, ResourceId
from shared.decisions.model import ExtensionPolicy

HYBRID_CONNECTION_SETTING = "relayserver.hybridConnectionResourceID"
HYBRID_CONNECTION_TYPE = "microsoft.relay/namespaces/hybridconnections"


def relay_named_by(settings: Mapping[str, str] | None) -> ResourceId | None:
    """The Relay namespace whose hybrid connection the extension's settings name (the hybrid
    connection id's parent); None when they name none, or not a hybrid connection."""
    value = (settings or {}).get(HYBRID_CONNECTION_SETTING)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        connection = ResourceId.parse(value)
        if connection.resource_type != HYBRID_CONNECTION_TYPE:
            return None
        return ResourceId.parse("/".join(connection.raw.split("/")[:-2]))
    except InvalidResourceId:
        return None


def install_refusal(cluster_id: ResourceId, policy: ExtensionPolicy) -> str | None:
    """Why autoattach will not install the Azure ML extension on this cluster, with the command
    that does it right; None where it may (AKS)."""
    if cluster_id.resource_type != CONNECTED_CLUSTER:
        return None
    command = [
        "az k8s-extension create",
        "--cluster-type connectedClusters",
        f"--cluster-name {shlex.quote(cluster_id.name)}",
        f"--resource-group {shlex.quote(cluster_id.resource_group)}",
        f"--subscription {cluster_id.subscription}",
        f"--name {shlex.quote(policy.name)}",
        "--extension-type Microsoft.AzureML.Kubernetes",
        f"--release-train {shlex.quote(policy.release_train)}",
    ]
    if policy.settings:
        pairs = " ".join(shlex.quote(f"{k}={v}") for k, v in policy.settings)
        command.append(f"--config {pairs}")
    return (
        "the policy installs the Azure ML extension only on AKS; install it on Arc cluster "
        f"{cluster_id.name} with `{' '.join(command)}` (the CLI creates its Azure Relay), "
        "then replay"
    )
