"""Microsoft.MachineLearningServices: workspace GET and Kubernetes compute GET/list/PUT/DELETE.

Shapes follow the machinelearningservices spec (Workspace, ComputeResource with
``computeType: Kubernetes``) for the api-versions azure-ai-ml sends (2023-04-01-preview for
workspaces' discovery calls, 2023-10-01 / 2024-10-01-preview for computes; the double accepts any).

Attach and detach take virtual time (the world's ``compute_attach_seconds`` and
``compute_detach_seconds``): the compute shows ``Creating`` (``Updating`` for a re-PUT) or
``Deleting`` meanwhile, and the operation status answers ``InProgress``. A system-assigned
compute's ``identity.principalId`` is in the attach's answer and every read after it (ARM makes a
system-assigned identity before the resource provider sees the PUT); a world with
``compute_principal_on_put: false`` shows it only once the creation has settled. A workspace on a
user-assigned identity can attach only once that identity's prerequisite roles on the cluster
have *taken effect* (role propagation, ``arm_authorization.holds_effective``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.arm_authorization import holds_effective
from sandbox.arm_http import Ctx, arm_error, bad_request, body_of, not_found
from sandbox.arm_ids import (
    SANDBOX_TENANT_ID,
    WORKSPACE_TYPE,
    deterministic_principal,
    key,
    name_of,
    resource_group_of,
    subscription_of,
)
from sandbox.arm_lro import settles_at
from sandbox.https import Response
from sandbox.world import SYSTEM_ASSIGNED, USER_ASSIGNED, Compute, Workspace

COMPUTE_TYPE = "Microsoft.MachineLearningServices/workspaces/computes"
# What a workspace's user-assigned identity needs on the cluster before attach, and how Azure ML
# answers without it (how-to-attach-kubernetes-to-workspace: "If the Kubernetes Extension
# Contributor role permission is not available, the cluster attachment fails with 'extension not
# installed' error"; without "Azure Kubernetes Service Cluster Admin" it fails with "internal
# server" error). Reader is listed there too; the double answers its absence like KEC's.
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
KUBERNETES_EXTENSION_CONTRIBUTOR = "85cb6faf-e071-4c9b-8136-154b5a04f717"
AKS_CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"  # with Trusted Access (attach doc)
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"
# A Kubernetes (any "other") compute's name ("Resource naming restrictions",
# Microsoft.MachineLearningServices workspaces/computes: "2-16 for other compute types"), refused
# with the RP's own words (quoted in MicrosoftDocs/azure-docs issue 55961). The error code is a
# guess (sandbox/README.md): the published traces show the 400 and the message, not the code.
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")
INVALID_COMPUTE_NAME = (
    "Compute name is invalid. It can include letters, digits and dashes. It must start with a "
    "letter, end with a letter or digit, and be between 2 and 16 characters in length."
)


def _workspace_or_404(ctx: Ctx) -> Workspace | Response:
    workspace_id = ctx.groups["ws"]
    workspace = ctx.world.workspaces.get(key(workspace_id))
    if workspace is None:
        return not_found(WORKSPACE_TYPE, name_of(workspace_id), resource_group_of(workspace_id))
    return workspace


def workspace_json(ctx: Ctx, workspace: Workspace) -> dict[str, Any]:
    identity: dict[str, Any]
    properties: dict[str, Any] = {
        "friendlyName": name_of(workspace.id),
        "workspaceId": str(uuid.uuid5(uuid.NAMESPACE_URL, key(workspace.id))),
        "storageAccount": workspace.storage_account,
        "containerRegistry": workspace.container_registry,
        "keyVault": None,
        "applicationInsights": None,
        "provisioningState": "Succeeded",
        "hbiWorkspace": False,
        "publicNetworkAccess": "Enabled",
        "discoveryUrl": f"{ctx.base_url}/discovery",
        "mlFlowTrackingUri": None,
    }
    if workspace.identity_type == "UserAssigned" and workspace.user_assigned_identity:
        uai = ctx.world.identities[key(workspace.user_assigned_identity)]
        identity = {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                uai.id: {"principalId": uai.principal_id, "clientId": uai.client_id}
            },
        }
        properties["primaryUserAssignedIdentity"] = uai.id
    else:
        identity = {
            "type": "SystemAssigned",
            "principalId": workspace.principal_id,
            "tenantId": SANDBOX_TENANT_ID,
        }
    return {
        "id": workspace.id,
        "name": name_of(workspace.id),
        "type": WORKSPACE_TYPE,
        "location": workspace.location,
        "tags": dict(workspace.tags),
        "kind": "Default",
        "sku": {"name": "Basic", "tier": "Basic"},
        "identity": identity,
        "properties": properties,
    }


def workspace(ctx: Ctx) -> Response:
    found = _workspace_or_404(ctx)
    if isinstance(found, Response):
        return found
    if ctx.request.method != "GET":
        return arm_error(405, "MethodNotAllowed", "The sandbox only reads workspaces.")
    with ctx.world.lock:
        return Response(200, workspace_json(ctx, found))


def compute_json(ctx: Ctx, compute: Compute, shown_state: str | None = None) -> dict[str, Any]:
    """The compute as ARM shows it; ``shown_state``: the state an answer reports instead (the
    attach's answer says ``Creating`` even when it settles at once)."""
    state = shown_state or compute.provisioning_state
    identity: dict[str, Any] | None
    if compute.identity_type is None:
        identity = None
    elif compute.identity_type == USER_ASSIGNED and compute.user_assigned_identity:
        uai = ctx.world.identities.get(key(compute.user_assigned_identity))
        identity = {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                (uai.id if uai else compute.user_assigned_identity): {
                    "principalId": uai.principal_id if uai else None,
                    "clientId": uai.client_id if uai else None,
                }
            },
        }
    elif state == "Creating" and not ctx.world.compute_principal_on_put:
        identity = {"type": "SystemAssigned"}  # the guess this world takes: no principal yet
    else:
        identity = {
            "type": "SystemAssigned",
            "principalId": compute.principal_id,
            "tenantId": SANDBOX_TENANT_ID,
        }
    stamp = ctx.timestamp()
    payload: dict[str, Any] = {
        "id": compute.id,
        "name": compute.name,
        "type": COMPUTE_TYPE,
        "location": compute.location,
        "tags": dict(compute.tags),
        "identity": identity,
        "properties": {
            "computeType": "Kubernetes",
            "computeLocation": compute.location,
            "description": compute.description,
            "createdOn": _created_on(ctx, compute),
            "modifiedOn": stamp,
            "resourceId": compute.resource_id,
            "provisioningState": state,
            "provisioningErrors": _errors(compute, state),
            "isAttachedCompute": True,
            "disableLocalAuth": True,
            "properties": {"namespace": compute.namespace},
        },
    }
    if identity is None:
        del payload["identity"]
    return payload


