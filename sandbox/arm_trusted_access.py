"""AKS Trusted Access: ``managedClusters/{c}/trustedAccessRoleBindings`` (read only).

A binding lets a source resource (here: an Azure ML workspace) reach the cluster with the roles
it names (containerservice spec, ``TrustedAccessRoleBindings_List``; the Azure ML role is
``Microsoft.MachineLearningServices/workspaces/mlworkload``). The world's cluster
``trusted_access`` lists the workspaces bound, one binding each. How this shows that a cluster
"uses Trusted Access" for a workspace is the double's reading (sandbox/README.md, *Guesses* G10);
the attach check that follows from it (Contributor for a workspace's user-assigned identity) is
in ``arm_ml.prerequisite_roles``.
"""

from __future__ import annotations

from typing import Any

from sandbox.arm_extensions import cluster_or_404
from sandbox.arm_http import Ctx, arm_error, not_found
from sandbox.arm_ids import name_of, resource_group_of
from sandbox.https import Response
from sandbox.world import Cluster

BINDINGS_TYPE = "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings"
AZUREML_ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"


def binding_name(workspace_id: str) -> str:
    """A binding's name (at most 24 letters, digits, hyphens): from the workspace's name."""
    cleaned = "".join(c for c in name_of(workspace_id) if c.isalnum() or c == "-")
    return (cleaned or "workspace")[:24]


def binding_json(cluster: Cluster, workspace_id: str) -> dict[str, Any]:
    name = binding_name(workspace_id)
    return {
        "id": f"{cluster.id}/trustedAccessRoleBindings/{name}",
        "name": name,
        "type": BINDINGS_TYPE,
        "properties": {
            "provisioningState": "Succeeded",
            "sourceResourceId": workspace_id,
            "roles": [AZUREML_ROLE],
        },
    }


def trusted_access_role_bindings(ctx: Ctx) -> Response:
    found = cluster_or_404(ctx)
    if isinstance(found, Response):
        return found
    cluster = found
    if ctx.request.method != "GET":
        return arm_error(405, "MethodNotAllowed", "The sandbox only reads Trusted Access bindings.")
    name = ctx.groups.get("name")
    with ctx.world.lock:
        bindings = [binding_json(cluster, w) for w in cluster.trusted_access]
    if name is None:
        return Response(200, {"value": bindings})
    for binding in bindings:
        if binding["name"].lower() == name.lower():
            return Response(200, binding)
    return not_found(BINDINGS_TYPE, name, resource_group_of(cluster.id))
