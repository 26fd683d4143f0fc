"""AKS managed namespaces through ARM (azure-mgmt-containerservice): no API-server path needed.

A managed namespace is an ARM resource over a Kubernetes namespace. A namespace that exists only in
Kubernetes (the AzureML extension makes ``azureml`` itself) is not one: GET answers 404, and the
PUT that makes it managed follows the policy's ``namespaces.adoption_policy`` (sent as
``adoptionPolicy``): ``Never`` fails on it, ``IfIdentical`` adopts it if it has no difference from
what the PUT asks for, ``Always`` adopts it and overwrites what differs. ``deletePolicy`` is always
``Keep``: autoattach never deletes a namespace, and deleting the managed namespace resource must not
take the Kubernetes namespace with it.

The PUT asks for no labels or annotations (a label would be a difference, and ``IfIdentical``
would then refuse the extension's own ``azureml``); what autoattach made is marked by the ARM tag
``managed-by: autoattach`` on the managed namespace resource.

Nothing waits on a poller: ``create`` sends the PUT and, unless its answer asks to wait
(``Retry-After``), reads the operation status once. Succeeded is done; Failed is a permanent
error for the owners that names the namespace and the policy setting; still running is
``StillRunning``, with the operation's URL for the re-check to poll. A namespace whose last write
ended Failed is written again; while that write runs, owners hear of the earlier failure and the
cluster is re-checked (``FailedForNow``), never dead-lettered for a write that may yet succeed.
Only a ``Succeeded`` managed namespace is ready (``state``): ``Failed`` or still being written
is not, so the planner asks for it again, and ``create`` then says what went wrong.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedNamespace, NamespaceProperties

from shared.adapters.arm import UNREADABLE, ArmConnection, async_operation, operation_status
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import FailedForNow, PermanentError, StillRunning, azure_call
from shared.decisions.model import MANAGED_BY_TAG, MANAGED_BY_VALUE, AdoptionPolicy, state_text

# The newest managedClusters api-version with managed namespaces in the published type data
# (sandbox/azure_types); the SDK's default (2026-08-01) is not there yet.
API_VERSION = "2026-05-01"
DELETE_POLICY = "Keep"  # never anything else: autoattach never deletes a namespace
_PENDING = frozenset({"creating", "updating", "deleting", "accepted", "inprogress", "running"})
_FAILED = frozenset({"failed", "canceled"})


def container_service_client(credential: Any, subscription_id: str, **kwargs: Any) -> Any:
    """ContainerServiceClient pinned to ``API_VERSION``."""
    return ContainerServiceClient(credential, subscription_id, api_version=API_VERSION, **kwargs)


class ManagedNamespaces:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def _client(self, cluster_id: ResourceId) -> ContainerServiceClient:
        client: ContainerServiceClient = self._arm.client(
            container_service_client, cluster_id.subscription
        )
        return client

    def state(self, cluster_id: ResourceId, namespace: str) -> str | None:
        """The managed namespace's provisioningState, lower-case; None when ARM has none (a
        namespace only in Kubernetes included)."""
        with azure_call(f"read namespace {namespace} on {cluster_id}"):
            try:
                found = self._client(cluster_id).managed_namespaces.get(
                    cluster_id.resource_group, cluster_id.name, namespace
                )
            except ResourceNotFoundError:
                return None
        properties = found.properties
        state = state_text(properties.provisioning_state if properties else None)
        return state.lower() or "succeeded"

    def states(self, cluster_id: ResourceId) -> dict[str, str]:
        """Every managed namespace ARM shows on the cluster, by lower-case name: its
        provisioningState, lower-case. One read (a list), however many a cluster's computes use."""
        with azure_call(f"list the managed namespaces of {cluster_id}"):
            found = list(
                self._client(cluster_id).managed_namespaces.list_by_managed_cluster(
                    cluster_id.resource_group, cluster_id.name
                )
            )
        states: dict[str, str] = {}
        for namespace in found:
            properties = namespace.properties
            state = state_text(properties.provisioning_state if properties else None)
            states[str(namespace.name or "").lower()] = state.lower() or "succeeded"
        return states

    def create(
        self,
        cluster_id: ResourceId,
        namespace: str,
        location: str,
        adoption_policy: AdoptionPolicy = AdoptionPolicy.IF_IDENTICAL,
        before: str | None = None,
    ) -> None:
        """``before``: its state as just observed (None: absent)."""
        action = f"create namespace {namespace} on {cluster_id}"
        if before in _PENDING:
            raise StillRunning(
                f"{action}: ARM is still writing managed namespace {namespace} "
                f"({before}); looking again later",
                reason="NamespaceProvisioning",
            )
        body = ManagedNamespace(
            location=location,
            tags={MANAGED_BY_TAG: MANAGED_BY_VALUE},
            properties=NamespaceProperties(
                adoption_policy=adoption_policy.value, delete_policy=DELETE_POLICY
            ),
        )
        client = self._client(cluster_id)
        with azure_call(action):
            try:
                headers: dict[str, str] = client.managed_namespaces.begin_create_or_update(  # type: ignore[assignment]
                    cluster_id.resource_group,
                    cluster_id.name,
                    namespace,
                    body,
                    polling=False,  # send the PUT only; read its operation status once below
                    cls=lambda response, _model, _headers: dict(response.http_response.headers),
                ).result()
            except HttpResponseError as refused:
                if refused.status_code == 409:  # another write of it still running
                    raise StillRunning(
                        f"{action}: ARM is still writing it (HTTP 409); looking again later",
                        reason="NamespaceProvisioning",
                    ) from None
                raise
            status, said, retry_after = operation_status(client, headers)
        if status in _FAILED:
            raise PermanentError(
                _failure(namespace, cluster_id, adoption_policy, said, earlier=False),
                reason="NamespaceNotCreated",
            )
        if status in _PENDING and before in _FAILED:
            # the new write may well succeed: owners hear of the failure, the cluster is re-checked
            raise FailedForNow(
                _failure(namespace, cluster_id, adoption_policy, said, earlier=True),
                reason="NamespaceNotCreated",
                retry_after=retry_after,
            )
        if status in _PENDING or status == UNREADABLE:
            raise StillRunning(
                f"{action}: asked ARM for managed namespace {namespace}; it is still being "
                "made, looking again later",
                reason="NamespaceProvisioning",
                retry_after=retry_after,
                # a status ARM would not show: the re-check reads the namespace instead
                operation=None if status == UNREADABLE else async_operation(headers),
            )


