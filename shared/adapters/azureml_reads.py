"""Azure ML workspaces and computes read through plain ARM, as the product's plain data.

A read is a GET of the ARM resource (``Microsoft.MachineLearningServices/workspaces`` and its
``computes``) through the same client pipeline as every ARM adapter (shared.adapters.arm: the
credential, the bounded retries, the urllib3 transport), at the api-versions azure-ai-ml sends
for them: the same requests as ``MLClient.workspaces.get``, ``compute.get`` and ``compute.list``,
without importing azure-ai-ml (over a second of CPU), which a new cluster's path up to its first
write does not otherwise need. azure-ai-ml stays for the attach and the detach
(shared.adapters.azureml).

The answers are read as azure-ai-ml 1.35 reads them into its entities (``Workspace``,
``KubernetesCompute``), field for field: a compute's ``createdOn`` is kept as ARM's text (the
ledger compares it, shared.decisions.ownership), its identity's type compared without case or
underscores, the first provisioning error's code kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.model import ComputeState, IdentityType, WorkspaceState
from shared.decisions.ownership import Claim, claim_of

# What azure-ai-ml 1.35's MLClient sends for these reads (its workspace and compute operations).
WORKSPACE_API_VERSION = "2024-10-01-preview"
COMPUTE_API_VERSION = "2023-08-01-preview"


def workspace_url(workspace_id: ResourceId) -> str:
    return f"{workspace_id.raw}?api-version={WORKSPACE_API_VERSION}"


def compute_url(workspace_id: ResourceId, name: str | None = None) -> str:
    path = f"{workspace_id.raw}/computes" + (f"/{name}" if name is not None else "")
    return f"{path}?api-version={COMPUTE_API_VERSION}"


def workspace_state(workspace_id: ResourceId, answer: Mapping[str, Any]) -> WorkspaceState:
    """The workspace as ARM answered a GET of it."""
    properties = _mapping(answer.get("properties"))
    identity = _workspace_identity(answer)
    return WorkspaceState(
        id=workspace_id,
        location=str(answer.get("location") or ""),
        storage_account=_optional_id(properties.get("storageAccount")),
        container_registry=_optional_id(properties.get("containerRegistry")),
        user_assigned_identity=identity,
        user_assigned_principal=_principal_named(answer, identity),
    )


def compute_state(workspace_id: ResourceId, answer: Mapping[str, Any]) -> ComputeState:
    """The compute as ARM answered a GET, a list or a PUT of it."""
    properties = _mapping(answer.get("properties"))
    identity = _mapping(answer.get("identity"))
    identity_type: IdentityType | None = None
    principal_id = None
    user_assigned: ResourceId | None = None
    kind = _kind(identity.get("type"))
    if kind.startswith("userassigned"):
        identity_type = IdentityType.USER_ASSIGNED
        users = list(_mapping(identity.get("userAssignedIdentities")).items())
        if users:
            first_id, first = users[0]
            principal_id = _mapping(first).get("principalId")
            user_assigned = _optional_id(first_id)
    elif kind.startswith("systemassigned"):
        identity_type = IdentityType.SYSTEM_ASSIGNED
        principal_id = identity.get("principalId")
    name = str(answer.get("name") or "")
    cluster_id = _optional_id(properties.get("resourceId"))
    claim = claim_of(
        workspace_id, name, cluster_id, properties.get("description"), answer.get("tags")
    )
    return ComputeState(
        workspace_id=workspace_id,
        name=name,
        cluster_id=cluster_id,
        namespace=str(_mapping(properties.get("properties")).get("namespace") or ""),
        identity_type=identity_type,
        principal_id=str(principal_id) if principal_id else None,
        provisioning_state=str(properties.get("provisioningState") or ""),
        managed_by_autoattach=claim is Claim.SEALED,
        user_assigned_identity=user_assigned,
        created_on=str(properties.get("createdOn") or ""),
        # as azure-ai-ml: only the first provisioning error's code
        errors=_first_error_code(properties.get("provisioningErrors")),
        legacy_claim=claim is Claim.LEGACY,
    )


def listed(pages: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """The items of a paged ARM list (``value`` on each page)."""
    for page in pages:
        for item in page.get("value") or []:
            if isinstance(item, Mapping):
                yield item


def _workspace_identity(answer: Mapping[str, Any]) -> ResourceId | None:
    """The workspace's user-assigned identity (its primary one, if it names one), or None."""
    identity = _mapping(answer.get("identity"))
    kind = _kind(identity.get("type"))
    if not identity or "userassigned" not in kind or "systemassigned" in kind:
        return None
    primary = _optional_id(_mapping(answer.get("properties")).get("primaryUserAssignedIdentity"))
    if primary is not None:
        return primary
    users = list(_mapping(identity.get("userAssignedIdentities")))
    return _optional_id(users[0]) if users else None


def _principal_named(answer: Mapping[str, Any], identity: ResourceId | None) -> str:
    """The principal the workspace's answer gives its user-assigned ``identity`` (ARM lists each
    user-assigned identity with its principalId), or "" when it gives none."""
    if identity is None:
        return ""
    users = _mapping(_mapping(answer.get("identity")).get("userAssignedIdentities"))
    for raw_id, user in users.items():
        if _optional_id(raw_id) == identity:
            return str(_mapping(user).get("principalId") or "")
    return ""


def _first_error_code(errors: Any) -> str:
    if not isinstance(errors, list) or not errors:
        return ""
    return str(_mapping(_mapping(errors[0]).get("error")).get("code") or "")


def _kind(value: Any) -> str:
    """An identity type compared as azure-ai-ml compares it: "SystemAssigned",
    "system_assigned" and "Systemassigned" alike."""
    return str(value or "").lower().replace("_", "").replace(" ", "")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _optional_id(value: Any) -> ResourceId | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return ResourceId.parse(value)
    except InvalidResourceId:
        return None