def _errors(compute: Compute, state: str) -> list[dict[str, Any]] | None:
    """A failed attach's error, as the compute shows it once Failed (*Guesses* G21)."""
    if state != "Failed" or compute.error is None:
        return None
    return [{"error": {"code": compute.error["code"], "message": compute.error["message"]}}]


def _created_on(ctx: Ctx, compute: Compute) -> str:
    """When the compute was made (a re-PUT keeps it), the same on every read."""
    moment = ctx.clock.at(compute.created_at or 0.0)
    return moment.isoformat().replace("+00:00", "Z")


def computes(ctx: Ctx) -> Response:
    found = _workspace_or_404(ctx)
    if isinstance(found, Response):
        return found
    ws = found
    name = ctx.groups.get("name")
    method = ctx.request.method
    with ctx.world.lock:
        if name is None:
            items = sorted(ctx.world.computes_of(ws.id), key=lambda c: c.name.lower())
            return Response(200, {"value": [compute_json(ctx, c) for c in items]})
        compute = ctx.world.compute(ws.id, name)
        if method == "GET":
            if compute is None:
                return not_found(COMPUTE_TYPE, name, resource_group_of(ws.id))
            return Response(200, compute_json(ctx, compute))
        if method == "PUT":
            return _put_compute(ctx, ws, name, compute)
        if method == "DELETE":
            return _delete_compute(ctx, ws, name, compute)
    return arm_error(405, "MethodNotAllowed", f"{method} is not allowed here.")


def _identity_of(ctx: Ctx, raw: Any) -> tuple[str | None, str | None] | Response:
    """(identity_type, user-assigned id) from a PUT body; accepts every casing the SDKs send.

    azure-ai-ml sends "SystemAssigned" for ``type="system_assigned"`` but "Systemassigned" for
    ``type="SystemAssigned"`` (and "Userassigned" likewise); the service accepts all of them.
    """
    if not isinstance(raw, dict) or not raw.get("type"):
        return None, None
    kind = str(raw["type"]).replace("_", "").replace(" ", "").lower()
    if kind == "none":
        return None, None
    if kind == "systemassigned":
        return SYSTEM_ASSIGNED, None
    if kind == "userassigned":
        identities = raw.get("userAssignedIdentities") or {}
        if not identities:
            return bad_request(
                "BadRequest", "identity.userAssignedIdentities is required for UserAssigned."
            )
        uai_id = next(iter(identities))
        if key(uai_id) not in ctx.world.identities:
            return bad_request("BadRequest", f"User assigned identity '{uai_id}' was not found.")
        return USER_ASSIGNED, ctx.world.identities[key(uai_id)].id
    return bad_request(
        "BadRequest",
        f"identity.type '{raw['type']}' is not supported; use SystemAssigned or UserAssigned.",
    )


