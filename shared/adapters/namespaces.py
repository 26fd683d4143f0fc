"""AKS managed namespaces through ARM (azure-mgmt-containerservice): no API-server path needed."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedNamespace, NamespaceProperties

from shared.adapters.arm import ArmConnection
from shared.arm_id import ResourceId
from shared.errors import azure_call
from shared.model import MANAGED_BY_TAG, MANAGED_BY_VALUE


class ManagedNamespaces:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def _client(self, cluster_id: ResourceId) -> ContainerServiceClient:
        return self._arm.client(ContainerServiceClient, cluster_id.subscription)

    def exists(self, cluster_id: ResourceId, namespace: str) -> bool:
        with azure_call(f"read namespace {namespace} on {cluster_id}"):
            try:
                self._client(cluster_id).managed_namespaces.get(
                    cluster_id.resource_group, cluster_id.name, namespace
                )
            except ResourceNotFoundError:
                return False
        return True

    def create(self, cluster_id: ResourceId, namespace: str, location: str) -> None:
        body = ManagedNamespace(
            location=location,
            tags={MANAGED_BY_TAG: MANAGED_BY_VALUE},
            properties=NamespaceProperties(labels={MANAGED_BY_TAG: MANAGED_BY_VALUE}),
        )
        with azure_call(f"create namespace {namespace} on {cluster_id}"):
            self._client(cluster_id).managed_namespaces.begin_create_or_update(
                cluster_id.resource_group, cluster_id.name, namespace, body
            ).result()
