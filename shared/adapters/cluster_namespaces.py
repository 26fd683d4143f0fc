"""Namespaces on any cluster: ARM managed namespaces for AKS with Azure RBAC, the Kubernetes API
(kubeconfig from Key Vault) for Arc and AKS without it. The route comes from policy, with the
adoption policy for ARM managed namespaces. Neither path ever deletes a namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.adapters.namespaces import ManagedNamespaces
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import MANAGED_BY_TAG, MANAGED_BY_VALUE, SUCCEEDED, NamespaceRoute

if TYPE_CHECKING:  # the kubernetes client is imported on the first Kubernetes-API cluster only
    from shared.adapters.kube_namespaces import KubernetesApiNamespaces


class ClusterNamespaces:
    def __init__(
        self, managed: ManagedNamespaces, kubernetes: Callable[[], KubernetesApiNamespaces]
    ) -> None:
        self._managed = managed
        self._make_kubernetes = kubernetes
        self._kube: KubernetesApiNamespaces | None = None

    @property
    def _kubernetes(self) -> KubernetesApiNamespaces:
        if self._kube is None:
            self._kube = self._make_kubernetes()
        return self._kube

    def state(self, cluster_id: ResourceId, namespace: str, route: NamespaceRoute) -> str | None:
        """``succeeded`` when ready for computes; else what ARM shows (lower-case), or None."""
        if route.kubeconfig_secret is not None:
            ready = self._kubernetes.exists(
                cluster_id,
                route.kubeconfig_secret,
                namespace,
                api_server_hosts=route.api_server_hosts,
            )
            return SUCCEEDED if ready else None
        return self._managed.state(cluster_id, namespace)

    def states(
        self, cluster_id: ResourceId, namespaces: list[str], route: NamespaceRoute
    ) -> dict[str, str | None]:
        """``state`` of each of ``namespaces``: through ARM, one list of the cluster's managed
        namespaces when there are several (a GET each otherwise: a read either way)."""
        if route.kubeconfig_secret is not None or len(namespaces) < 2:
            return {ns: self.state(cluster_id, ns, route) for ns in namespaces}
        shown = self._managed.states(cluster_id)
        return {ns: shown.get(ns.lower()) for ns in namespaces}

    def create(
        self,
        cluster_id: ResourceId,
        namespace: str,
        route: NamespaceRoute,
        location: str,
        before: str | None = None,
    ) -> None:
        """``before`` is the state observed (so it is not read again)."""
        if route.kubeconfig_secret is not None:
            self._kubernetes.create(
                cluster_id,
                route.kubeconfig_secret,
                namespace,
                {MANAGED_BY_TAG: MANAGED_BY_VALUE},
                api_server_hosts=route.api_server_hosts,
            )
        else:
            self._managed.create(cluster_id, namespace, location, route.adoption_policy, before)
