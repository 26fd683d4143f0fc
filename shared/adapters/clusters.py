"""Clusters (AKS managedClusters and Arc connectedClusters) through generic ARM resource reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from shared.adapters.arm import ArmConnection
from shared.adapters.cache import TtlCache
from shared.decisions.arm_id import CONNECTED_CLUSTER, InvalidResourceId, ResourceId
from shared.decisions.errors import azure_call
from shared.decisions.model import ClusterState

API_VERSIONS = {
    "microsoft.containerservice/managedclusters": "2026-05-01",
    "microsoft.kubernetes/connectedclusters": "2024-01-01",
    "microsoft.managedidentity/userassignedidentities": "2023-01-31",
}


class ArmClusters:
    def __init__(self, arm: ArmConnection, principals: TtlCache[str] | None = None) -> None:
        self._arm = arm
        # An identity's principal id never changes while the identity lives; cached per process.
        self._principals: TtlCache[str] = principals or TtlCache()

    def _resources(self, subscription_id: str) -> Any:
        return self._arm.client(ResourceManagementClient, subscription_id).resources

    def get(self, cluster_id: ResourceId) -> ClusterState:
        """The cluster as ARM sees it now; ``exists`` is False once it is gone."""
        api_version = API_VERSIONS[cluster_id.resource_type]
        with azure_call(f"read cluster {cluster_id}"):
            try:
                resource = self._resources(cluster_id.subscription).get_by_id(
                    cluster_id.raw, api_version=api_version
                )
            except ResourceNotFoundError:
                return ClusterState(id=cluster_id, exists=False)
        properties = resource.properties or {}
        aad = properties.get("aadProfile") or {}
        return ClusterState(
            id=_canonical(resource.id, cluster_id),  # ARM's casing, not the event's
            exists=True,
            provisioning_state=str(properties.get("provisioningState") or ""),
            location=resource.location or "",
            tags=dict(resource.tags or {}),
            azure_rbac=(
                cluster_id.resource_type == CONNECTED_CLUSTER or bool(aad.get("enableAzureRBAC"))
            ),
            connectivity_status=str(properties.get("connectivityStatus") or ""),
            api_server_hosts=tuple(
                str(properties[key])
                for key in ("fqdn", "privateFQDN", "azurePortalFQDN")
                if properties.get(key)
            ),
        )

    def principal_of_identity(self, identity_id: ResourceId) -> str:
        """The principal id of a user-assigned managed identity, read from ARM (cached)."""
        return self._principals.get(identity_id.key, lambda: self._read_principal(identity_id))

    def _read_principal(self, identity_id: ResourceId) -> str:
        with azure_call(f"read managed identity {identity_id}"):
            resource = self._resources(identity_id.subscription).get_by_id(
                identity_id.raw,
                api_version=API_VERSIONS["microsoft.managedidentity/userassignedidentities"],
            )
        return str((resource.properties or {}).get("principalId") or "")

    def trusted_workspaces(self, cluster_id: ResourceId) -> frozenset[ResourceId]:
        """The workspaces an AKS cluster's Trusted Access binds: the ``sourceResourceId`` of
        its ``trustedAccessRoleBindings`` (containerservice spec). A workspace bound so needs,
        on a user-assigned identity, Contributor on the cluster to attach it (Azure ML's attach
        doc). Arc clusters have none."""
        if cluster_id.resource_type == CONNECTED_CLUSTER:
            return frozenset()
        from shared.adapters.namespaces import container_service_client

        client = self._arm.client(container_service_client, cluster_id.subscription)
        with azure_call(f"list the Trusted Access role bindings of cluster {cluster_id}"):
            try:
                bindings = list(
                    client.trusted_access_role_bindings.list(
                        cluster_id.resource_group, cluster_id.name
                    )
                )
            except ResourceNotFoundError:
                return frozenset()
        sources = [_optional_id(b.source_resource_id) for b in bindings]
        return frozenset(s for s in sources if s is not None)

    def tagged(self, subscription_id: str, tag_key: str) -> Iterator[ResourceId]:
        """Every AKS or Arc cluster in the subscription that carries the tag (for the sweep), as
        ARM's pages arrive: one page of ARM's answer is held at a time, not the whole list."""
        with azure_call(f"list resources tagged {tag_key} in subscription {subscription_id}"):
            for resource in self._resources(subscription_id).list(filter=f"tagName eq '{tag_key}'"):
                if not resource.id:
                    continue
                found = ResourceId.parse(resource.id)
                if found.resource_type in API_VERSIONS and "cluster" in found.resource_type:
                    yield found


def _optional_id(raw: str | None) -> ResourceId | None:
    try:
        return ResourceId.parse(raw) if raw else None
    except InvalidResourceId:
        return None


def _canonical(raw: str | None, asked: ResourceId) -> ResourceId:
    """The cluster id in ARM's own casing; the id asked for when ARM's is missing or names
    another resource."""
    try:
        found = ResourceId.parse(raw) if raw else asked
    except InvalidResourceId:
        return asked
    return found if found == asked else asked