@dataclass(frozen=True)
class AttachFailure:
    """Why Azure ML cannot attach a cluster: the operation's error (``attach_failures:
    "operation"``) or, refused at once, the answer's status and error (``"refusal"``)."""

    status: int
    code: str
    message: str
    details: tuple[dict[str, str], ...] = ()

    def refusal(self) -> Response:
        return arm_error(self.status, self.code, self.message, details=list(self.details) or None)

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = list(self.details)
        return error


def _put_compute(ctx: Ctx, ws: Workspace, name: str, existing: Compute | None) -> Response:
    if existing is None and not COMPUTE_NAME.match(name):
        return bad_request("BadRequest", INVALID_COMPUTE_NAME)
    body = body_of(ctx.request)
    properties = body.get("properties") or {}
    if str(properties.get("computeType", "")).lower() != "kubernetes":
        return bad_request("BadRequest", "The sandbox only supports computeType Kubernetes.")
    resource_id = str(properties.get("resourceId") or "")
    if not resource_id:
        return bad_request("BadRequest", "properties.resourceId is required.")
    refusing = ctx.world.attach_failures == "refusal"
    early = _other_subscription(ws, name, resource_id) or _attach_problem(ctx, resource_id)
    if early is not None and refusing:
        return early.refusal()
    if existing is not None and existing.settles_at is not None:
        return _operation_in_progress(name, existing)
    late = early or _prerequisite_problem(ctx, ws, resource_id)
    if late is not None and refusing:
        return late.refusal()
    if existing is not None and key(existing.resource_id) != key(resource_id):
        return arm_error(
            409,
            "Conflict",
            f"Compute '{name}' already exists in the workspace and is attached to another "
            "resource; update of resourceId is not allowed.",
        )
    identity = _identity_of(ctx, body.get("identity"))
    if isinstance(identity, Response):
        return identity
    identity_type, uai_id = identity
    inner = properties.get("properties") or {}
    error = late.error() if late is not None else None
    failed = ctx.lro_should_fail() or error is not None
    done_at = settles_at(ctx.clock.seconds(), ctx.world.compute_attach_seconds)
    final_state = "Failed" if failed else "Succeeded"
    pending_state = "Creating" if existing is None else "Updating"
    compute = Compute(
        workspace=ws.id,
        name=existing.name if existing else name,
        resource_id=resource_id,
        namespace=str(inner.get("namespace") or "default"),
        identity_type=identity_type,
        user_assigned_identity=uai_id,
        provisioning_state=final_state if done_at is None else pending_state,
        tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
        description=properties.get("description"),
        location=ws.location,
        settles_at=done_at,
        final_state=final_state,
        created_at=existing.created_at if existing else ctx.clock.seconds(),
        error=error,
    )
    if identity_type == SYSTEM_ASSIGNED:
        compute.principal_id = deterministic_principal(compute.id)
    elif uai_id:
        compute.principal_id = ctx.world.identities[key(uai_id)].principal_id
    ctx.world.put_compute(compute)
    payload = compute_json(ctx, compute, shown_state=pending_state)
    headers = ctx.lro_headers(compute.id, failed, error=error, done_at=done_at)
    return Response(200 if existing else 201, payload, headers)


def _operation_in_progress(name: str, existing: Compute) -> Response:
    doing = "detached" if existing.final_state == "Deleted" else "attached"
    return arm_error(
        409,
        "AnotherOperationInProgress",
        f"Compute '{name}' is being {doing} ({existing.provisioning_state}); retry when the "
        "operation has finished.",
    )


def prerequisite_roles(world: Any, ws: Workspace, resource_id: str) -> list[str]:
    """The roles a workspace's user-assigned identity needs on the cluster to attach it: Reader,
    Kubernetes Extension Contributor, AKS Cluster Admin, and Contributor on an AKS cluster whose
    Trusted Access binds the workspace (the attach doc's user-assigned identity notes)."""
    roles = [READER, KUBERNETES_EXTENSION_CONTRIBUTOR, AKS_CLUSTER_ADMIN]
    cluster = world.cluster(resource_id)
    if cluster is not None and key(ws.id) in {key(w) for w in cluster.trusted_access}:
        roles.append(CONTRIBUTOR)
    return roles


