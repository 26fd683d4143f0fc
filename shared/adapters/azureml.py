"""Azure ML workspaces and Kubernetes computes (azure-ai-ml): read, attach, detach.

Attach and detach are long-running in Azure (the compute is ``Creating`` / ``Deleting`` for tens
of seconds to minutes). ``MLClient.compute.begin_*`` always polls, in a thread that sleeps in real
time, so the adapter sends only the first request, through the same SDK's operations with
``polling=False``, and returns; the caller looks at the compute again in a scheduled re-check.
"""

from __future__ import annotations

import zlib
from typing import Any

from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    Compute,
    IdentityConfiguration,
    KubernetesCompute,
    ManagedIdentityConfiguration,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.adapters.arm import ArmConnection, retry_kwargs
from shared.arm_id import InvalidResourceId, ResourceId
from shared.errors import TransientError, azure_call
from shared.model import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    Attachment,
    ComputeState,
    IdentityType,
    WorkspaceState,
    state_text,
)

CUSTOM_CLOUD = "AutoattachCustomCloud"
# Azure ML's answer to an attach whose workspace identity cannot (yet) see the cluster's
# extension: "extension not installed". The planner attaches only after it saw the extension
# Succeeded and the prerequisite roles listed, so this means they have not taken effect yet.
EXTENSION_NOT_READY = "ExtensionNotReady"


class AzureMLWorkspaces:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm
        self._clients: dict[str, MLClient] = {}

    def _ml(self, workspace_id: ResourceId) -> MLClient:
        if workspace_id.key not in self._clients:
            kwargs: dict[str, Any] = {}
            if not self._arm.is_public_cloud:
                endpoint = self._arm.endpoint.rstrip("/") + "/"
                kwargs = {
                    "cloud": f"{CUSTOM_CLOUD}-{zlib.crc32(endpoint.encode()):08x}",
                    "cloud_metadata": {
                        "azure_portal": endpoint,
                        "resource_manager": endpoint,
                        "active_directory": endpoint,
                        "aml_resource_id": endpoint,
                        "storage_endpoint": "core.windows.net",
                        "registry_discovery_endpoint": endpoint,
                    },
                }
            self._clients[workspace_id.key] = MLClient(
                self._arm.credential,
                workspace_id.subscription,
                workspace_id.resource_group,
                workspace_id.name,
                **kwargs,
                **retry_kwargs(),
            )
        return self._clients[workspace_id.key]

    def get_workspace(self, workspace_id: ResourceId) -> WorkspaceState:
        with azure_call(f"read workspace {workspace_id}"):
            workspace = self._ml(workspace_id).workspaces.get(workspace_id.name)
        return WorkspaceState(
            id=workspace_id,
            location=workspace.location or "",
            storage_account=_optional_id(workspace.storage_account),
            container_registry=_optional_id(workspace.container_registry),
            user_assigned_identity=_workspace_identity(workspace),
        )

    def get_compute(self, workspace_id: ResourceId, name: str) -> ComputeState | None:
        with azure_call(f"read compute {name} in {workspace_id}"):
            try:
                compute = self._ml(workspace_id).compute.get(name)
            except ResourceNotFoundError:
                return None
        return compute_state(workspace_id, compute)

    def list_computes(self, workspace_id: ResourceId) -> list[ComputeState]:
        with azure_call(f"list computes in {workspace_id}"):
            computes = list(self._ml(workspace_id).compute.list())
        return [compute_state(workspace_id, c) for c in computes]

    def attach(self, attachment: Attachment, cluster_id: ResourceId) -> ComputeState:
        """Attach the cluster as a Kubernetes compute (``az ml compute attach``), marked as ours."""
        compute = KubernetesCompute(
            name=attachment.compute_name,
            resource_id=cluster_id.raw,
            namespace=attachment.namespace,
            identity=_identity(attachment),
            tags={MANAGED_BY_TAG: MANAGED_BY_VALUE},
            description=f"Attached by autoattach from cluster {cluster_id.name}",
        )
        action = f"attach {cluster_id.name} as {attachment.compute_name}"
        with azure_call(action):
            try:
                result = self._start_attach(attachment.workspace_id, compute)
            except HttpResponseError as error:
                if _detail_codes(error) & {EXTENSION_NOT_READY}:
                    raise TransientError(
                        f"{action}: Azure ML answers that the extension is not installed although "
                        "it is, so the workspace identity's roles on the cluster have not taken "
                        f"effect yet (role assignments take up to 10 minutes): {error.message}",
                        reason="PrerequisiteNotEffective",
                    ) from error
                raise
        return compute_state(attachment.workspace_id, result)

    def _start_attach(self, workspace_id: ResourceId, compute: KubernetesCompute) -> Any:
        """What ``compute.begin_create_or_update`` does (workspace GET for the location, the
        SDK's own serialization, PUT), minus the polling: the PUT's answer (``Creating``)."""
        operations = self._ml(workspace_id).compute
        compute.location = operations._get_workspace_location()
        poller = operations._operation.begin_create_or_update(
            workspace_id.resource_group,
            workspace_id.name,
            compute_name=str(compute.name),
            parameters=compute._to_rest_object(),
            polling=False,
            cls=lambda response, deserialized, headers: Compute._from_rest_object(deserialized),
        )
        return poller.result()

    def detach(self, workspace_id: ResourceId, name: str) -> None:
        """Start detaching (``az ml compute detach``); the compute is ``Deleting`` meanwhile."""
        with azure_call(f"detach compute {name} from {workspace_id}"):
            try:
                self._ml(workspace_id).compute._operation.begin_delete(
                    resource_group_name=workspace_id.resource_group,
                    workspace_name=workspace_id.name,
                    compute_name=name,
                    underlying_resource_action="Detach",
                    polling=False,
                )
            except ResourceNotFoundError:
                return


