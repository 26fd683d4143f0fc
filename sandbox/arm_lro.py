"""Long-running operations: ARM's Azure-AsyncOperation protocol, on the virtual clock.

A write handler applies its change, then calls ``LroStore.start`` (through ``Ctx.lro_headers``)
for the headers of its 201/202 response. An operation started with ``done_at`` (virtual seconds;
see ``settles_at``) reports ``InProgress`` until the clock reaches it, and both the first response
and every pending status answer ``Retry-After: <world.lro_retry_after_seconds>`` (10 by default),
a fixed hint as ARM resource providers send -- not the time left, which Azure does not know.
azure-core sleeps that long in *real* time between polls, so the product never waits on a poller:
it sends the write with ``polling=False`` and looks again in a scheduled re-check.

An operation without ``done_at`` is finished when it starts. Quirk: azure-core treats
``Retry-After: 0`` as "no hint" and falls back to the client's polling interval (30 s for mgmt
clients), so such operations send ``Retry-After-Ms: 1``, which azure-core honours
(``get_retry_after`` reads ``retry-after-ms``).

Resources whose writes take time report their provisioning state with ``state_at``: a route
handler keeps the write's ``settles_at`` next to the resource and resolves it at request time.

The status URL is the one the resource's provider gives (``status_path``), in the resource's
region: Azure ML ``.../providers/Microsoft.MachineLearningServices/locations/{region}/
computeOperationsStatus/{id}`` (an ``az ml compute attach --debug`` log, Azure/AML-Kubernetes
issue 155); AKS ``.../providers/Microsoft.ContainerService/locations/{region}/operations/{id}``
(the Azure SDKs' ContainerService recordings); cluster extensions the operation status of the
extension itself, ``{extension id}/operations/{id}`` (the KubernetesConfiguration REST spec's
``OperationStatus_Get``); any other provider ARM's generic ``.../locations/{region}/
operationStatuses/{id}``.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.arm_ids import subscription_of, type_of
from sandbox.clock import VirtualClock
from sandbox.https import Response


@dataclass
class Operation:
    id: str
    status: str
    started: str
    error: dict[str, Any] | None = None
    done_at: float | None = None  # virtual seconds; None: finished when started
    retry_after: float = 10.0  # seconds, the hint on a pending status
    resource_id: str = ""  # the resource whose write this is


# Provider (lower-cased) -> the segment of its location-based status URLs.
STATUS_SEGMENT = {
    "microsoft.machinelearningservices": "computeOperationsStatus",
    "microsoft.containerservice": "operations",
}
GENERIC_STATUS_SEGMENT = "operationStatuses"
EXTENSIONS_PROVIDER = "microsoft.kubernetesconfiguration"


def status_path(resource_id: str, location: str, op_id: str) -> str:
    """The path of the status URL the resource's provider gives for one of its operations."""
    provider = type_of(resource_id).split("/")[0] or "Microsoft.Resources"
    if provider.lower() == EXTENSIONS_PROVIDER:
        return f"{resource_id.rstrip('/')}/operations/{op_id}"
    segment = STATUS_SEGMENT.get(provider.lower(), GENERIC_STATUS_SEGMENT)
    return (
        f"/subscriptions/{subscription_of(resource_id)}/providers/{provider}"
        f"/locations/{location}/{segment}/{op_id}"
    )


def settles_at(now: float, duration: float) -> float | None:
    """When a write started at virtual ``now`` that takes ``duration`` seconds is done
    (None: at once). Pass it as ``done_at`` and keep it with the resource."""
    return now + duration if duration > 0 else None


def state_at(pending: str, final: str, settles: float | None, seconds: float) -> str:
    """A resource's provisioningState at virtual ``seconds``: ``pending`` (Creating, Updating,
    Deleting) until its write settles, then ``final`` (Succeeded, Failed)."""
    return pending if settles is not None and seconds < settles else final


class LroStore:
    def __init__(self, clock: VirtualClock, locate: Callable[[str], str] | None = None) -> None:
        """``locate``: a resource id -> its region (the status URL's location)."""
        self._clock = clock
        self._locate = locate or (lambda _resource_id: "sandbox")
        self._lock = threading.Lock()
        self._operations: dict[str, Operation] = {}

    def start(
        self,
        base_url: str,
        resource_id: str,
        api_version: str,
        failed: bool = False,
        error: dict[str, Any] | None = None,
        done_at: float | None = None,
        retry_after: float = 10.0,
    ) -> dict[str, str]:
        """Record an operation (finished, or finishing at virtual ``done_at``); returns the
        headers for the initial response."""
        op_id = str(uuid.uuid4())
        status = "Failed" if failed else "Succeeded"
        if failed and error is None:
            error = {
                "code": "OperationFailed",
                "message": "Injected long-running operation failure.",
            }
        with self._lock:
            self._operations[op_id] = Operation(
                op_id, status, self._stamp(), error, done_at, retry_after, resource_id
            )
        path = status_path(resource_id, self._locate(resource_id), op_id)
        url = f"{base_url}{path}?api-version={api_version}"
        if done_at is not None and self._clock.seconds() < done_at:
            return {"Azure-AsyncOperation": url, "Retry-After": _whole(retry_after)}
        return {"Azure-AsyncOperation": url, "Retry-After-Ms": "1"}

    def resource_of(self, op_id: str) -> str | None:
        """The resource whose write the operation is (None: no such operation)."""
        with self._lock:
            operation = self._operations.get(op_id.lower())
        return operation.resource_id if operation is not None else None

    def status(self, op_id: str) -> Response:
        with self._lock:
            operation = self._operations.get(op_id.lower())
        if operation is None:
            body = {"error": {"code": "NotFound", "message": f"Operation '{op_id}' not found."}}
            return Response(404, body)
        now = self._clock.seconds()
        if operation.done_at is not None and now < operation.done_at:
            pending = {
                "id": op_id,
                "name": op_id,
                "status": "InProgress",
                "startTime": operation.started,
            }
            return Response(200, pending, {"Retry-After": _whole(operation.retry_after)})
        payload: dict[str, Any] = {
            "id": op_id,
            "name": op_id,
            "status": operation.status,
            "startTime": operation.started,
            "endTime": operation.started,
        }
        if operation.error is not None:
            payload["error"] = operation.error
        return Response(200, payload)

    def _stamp(self) -> str:
        return self._clock.now().isoformat().replace("+00:00", "Z")


def _whole(seconds: float) -> str:
    """Retry-After is whole seconds; at least 1 (azure-core reads 0 as "no hint")."""
    return str(max(1, math.ceil(seconds)))