def _prerequisite_problem(ctx: Ctx, ws: Workspace, resource_id: str) -> AttachFailure | None:
    """A workspace on a user-assigned identity needs its roles on the cluster *in effect*
    (propagated), or attach fails as Azure ML fails it. A system-assigned workspace identity
    needs nothing from us."""
    if ws.identity_type != "UserAssigned" or not ws.user_assigned_identity:
        return None
    identity = ctx.world.identities.get(key(ws.user_assigned_identity))
    if identity is None:
        return None
    principal = identity.principal_id

    def held(role: str) -> bool:
        return holds_effective(ctx.world, resource_id, principal, role)

    if not all(held(role) for role in (READER, KUBERNETES_EXTENSION_CONTRIBUTOR)):
        return _extension_not_installed(resource_id)
    missing = [r for r in prerequisite_roles(ctx.world, ws, resource_id) if not held(r)]
    if missing:
        return AttachFailure(
            500,
            "InternalServerError",
            "An internal server error occurred while attaching the cluster "
            f"'{resource_id}'. Please retry later.",
        )
    return None


def _extension_not_installed(resource_id: str) -> AttachFailure:
    return AttachFailure(
        400,
        "BadRequest",
        f"The AzureML extension (Microsoft.AzureML.Kubernetes) is not installed or not in "
        f"Succeeded state on cluster '{resource_id}'.",
        ({"code": "ExtensionNotReady", "message": "Install the extension first."},),
    )


def _other_subscription(ws: Workspace, name: str, resource_id: str) -> AttachFailure | None:
    """Azure ML attaches only clusters of the workspace's own subscription. The refusal is
    modelled: its real wording and code were not found (sandbox/README.md, *Guesses* G5)."""
    if same_subscription(ws.id, resource_id):
        return None
    return AttachFailure(
        400,
        "BadRequest",
        f"Compute '{name}' cannot attach cluster '{resource_id}': it is in another subscription "
        f"('{subscription_of(resource_id)}') than the workspace ('{subscription_of(ws.id)}'); "
        "a Kubernetes cluster must be in the workspace's subscription.",
    )


def same_subscription(a: str, b: str) -> bool:
    return subscription_of(a).lower() == subscription_of(b).lower()


def _attach_problem(ctx: Ctx, resource_id: str) -> AttachFailure | None:
    """Why a Kubernetes compute cannot attach to ``resource_id`` (None when it can)."""
    cluster = ctx.world.cluster(resource_id)
    if cluster is None:
        return AttachFailure(
            400,
            "BadRequest",
            f"The cluster '{resource_id}' was not found.",
            (
                {
                    "code": "ResourceNotFound",
                    "message": f"Resource '{resource_id}' does not exist or is not accessible.",
                },
            ),
        )
    seconds = ctx.clock.seconds()
    ready = [
        e
        for e in cluster.extensions.values()
        if e.extension_type.lower() == AZUREML_EXTENSION_TYPE and e.state_at(seconds) == "Succeeded"
    ]
    if not ready:
        return _extension_not_installed(resource_id)
    return None


def _delete_compute(ctx: Ctx, ws: Workspace, name: str, existing: Compute | None) -> Response:
    action = ctx.request.query.get("underlyingResourceAction", "")
    if action.lower() not in {"detach", "delete"}:
        return bad_request(
            "BadRequest", "Query parameter underlyingResourceAction must be Delete or Detach."
        )
    if existing is None:
        return Response(204)
    if existing.settles_at is not None and existing.final_state != "Deleted":
        return _operation_in_progress(name, existing)
    failed = ctx.lro_should_fail()
    done_at = existing.settles_at
    if failed:
        existing.provisioning_state = "Failed"
    elif done_at is None:  # not already being detached
        done_at = settles_at(ctx.clock.seconds(), ctx.world.compute_detach_seconds)
        if done_at is None:
            del ctx.world.computes[f"{key(ws.id)}/computes/{name.lower()}"]
        else:
            existing.provisioning_state = "Deleting"
            existing.settles_at = done_at
            existing.final_state = "Deleted"
    headers = ctx.lro_headers(existing.id, failed, done_at=None if failed else done_at)
    return Response(202, None, headers)
