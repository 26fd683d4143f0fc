"""AKS managed namespaces: managedClusters/{c}/managedNamespaces.

JSON follows containerservice's managed namespaces (``managedClusters/{c}/managedNamespaces/{ns}``).

A managed namespace is an ARM resource *over* a Kubernetes namespace; the two are kept apart
(``Cluster.managed_namespaces`` and ``Cluster.namespaces``). A Kubernetes namespace made some other
way (the world file, kubectl, the AzureML extension's ``azureml``) is not an ARM resource: GET
answers 404. A PUT for a name that exists only in Kubernetes follows ``properties.adoptionPolicy``
(the spec's descriptions):

- ``Never`` (also when absent -- a guess): the operation fails, ``NamespaceAlreadyExists``;
- ``IfIdentical``: adopted if there is no difference, that is if every label and annotation the
  PUT names already has that value on the namespace (our reading of "no difference"), else the
  operation fails, ``NamespaceNotIdentical``;
- ``Always``: adopted, the PUT's labels and annotations overwrite the namespace's.

A failed write leaves the resource with ``provisioningState: Failed`` (as ARM does) and the
Kubernetes namespace as it was; the long-running operation ends ``Failed`` with the error. The
error codes and messages are modelled (see sandbox/README.md). DELETE follows ``deletePolicy``:
``Keep`` leaves the Kubernetes namespace, ``Delete`` removes it. A PUT or a DELETE takes the
world's ``namespace_create_seconds`` of virtual time (``Creating``/``Updating``/``Deleting`` until
then; a deleted one is gone after); another PUT or a DELETE meanwhile is refused 409
``OperationNotAllowed``. Served at the api-versions the product and the SDK send: the type
data's 2026-05-01 and, checked against it, the stable 2025-10-01, 2025-09-01 and
azure-mgmt-containerservice 41.8's default 2026-08-01 (sandbox/contracts.py
``VERSION_ALIASES``).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.arm_extensions import cluster_or_404
from sandbox.arm_http import Ctx, arm_error, bad_request, body_of, not_found
from sandbox.arm_ids import name_of, resource_group_of
from sandbox.arm_lro import settles_at
from sandbox.https import Response
from sandbox.world import Cluster, ManagedNamespace, Namespace

NAMESPACES_TYPE = "Microsoft.ContainerService/managedClusters/managedNamespaces"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ADOPTION_POLICIES = ("Never", "IfIdentical", "Always")
DELETE_POLICIES = ("Keep", "Delete")
# "Trying to on-board system namespaces such as kube-system, app-routing-system, istio-system,
# gatekeeper-system, etc. ... isn't allowed" (AKS, "Use managed namespaces"); the rest a guess.
SYSTEM_NAMESPACES = frozenset(
    {
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "app-routing-system",
        "istio-system",
        "gatekeeper-system",
        "calico-system",
        "tigera-operator",
    }
)


# ---- managed namespaces ----


def namespace_json(cluster: Cluster, namespace: ManagedNamespace, seconds: float) -> dict[str, Any]:
    return {
        "id": f"{cluster.id}/managedNamespaces/{namespace.name}",
        "name": namespace.name,
        "type": NAMESPACES_TYPE,
        "location": cluster.location,
        "tags": dict(namespace.tags),
        "properties": {
            "provisioningState": namespace.state_at(seconds),
            "labels": dict(namespace.labels),
            "annotations": dict(namespace.annotations),
            "portalFqdn": f"{name_of(cluster.id)}-sandbox.portal.hcp.{cluster.location}.azmk8s.io",
            "adoptionPolicy": namespace.adoption_policy,
            "deletePolicy": namespace.delete_policy,
        },
    }


def managed_namespaces(ctx: Ctx) -> Response:
    found = cluster_or_404(ctx)
    if isinstance(found, Response):
        return found
    cluster = found
    name = ctx.groups.get("name")
    method = ctx.request.method
    now = ctx.clock.seconds()
    with ctx.world.lock:
        _forget_deleted(cluster, now)
        if name is None:
            items = sorted(cluster.managed_namespaces.values(), key=lambda n: n.name)
            return Response(200, {"value": [namespace_json(cluster, n, now) for n in items]})
        managed = cluster.managed_namespaces.get(name.lower())
        if method == "GET":
            if managed is None:
                return not_found(NAMESPACES_TYPE, name, resource_group_of(cluster.id))
            return Response(200, namespace_json(cluster, managed, now))
        if managed is not None and managed.settles_at is not None and now < managed.settles_at:
            return arm_error(
                409,
                "OperationNotAllowed",
                f"Operation is not allowed because there's an in progress "
                f"{managed.pending_state.lower()} operation on managed namespace '{name}'. "
                "Please wait for it to finish before sending another request.",
            )
        if method == "PUT":
            return _put_namespace(ctx, cluster, name, managed)
        if method == "DELETE":
            return _delete_namespace(ctx, cluster, managed)
    return arm_error(405, "MethodNotAllowed", f"{method} is not allowed here.")


def _put_namespace(
    ctx: Ctx, cluster: Cluster, name: str, existing: ManagedNamespace | None
) -> Response:
    if not cluster.azure_rbac:
        return bad_request(
            "BadRequest",
            "Managed namespaces require Microsoft Entra ID integration with Azure RBAC enabled "
            "on the cluster (aadProfile.enableAzureRBAC).",
        )
    if len(name) > 63 or not _NAME.match(name):
        return bad_request(
            "InvalidParameter",
            f"The managed namespace name '{name}' is invalid: it must be a lowercase RFC 1123 "
            "label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters).",
        )
    if name in SYSTEM_NAMESPACES:
        return bad_request(
            "InvalidParameter",
            f"'{name}' is a system namespace and cannot be a managed namespace.",
        )
    body = body_of(ctx.request)
    properties = body.get("properties") or {}
    adoption = properties.get("adoptionPolicy") or "Never"
    delete = properties.get("deletePolicy") or "Keep"
    if adoption not in ADOPTION_POLICIES or delete not in DELETE_POLICIES:
        return bad_request(
            "InvalidParameter",
            f"properties.adoptionPolicy must be one of {', '.join(ADOPTION_POLICIES)} and "
            f"properties.deletePolicy one of {', '.join(DELETE_POLICIES)}.",
        )
    labels = {str(k): str(v) for k, v in (properties.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (properties.get("annotations") or {}).items()}
    managed = existing is not None and existing.provisioning_state == "Succeeded"
    error = None if managed else _adoption_error(cluster, name, adoption, labels, annotations)
    if error is None and ctx.lro_should_fail():
        error = {"code": "OperationFailed", "message": "Injected long-running operation failure."}
    now = ctx.clock.seconds()
    namespace = ManagedNamespace(
        name=existing.name if existing else name,
        adoption_policy=adoption,
        delete_policy=delete,
        labels=labels,
        annotations=annotations,
        tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
        provisioning_state="Failed" if error else "Succeeded",
        pending_state="Creating" if existing is None else "Updating",
        settles_at=settles_at(now, ctx.world.namespace_create_seconds),
    )
    cluster.managed_namespaces[name.lower()] = namespace
    if error is None:
        kubernetes = cluster.namespaces.setdefault(name.lower(), Namespace(name))
        kubernetes.labels.update(labels)
        kubernetes.annotations.update(annotations)
    response = namespace_json(cluster, namespace, now)
    response["properties"]["provisioningState"] = namespace.pending_state
    headers = ctx.lro_headers(
        response["id"], error is not None, error=error, done_at=namespace.settles_at
    )
    return Response(200 if existing else 201, response, headers)


def _adoption_error(
    cluster: Cluster,
    name: str,
    adoption: str,
    labels: dict[str, str],
    annotations: dict[str, str],
) -> dict[str, str] | None:
    """Why a PUT may not take over the Kubernetes namespace of that name (None: it may)."""
    kubernetes = cluster.namespaces.get(name.lower())
    if kubernetes is None or adoption == "Always":
        return None
    if adoption == "Never":
        return {
            "code": "NamespaceAlreadyExists",
            "message": (
                f"Namespace '{name}' already exists in the cluster and is not a managed "
                "namespace; adoptionPolicy 'Never' does not adopt it. Use adoptionPolicy "
                "'IfIdentical' or 'Always' to adopt it."
            ),
        }
    differences = sorted(
        [f"label {k}" for k, v in labels.items() if kubernetes.labels.get(k) != v]
        + [f"annotation {k}" for k, v in annotations.items() if kubernetes.annotations.get(k) != v]
    )
    if not differences:
        return None
    return {
        "code": "NamespaceNotIdentical",
        "message": (
            f"Namespace '{name}' already exists in the cluster and differs from the request "
            f"({', '.join(differences)}); adoptionPolicy 'IfIdentical' adopts only an identical "
            "namespace. Use adoptionPolicy 'Always' to adopt it and overwrite those fields."
        ),
    }


def _forget_deleted(cluster: Cluster, seconds: float) -> None:
    """Managed namespaces whose delete has finished are gone."""
    for record_key, managed in list(cluster.managed_namespaces.items()):
        if managed.pending_state == "Deleting" and managed.state_at(seconds) != "Deleting":
            del cluster.managed_namespaces[record_key]


def _delete_namespace(ctx: Ctx, cluster: Cluster, existing: ManagedNamespace | None) -> Response:
    """The namespace shows ``Deleting`` for ``namespace_create_seconds`` (a guess: the same time
    as a write), then is gone (404)."""
    if existing is None:
        return Response(204, None)
    if existing.delete_policy == "Delete" and existing.provisioning_state == "Succeeded":
        cluster.namespaces.pop(existing.name.lower(), None)
    resource_id = f"{cluster.id}/managedNamespaces/{existing.name}"
    done_at = settles_at(ctx.clock.seconds(), ctx.world.namespace_create_seconds)
    if done_at is None:
        del cluster.managed_namespaces[existing.name.lower()]
    else:
        existing.pending_state = "Deleting"
        existing.settles_at = done_at
    return Response(202, None, ctx.lro_headers(resource_id, done_at=done_at))