def _identity(attachment: Attachment) -> IdentityConfiguration:
    # snake-case types: "SystemAssigned" is serialized as "Systemassigned" by azure-ai-ml.
    if attachment.identity.type is IdentityType.USER_ASSIGNED:
        assert attachment.identity.resource_id is not None
        return IdentityConfiguration(
            type="user_assigned",
            user_assigned_identities=[
                ManagedIdentityConfiguration(resource_id=attachment.identity.resource_id.raw)
            ],
        )
    return IdentityConfiguration(type="system_assigned")


def _workspace_identity(workspace: Any) -> ResourceId | None:
    """The workspace's user-assigned identity (its primary one, if it names one), or None."""
    identity = getattr(workspace, "identity", None)
    kind = str(getattr(identity, "type", "") or "").lower().replace("_", "")
    if identity is None or "userassigned" not in kind or "systemassigned" in kind:
        return None
    primary = _optional_id(getattr(workspace, "primary_user_assigned_identity", None))
    if primary is not None:
        return primary
    users = identity.user_assigned_identities or []
    return _optional_id(users[0].resource_id) if users else None


def compute_state(workspace_id: ResourceId, compute: Any) -> ComputeState:
    identity = getattr(compute, "identity", None)
    identity_type: IdentityType | None = None
    principal_id = None
    user_assigned: ResourceId | None = None
    if identity is not None and identity.type:
        kind = str(identity.type).lower().replace("_", "")
        if kind.startswith("userassigned"):
            identity_type = IdentityType.USER_ASSIGNED
            users = identity.user_assigned_identities or []
            if users:
                principal_id = users[0].principal_id
                user_assigned = _optional_id(users[0].resource_id)
        elif kind.startswith("systemassigned"):
            identity_type = IdentityType.SYSTEM_ASSIGNED
            principal_id = identity.principal_id
    tags = getattr(compute, "tags", None) or {}
    return ComputeState(
        workspace_id=workspace_id,
        name=compute.name,
        cluster_id=_optional_id(getattr(compute, "resource_id", None)),
        namespace=getattr(compute, "namespace", "") or "",
        identity_type=identity_type,
        principal_id=principal_id or None,
        provisioning_state=state_text(getattr(compute, "provisioning_state", None)),
        managed_by_autoattach=tags.get(MANAGED_BY_TAG) == MANAGED_BY_VALUE,
        user_assigned_identity=user_assigned,
        created_on=str(getattr(compute, "created_on", None) or ""),
    )


def _detail_codes(error: HttpResponseError) -> set[str]:
    """The codes of an ARM error's ``details`` (where Azure ML puts the specific reason)."""
    details = getattr(error.error, "details", None) or []
    return {str(getattr(d, "code", "") or "") for d in details} - {""}


def _optional_id(value: str | None) -> ResourceId | None:
    if not value:
        return None
    try:
        return ResourceId.parse(value)
    except InvalidResourceId:
        return None
