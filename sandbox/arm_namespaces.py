"""AKS managed namespaces: managedClusters/{c}/managedNamespaces.

JSON follows containerservice's managed namespaces (``managedClusters/{c}/managedNamespaces/{ns}``).
"""

from __future__ import annotations

from typing import Any

from sandbox.arm_http import Ctx, arm_error, bad_request, body_of, not_found
from sandbox.arm_ids import name_of, resource_group_of, type_of
from sandbox.https import Response
from sandbox.world import Cluster, Namespace

NAMESPACES_TYPE = "Microsoft.ContainerService/managedClusters/managedNamespaces"


def _cluster_or_404(ctx: Ctx) -> Cluster | Response:
    cluster_id = ctx.groups["cluster"]
    cluster = ctx.world.cluster(cluster_id)
    if cluster is None:
        return not_found(type_of(cluster_id), name_of(cluster_id), resource_group_of(cluster_id))
    return cluster


# ---- managed namespaces ----


def namespace_json(cluster: Cluster, namespace: Namespace) -> dict[str, Any]:
    return {
        "id": f"{cluster.id}/managedNamespaces/{namespace.name}",
        "name": namespace.name,
        "type": NAMESPACES_TYPE,
        "location": cluster.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "labels": dict(namespace.labels),
            "annotations": dict(namespace.annotations),
            "portalFqdn": f"{name_of(cluster.id)}-sandbox.portal.hcp.{cluster.location}.azmk8s.io",
            "adoptionPolicy": "Never",
            "deletePolicy": "Keep",
        },
    }


def managed_namespaces(ctx: Ctx) -> Response:
    found = _cluster_or_404(ctx)
    if isinstance(found, Response):
        return found
    cluster = found
    name = ctx.groups.get("name")
    method = ctx.request.method
    with ctx.world.lock:
        if name is None:
            items = sorted(cluster.namespaces.values(), key=lambda n: n.name)
            return Response(200, {"value": [namespace_json(cluster, n) for n in items]})
        namespace = cluster.namespaces.get(name.lower())
        if method == "GET":
            if namespace is None:
                return not_found(NAMESPACES_TYPE, name, resource_group_of(cluster.id))
            return Response(200, namespace_json(cluster, namespace))
        if method == "PUT":
            return _put_namespace(ctx, cluster, name, namespace)
    return arm_error(405, "MethodNotAllowed", f"{method} is not allowed here.")


def _put_namespace(ctx: Ctx, cluster: Cluster, name: str, existing: Namespace | None) -> Response:
    if not cluster.azure_rbac:
        return bad_request(
            "BadRequest",
            "Managed namespaces require Microsoft Entra ID integration with Azure RBAC enabled "
            "on the cluster (aadProfile.enableAzureRBAC).",
        )
    properties = body_of(ctx.request).get("properties") or {}
    failed = ctx.lro_should_fail()
    namespace = Namespace(
        name=existing.name if existing else name,
        labels=dict(properties.get("labels") or {}),
        annotations=dict(properties.get("annotations") or {}),
    )
    if not failed:
        cluster.namespaces[name.lower()] = namespace
    body = namespace_json(cluster, namespace)
    body["properties"]["provisioningState"] = "Creating" if existing is None else "Updating"
    headers = ctx.lro_headers(body["id"], failed)
    return Response(200 if existing else 201, body, headers)
