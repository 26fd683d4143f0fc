"""Cluster extensions (azure-mgmt-kubernetesconfiguration): find the Azure ML one by type."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension, Scope, ScopeCluster

from shared.adapters.arm import ArmConnection
from shared.decisions.arm_id import CONNECTED_CLUSTER, ResourceId
from shared.decisions.azureml_extension import install_refusal, relay_named_by
from shared.decisions.errors import PermanentError, azure_call
from shared.decisions.model import (
    AZUREML_EXTENSION_TYPE,
    ExtensionPolicy,
    ExtensionState,
    state_text,
)

AZUREML_EXTENSION_TYPE_NAME = "Microsoft.AzureML.Kubernetes"


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
                    provisioning_state=state_text(extension.provisioning_state),
                    relay=relay_named_by(extension.configuration_settings),
                )
        return None

    def install(self, cluster_id: ResourceId, policy: ExtensionPolicy) -> None:
        """Start installing the Azure ML extension; do not wait (a re-check follows it).
        Never on Arc: there the Azure CLI must make the extension's relay first."""
        refusal = install_refusal(cluster_id, policy)
        if refusal is not None:
            raise PermanentError(refusal, reason="ArcInstallRefused")
        client = self._arm.client(SourceControlConfigurationClient, cluster_id.subscription)
        provider, cluster_type = cluster_rp(cluster_id)
        extension = Extension(
            extension_type=AZUREML_EXTENSION_TYPE_NAME,
            auto_upgrade_minor_version=True,
            release_train=policy.release_train,
            scope=Scope(cluster=ScopeCluster(release_namespace="azureml")),
            configuration_settings=dict(policy.settings),
        )
        with azure_call(f"install the Azure ML extension on {cluster_id}"):
            client.extensions.begin_create(
                cluster_id.resource_group,
                provider,
                cluster_type,
                cluster_id.name,
                policy.name,
                extension,
                polling=False,  # send the PUT only: no poller thread waiting on the install
            )
