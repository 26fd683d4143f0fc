"""Cluster extensions: Microsoft.KubernetesConfiguration/extensions.

Extension JSON follows the kubernetesconfiguration 2023-05-01 spec (the SDK's default).

An extension PUT answers ``Creating`` (``Updating`` for an existing one) and stays so for the
world's ``extension_install_seconds`` of virtual time, then ends ``Succeeded`` -- or ``Failed``
after ``fail_next_lro`` or with ``extension_install_outcome: "Failed"``. Its LRO reports
``InProgress`` until then.
"""

from __future__ import annotations

from typing import Any

from sandbox.arm_http import Ctx, arm_error, bad_request, body_of, not_found
from sandbox.arm_ids import name_of, resource_group_of, type_of
from sandbox.https import Response
from sandbox.world import Cluster, Extension

EXTENSIONS_TYPE = "Microsoft.KubernetesConfiguration/extensions"


def cluster_or_404(ctx: Ctx) -> Cluster | Response:
    """The cluster a child route names, or ARM's 404 for it."""
    cluster_id = ctx.groups["cluster"]
    cluster = ctx.world.cluster(cluster_id)
    if cluster is None:
        return not_found(type_of(cluster_id), name_of(cluster_id), resource_group_of(cluster_id))
    return cluster


# ---- extensions -----------------------------------------------------------------------------


def extension_json(cluster: Cluster, extension: Extension, seconds: float) -> dict[str, Any]:
    state = extension.state_at(seconds)
    error_info = None
    if state == "Failed":
        error_info = {
            "code": "ExtensionOperationFailed",
            "message": f"The extension '{extension.name}' failed to install (sandbox).",
        }
    return {
        "id": f"{cluster.id}/providers/{EXTENSIONS_TYPE}/{extension.name}",
        "name": extension.name,
        "type": EXTENSIONS_TYPE,
        "properties": {
            "extensionType": extension.extension_type,
            "autoUpgradeMinorVersion": extension.auto_upgrade_minor_version,
            "releaseTrain": extension.release_train,
            "version": extension.version,
            "currentVersion": extension.version or "1.1.70",
            "scope": {"cluster": {"releaseNamespace": extension.release_namespace}},
            "configurationSettings": dict(extension.configuration_settings),
            "configurationProtectedSettings": {},
            "provisioningState": state,
            "statuses": [],
            "errorInfo": error_info,
            "isSystemExtension": False,
            "aksAssignedIdentity": None,
        },
    }


def extensions(ctx: Ctx) -> Response:
    found = cluster_or_404(ctx)
    if isinstance(found, Response):
        return found
    cluster = found
    name = ctx.groups.get("name")
    method = ctx.request.method
    seconds = ctx.clock.seconds()
    with ctx.world.lock:
        if name is None:
            if method != "GET":
                return arm_error(405, "MethodNotAllowed", f"{method} is not allowed here.")
            items = sorted(cluster.extensions.values(), key=lambda e: e.name.lower())
            return Response(200, {"value": [extension_json(cluster, e, seconds) for e in items]})
        extension = cluster.extensions.get(name.lower())
        if method == "GET":
            if extension is None:
                return not_found(EXTENSIONS_TYPE, name, resource_group_of(cluster.id))
            return Response(200, extension_json(cluster, extension, seconds))
        if method == "PUT":
            return _put_extension(ctx, cluster, name, extension)
        if method == "DELETE":
            if extension is None:
                return Response(204)
            del cluster.extensions[name.lower()]
            resource_id = f"{cluster.id}/providers/{EXTENSIONS_TYPE}/{name}"
            return Response(202, None, ctx.lro_headers(resource_id, ctx.lro_should_fail()))
    return arm_error(405, "MethodNotAllowed", f"{method} is not allowed here.")


def _put_extension(ctx: Ctx, cluster: Cluster, name: str, existing: Extension | None) -> Response:
    properties = body_of(ctx.request).get("properties") or {}
    extension_type = properties.get("extensionType")
    if not extension_type:
        return bad_request("InvalidParameter", "properties.extensionType is required.")
    if existing is not None and existing.extension_type.lower() != str(extension_type).lower():
        return bad_request(
            "InvalidParameter", "The extensionType of an existing extension cannot be changed."
        )
    world = ctx.world
    failed = ctx.lro_should_fail() or world.extension_install_outcome == "Failed"
    now = ctx.clock.seconds()
    done_at = now + world.extension_install_seconds
    scope = properties.get("scope") or {}
    release_namespace = ((scope.get("cluster") or {}).get("releaseNamespace")) or (
        existing.release_namespace if existing else "azureml"
    )
    extension = Extension(
        name=existing.name if existing else name,
        extension_type=str(extension_type),
        provisioning_state="Creating" if existing is None else "Updating",
        succeeds_after_seconds=done_at,
        final_state="Failed" if failed else "Succeeded",
        configuration_settings=dict(properties.get("configurationSettings") or {}),
        configuration_protected_settings=dict(
            properties.get("configurationProtectedSettings") or {}
        ),
        release_train=str(properties.get("releaseTrain") or "stable"),
        version=properties.get("version"),
        auto_upgrade_minor_version=bool(properties.get("autoUpgradeMinorVersion", True)),
        release_namespace=str(release_namespace),
        relay_name=existing.relay_name if existing else None,
    )
    cluster.extensions[name.lower()] = extension
    body = extension_json(cluster, extension, now)
    body["properties"]["provisioningState"] = extension.provisioning_state
    body["properties"]["errorInfo"] = None
    error = extension_json(cluster, extension, done_at)["properties"]["errorInfo"]
    headers = ctx.lro_headers(body["id"], failed, error=error, done_at=done_at)
    return Response(200 if existing else 201, body, headers)


# ---- managed namespaces ---------------------------------------------------------------------