def _failure(
    namespace: str,
    cluster_id: ResourceId,
    policy: AdoptionPolicy,
    error: dict[str, Any],
    *,
    earlier: bool,
) -> str:
    """What owners read: the namespace, what ARM said, and the policy setting that decides."""
    said = ""
    if error.get("code") or error.get("message"):
        said = f" ARM said: {error.get('code') or 'error'}: {error.get('message') or ''}".rstrip()
    if earlier:
        said = " (its last write ended Failed; autoattach asked again)"
    hint = {
        AdoptionPolicy.NEVER: (
            "With the attach policy's namespaces.adoption_policy 'Never', ARM refuses a "
            "namespace that already exists in Kubernetes (the Azure ML extension makes "
            "'azureml' itself): set namespaces.adoption_policy to 'IfIdentical', or use "
            "another namespace in the workspace's compute template."
        ),
        AdoptionPolicy.IF_IDENTICAL: (
            "With the attach policy's namespaces.adoption_policy 'IfIdentical', ARM adopts a "
            "namespace that already exists in Kubernetes only if nothing differs: make it "
            "identical, set namespaces.adoption_policy to 'Always', or use another namespace."
        ),
        AdoptionPolicy.ALWAYS: "Check the cluster's managed namespaces in the Azure portal.",
    }[policy]
    return (
        f"could not make namespace {namespace} on cluster {cluster_id.name} an AKS managed "
        f"namespace{said}. {hint}"
    )
