"""Re-check later: a scheduled copy of the message on the same queue (azure-servicebus)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.core.credentials import TokenCredential
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.exceptions import ServiceBusError

from shared.errors import TransientError

ATTEMPT_PROPERTY = "autoattach-attempt"


class ServiceBusRecheckScheduler:
    def __init__(self, fully_qualified_namespace: str, credential: TokenCredential) -> None:
        self._client = ServiceBusClient(fully_qualified_namespace, credential)

    def schedule(
        self, queue: str, body: bytes, *, message_id: str, attempt: int, delay_seconds: float
    ) -> None:
        message = ServiceBusMessage(
            body,
            message_id=message_id,
            application_properties={ATTEMPT_PROPERTY: attempt},
            content_type="application/json",
        )
        at = datetime.now(UTC) + timedelta(seconds=delay_seconds)
        try:
            with self._client.get_queue_sender(queue) as sender:
                sender.schedule_messages(message, at)
        except ServiceBusError as error:
            raise TransientError(f"schedule a re-check on {queue}: {error}") from error
