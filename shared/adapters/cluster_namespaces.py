"""Namespaces on any cluster: ARM managed namespaces for AKS with Azure RBAC, the Kubernetes API
(kubeconfig from Key Vault) for Arc and AKS without it. The route comes from policy, with the
adoption policy for ARM managed namespaces. Neither path ever deletes a namespace."""

from __future__ import annotations

from shared.adapters.kube_namespaces import KubernetesApiNamespaces
from shared.adapters.namespaces import ManagedNamespaces
from shared.arm_id import ResourceId
from shared.model import MANAGED_BY_TAG, MANAGED_BY_VALUE, NamespaceRoute


class ClusterNamespaces:
    def __init__(self, managed: ManagedNamespaces, kubernetes: KubernetesApiNamespaces) -> None:
        self._managed = managed
        self._kubernetes = kubernetes

    def exists(self, cluster_id: ResourceId, namespace: str, route: NamespaceRoute) -> bool:
        if route.kubeconfig_secret is not None:
            return self._kubernetes.exists(route.kubeconfig_secret, namespace)
        return self._managed.exists(cluster_id, namespace)

    def create(
        self, cluster_id: ResourceId, namespace: str, route: NamespaceRoute, location: str
    ) -> None:
        if route.kubeconfig_secret is not None:
            self._kubernetes.create(
                route.kubeconfig_secret, namespace, {MANAGED_BY_TAG: MANAGED_BY_VALUE}
            )
        else:
            self._managed.create(cluster_id, namespace, location, route.adoption_policy)
