"""Cluster extensions (azure-mgmt-kubernetesconfiguration): find the Azure ML one by type."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient

from shared.adapters.arm import ArmConnection
from shared.arm_id import CONNECTED_CLUSTER, ResourceId
from shared.errors import azure_call
from shared.model import AZUREML_EXTENSION_TYPE, ExtensionState


def cluster_rp(cluster_id: ResourceId) -> tuple[str, str]:
    if cluster_id.resource_type == CONNECTED_CLUSTER:
        return "Microsoft.Kubernetes", "connectedClusters"
    return "Microsoft.ContainerService", "managedClusters"


class ClusterExtensions:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def find_azureml(self, cluster_id: ResourceId) -> ExtensionState | None:
        """The cluster's Azure ML extension, whatever the team named it; None if absent."""
        client = self._arm.client(SourceControlConfigurationClient, cluster_id.subscription)
        provider, cluster_type = cluster_rp(cluster_id)
        with azure_call(f"list extensions on {cluster_id}"):
            try:
                extensions = list(
                    client.extensions.list(
                        cluster_id.resource_group, provider, cluster_type, cluster_id.name
                    )
                )
            except ResourceNotFoundError:
                return None
        for extension in extensions:
            if (extension.extension_type or "").lower() == AZUREML_EXTENSION_TYPE:
                return ExtensionState(
                    id=ResourceId.parse(extension.id),
                    extension_type=extension.extension_type or "",
                    provisioning_state=str(extension.provisioning_state or ""),
                )
        return None
