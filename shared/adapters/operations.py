"""Long-running ARM operations, looked at by their status URL (``Azure-AsyncOperation``).

A re-check that waits for a write autoattach started (a managed namespace, an attach) polls that
write's operation instead of reading the cluster, its computes and namespaces again: a poll is
one request and tells exactly what the re-check waits for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from azure.mgmt.resource.resources import ResourceManagementClient

from shared.adapters.arm import UNREADABLE, ArmConnection, error_text, operation_status
from shared.decisions.errors import azure_call

_SUBSCRIPTION = re.compile(r"^/subscriptions/([0-9A-Fa-f-]{36})/", re.IGNORECASE)


@dataclass(frozen=True)
class OperationStatus:
    # lower-case: succeeded, failed, canceled, unreadable (ARM refused the read: neither running
    # nor done, so the caller reads the resources), or still running (inprogress, ...)
    status: str
    retry_after: float | None = None
    error: str = ""  # a failed operation's error, "code: message"

    @property
    def running(self) -> bool:
        return self.status not in ("succeeded", "failed", "canceled", UNREADABLE)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class ArmOperations:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def status(self, url: str) -> OperationStatus:
        """One status read. A URL that is not ARM's (another host, no subscription) is refused
        as failed, so the caller reads everything instead of trusting it."""
        parts = urlsplit(url)
        found = _SUBSCRIPTION.match(parts.path)
        if found is None or not url.lower().startswith(self._arm.endpoint.rstrip("/").lower()):
            return OperationStatus("failed")
        client = self._arm.client(ResourceManagementClient, found.group(1))
        with azure_call(f"read the status of operation {parts.path}"):
            # no Retry-After header here: the status is read now
            status, error, retry_after = operation_status(client, {"Azure-AsyncOperation": url})
        return OperationStatus(status, retry_after, error_text(error))
