"""Long-running operations: ARM's Azure-AsyncOperation protocol, on the virtual clock.

A write handler applies its change, then calls ``LroStore.start`` for the headers of its 201/202
response. azure-core then GETs the operation status URL (one read), sees ``Succeeded`` (or
``Failed`` when a fault was injected) and, for PUTs, GETs the resource. Most operations finish at
once; one started with ``done_at`` (virtual seconds) reports ``InProgress`` until the clock reaches
it, with ``Retry-After`` set to the remaining virtual seconds (azure-core sleeps that long in *real*
time, so a poller nobody waits on makes one status GET and then stays quiet).

Quirk: azure-core treats ``Retry-After: 0`` as "no hint" and falls back to the client's polling
interval (30 s for mgmt clients), so the double sends ``Retry-After-Ms: 1`` instead, which
azure-core honours (``get_retry_after`` reads ``retry-after-ms``).
"""

from __future__ import annotations

import math
import threading
import uuid
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


class LroStore:
    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
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
            self._operations[op_id] = Operation(op_id, status, self._stamp(), error, done_at)
        provider = type_of(resource_id).split("/")[0] or "Microsoft.Resources"
        url = (
            f"{base_url}/subscriptions/{subscription_of(resource_id)}/providers/{provider}"
            f"/locations/sandbox/operationStatuses/{op_id}?api-version={api_version}"
        )
        return {"Azure-AsyncOperation": url, "Retry-After-Ms": "1"}

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
            wait = max(1, math.ceil(operation.done_at - now))
            return Response(200, pending, {"Retry-After": str(wait)})
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
