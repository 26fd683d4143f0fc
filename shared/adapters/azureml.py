"""Azure ML workspaces and Kubernetes computes: read (plain ARM), attach and detach (azure-ai-ml).

Attach and detach are long-running in Azure (the compute is ``Creating`` / ``Deleting`` for tens
of seconds to minutes). ``MLClient.compute.begin_*`` always polls, in a thread that sleeps in real
time, so the adapter sends only the first request, through the same SDK's operations with
``polling=False``, reads the operation's status once and returns; the caller looks again in a
scheduled re-check. The PUT's answer names a system-assigned compute's new principal (which the
grants need); where it does not, a compute done at once is read for it.

Reads (the workspace, a compute, the list of computes) go through plain ARM
(shared.adapters.azureml_reads): the same requests, without importing azure-ai-ml, which a new
cluster's path up to its first write (its namespace) then never imports. azure-ai-ml is imported at
the first attach or detach: it builds the attach's body (``KubernetesCompute``) and sends both.
"""

from __future__ import annotations

import json
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
    get_json,
    get_pages,
    operation_status,
    retry_kwargs,
    transport_kwargs,
)
from shared.adapters.azureml_reads import (
    compute_state,
    compute_url,
    listed,
    workspace_state,
    workspace_url,
)
from shared.adapters.cache import TtlCache
from shared.adapters.deferred_aiohttp import deferred
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import FailedForNow, azure_call
from shared.decisions.model import (
    Attachment,
    ComputeState,
    IdentityType,
    WorkspaceState,
    attached_as_answered,
    failed_as_answered,
)
from shared.decisions.ownership import description_for

if TYPE_CHECKING:  # azure-ai-ml takes over a second to import: only when first used (cold start)
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import IdentityConfiguration, KubernetesCompute

CUSTOM_CLOUD = "AutoattachCustomCloud"
# Azure ML's answer to an attach whose workspace identity cannot (yet) see the cluster's
# extension: "extension not installed". The planner attaches only after it saw the extension
# Succeeded and the prerequisite roles listed, so either those roles have not taken effect yet
# or the extension changed since it was read: the re-check reads it again and tells which.
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
            answer = get_json(self._resources(workspace_id), workspace_url(workspace_id))
        return workspace_state(workspace_id, answer)

    def get_compute(self, workspace_id: ResourceId, name: str) -> ComputeState | None:
        with azure_call(f"read compute {name} in {workspace_id}"):
            try:
                answer = get_json(self._resources(workspace_id), compute_url(workspace_id, name))
            except ResourceNotFoundError:
                return None
        return compute_state(workspace_id, answer)

    def list_computes(self, workspace_id: ResourceId) -> list[ComputeState]:
        with azure_call(f"list computes in {workspace_id}"):
            pages = get_pages(self._resources(workspace_id), compute_url(workspace_id))
            return [compute_state(workspace_id, c) for c in listed(pages)]

    def _resources(self, workspace_id: ResourceId) -> ResourceManagementClient:
        """The plain ARM client the reads go through (shared with the other ARM adapters)."""
        return self._arm.client(ResourceManagementClient, workspace_id.subscription)

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
                    # this attachment's problem for now: the run goes on with the others
                    raise FailedForNow(
                        f"{action}: Azure ML answers that the extension is not ready although "
                        "autoattach read it Succeeded: the workspace identity's roles on the "
                        "cluster may not have taken effect yet (role assignments take up to 10 "
                        "minutes), or the extension changed since; the re-check reads it again: "
                        f"{_service_message(error)}",
                        reason="PrerequisiteNotEffective",
                    ) from error
                raise
            # one look at the operation: still running, the caller looks again later; done at
            # once, the compute is as the answer showed it, or read when the answer did not
            # name its new principal
            status, failure, _wait = operation_status(
                self._resources(attachment.workspace_id), headers
            )
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
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """What ``compute.begin_create_or_update`` does (the SDK's own serialization, PUT), minus
        the polling (the PUT's answer, ``Creating``) and minus its workspace GET for the location:
        the cached workspace has it. Returns the answer's JSON (read as every read is) and
        headers."""
        operations = self._ml(workspace_id).compute
        compute.location = self.get_workspace(workspace_id).location
        poller = operations._operation.begin_create_or_update(
            workspace_id.resource_group,
            workspace_id.name,
            compute_name=str(compute.name),
            parameters=compute._to_rest_object(),
            polling=False,
            cls=lambda response, _deserialized, _headers: (
                _json_of(response.http_response),
                dict(response.http_response.headers),
            ),
        )
        answer: tuple[dict[str, Any], dict[str, str]] = poller.result()  # type: ignore[assignment]
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


def _json_of(response: Any) -> dict[str, Any]:
    """An answer's JSON body (a dict), {} when it has none."""
    text = response.text() if callable(getattr(response, "text", None)) else ""
    payload = json.loads(text) if text else {}
    return payload if isinstance(payload, dict) else {}


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
