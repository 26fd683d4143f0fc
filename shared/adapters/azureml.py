"""Azure ML workspaces and Kubernetes computes (azure-ai-ml): read, attach, detach.

Attach and detach are long-running in Azure (the compute is ``Creating`` / ``Deleting`` for tens
of seconds to minutes). ``MLClient.compute.begin_*`` always polls, in a thread that sleeps in real
time, so the adapter sends only the first request, through the same SDK's operations with
``polling=False``, reads the operation's status once and returns; the caller looks again in a
scheduled re-check. The PUT's answer names a system-assigned compute's new principal (which the
grants need); where it does not, a compute done at once is read for it.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from shared.adapters.arm import (
    UNREADABLE,
    ArmConnection,
    async_operation,
    error_text,
    operation_status,
    retry_kwargs,
    transport_kwargs,
)
from shared.adapters.cache import TtlCache
from shared.adapters.deferred_aiohttp import deferred
from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.errors import TransientError, azure_call
from shared.decisions.model import (
    Attachment,
    ComputeState,
    IdentityType,
    WorkspaceState,
    attached_as_answered,
    failed_as_answered,
    state_text,
)
from shared.decisions.ownership import Claim, claim_of, description_for

if TYPE_CHECKING:  # azure-ai-ml takes over a second to import: only when first used (cold start)
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import IdentityConfiguration, KubernetesCompute

CUSTOM_CLOUD = "AutoattachCustomCloud"
# Azure ML's answer to an attach whose workspace identity cannot (yet) see the cluster's
# extension: "extension not installed". The planner attaches only after it saw the extension
# Succeeded and the prerequisite roles listed, so this means they have not taken effect yet.
EXTENSION_NOT_READY = "ExtensionNotReady"


class AzureMLWorkspaces:
    def __init__(
        self, arm: ArmConnection, workspaces: TtlCache[WorkspaceState] | None = None
    ) -> None:
        self._arm = arm
        self._clients: dict[str, MLClient] = {}
        # Registry, storage account and identity of a workspace: read once per few minutes per
        # process, not once per cluster (autoattach never changes them).
        self._workspaces: TtlCache[WorkspaceState] = workspaces or TtlCache()

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
            with deferred():  # azure-ai-ml's storage helpers would import aiohttp, unused
                from azure.ai.ml import MLClient

            self._clients[workspace_id.key] = MLClient(
                self._arm.credential,
                workspace_id.subscription,
                workspace_id.resource_group,
                workspace_id.name,
                **kwargs,
                **retry_kwargs(),
                **transport_kwargs(),
            )
        return self._clients[workspace_id.key]

    def get_workspace(self, workspace_id: ResourceId) -> WorkspaceState:
        return self._workspaces.get(workspace_id.key, lambda: self._read_workspace(workspace_id))

    def _read_workspace(self, workspace_id: ResourceId) -> WorkspaceState:
        with azure_call(f"read workspace {workspace_id}"):
            workspace = self._ml(workspace_id).workspaces.get(workspace_id.name)
        identity = _workspace_identity(workspace)
        return WorkspaceState(
            id=workspace_id,
            location=workspace.location or "",
            storage_account=_optional_id(workspace.storage_account),
            container_registry=_optional_id(workspace.container_registry),
            user_assigned_identity=identity,
            user_assigned_principal=_principal_named(workspace, identity),
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
        """Attach the cluster as a Kubernetes compute (``az ml compute attach``), marked as ours
        by its sealed description (shared.decisions.ownership). No tags: Azure ML lists computes
        as not supporting them, and ownership does not rest on them."""
        with deferred():
            from azure.ai.ml.entities import KubernetesCompute

        compute = KubernetesCompute(
            name=attachment.compute_name,
            resource_id=cluster_id.raw,
            namespace=attachment.namespace,
            identity=_identity(attachment),
            description=description_for(
                attachment.workspace_id, attachment.compute_name, cluster_id
            ),
        )
        action = f"attach {cluster_id.name} as {attachment.compute_name}"
        with azure_call(action):
            try:
                result, headers = self._start_attach(attachment.workspace_id, compute)
            except HttpResponseError as error:
                if _detail_codes(error) & {EXTENSION_NOT_READY}:
                    raise TransientError(
                        f"{action}: Azure ML answers that the extension is not installed although "
                        "it is, so the workspace identity's roles on the cluster have not taken "
                        f"effect yet (role assignments take up to 10 minutes): "
                        f"{_service_message(error)}",
                        reason="PrerequisiteNotEffective",
                    ) from error
                raise
            # one look at the operation: still running, the caller looks again later; done at
            # once, the compute is as the answer showed it, or read when the answer did not
            # name its new principal
            client = self._arm.client(
                ResourceManagementClient, attachment.workspace_id.subscription
            )
            status, failure, _wait = operation_status(client, headers)
        # the answer to autoattach's own attach: its compute, whatever the answer shows
        started = replace(
            compute_state(attachment.workspace_id, result), managed_by_autoattach=True
        )
        if status in ("failed", "canceled"):
            # Azure ML accepted the attach and failed it at once: the reason is the operation's
            return failed_as_answered(started, error_text(failure) or status)
        if status == "succeeded":
            settled = attached_as_answered(started) or self.get_compute(
                attachment.workspace_id, attachment.compute_name
            )
            if settled is not None:
                return settled
        # a status ARM would not show: the re-check reads the compute instead
        operation = None if status == UNREADABLE else async_operation(headers)
        return replace(started, operation=operation)

    def _start_attach(
        self, workspace_id: ResourceId, compute: KubernetesCompute
    ) -> tuple[Any, dict[str, str]]:
        """What ``compute.begin_create_or_update`` does (the SDK's own serialization, PUT), minus
        the polling (the PUT's answer, ``Creating``) and minus its workspace GET for the location:
        the cached workspace has it."""
        from azure.ai.ml.entities import Compute

        operations = self._ml(workspace_id).compute
        compute.location = self.get_workspace(workspace_id).location
        poller = operations._operation.begin_create_or_update(
            workspace_id.resource_group,
            workspace_id.name,
            compute_name=str(compute.name),
            parameters=compute._to_rest_object(),
            polling=False,
            cls=lambda response, deserialized, headers: (
                Compute._from_rest_object(deserialized),
                dict(response.http_response.headers),
            ),
        )
        answer: tuple[Any, dict[str, str]] = poller.result()  # type: ignore[assignment]
        return answer

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
    from azure.ai.ml.entities import IdentityConfiguration, ManagedIdentityConfiguration

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


def _principal_named(workspace: Any, identity: ResourceId | None) -> str:
    """The principal the workspace's answer gives its user-assigned ``identity`` (ARM lists each
    user-assigned identity with its principalId), or "" when it gives none."""
    if identity is None:
        return ""
    users = getattr(getattr(workspace, "identity", None), "user_assigned_identities", None)
    for user in users or []:
        if _optional_id(getattr(user, "resource_id", None)) == identity:
            # azure-ai-ml 1.35 keeps the answer's ``principalId`` under that name, leaving
            # ``principal_id`` None, on a workspace's identities
            principal = getattr(user, "principal_id", None) or getattr(user, "principalId", None)
            return str(principal or "")
    return ""


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
    cluster_id = _optional_id(getattr(compute, "resource_id", None))
    claim = claim_of(
        workspace_id,
        str(compute.name),
        cluster_id,
        getattr(compute, "description", None),
        getattr(compute, "tags", None),
    )
    return ComputeState(
        workspace_id=workspace_id,
        name=compute.name,
        cluster_id=cluster_id,
        namespace=getattr(compute, "namespace", "") or "",
        identity_type=identity_type,
        principal_id=principal_id or None,
        provisioning_state=state_text(getattr(compute, "provisioning_state", None)),
        managed_by_autoattach=claim is Claim.SEALED,
        user_assigned_identity=user_assigned,
        created_on=str(getattr(compute, "created_on", None) or ""),
        # azure-ai-ml keeps only the first provisioning error's code
        errors=str(getattr(compute, "provisioning_errors", None) or ""),
        legacy_claim=claim is Claim.LEGACY,
    )


def _service_message(error: HttpResponseError) -> str:
    """What the service said, on one line: the OData error's message, not the SDK's multi-line
    rendering of it (code, message, exception details, inner errors)."""
    odata = error.error
    text = (odata.message if odata is not None and odata.message else None) or str(error.message)
    first = text.strip().splitlines()[0] if text.strip() else error.__class__.__name__
    return first


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
