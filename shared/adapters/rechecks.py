"""Re-check later: a scheduled copy of the message on the same queue (azure-servicebus)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from uuid import UUID

from azure.servicebus import ServiceBusMessage
from azure.servicebus.exceptions import ServiceBusError

from shared.adapters.servicebus import QueueLink
from shared.decisions.errors import TransientError

ATTEMPT_PROPERTY = "autoattach-attempt"
# The re-check chain a copy belongs to (see shared.engine.settlement.chain_of); a replay starts a
# new one.
CHAIN_PROPERTY = "autoattach-chain"
CHAIN_LENGTH = 12


def new_chain() -> str:
    """A fresh chain, for a copy that must not share re-check ids with earlier ones (a replay)."""
    return uuid.uuid4().hex[:CHAIN_LENGTH]


class ServiceBusRecheckScheduler:
    """The RecheckScheduler port over a QueueLink (shared.adapters.servicebus.ServiceBusLink in
    Azure; the queue double's link in tests)."""

    def __init__(self, link: QueueLink) -> None:
        self._link = link

    def now(self) -> datetime:
        """The queue's clock: what a re-check's delay counts from."""
        return self._link.now()

    def schedule(
        self,
        queue: str,
        body: bytes,
        *,
        message_id: str,
        attempt: int,
        delay_seconds: float,
        chain: str | None = None,
    ) -> None:
        properties: dict[str | bytes, int | float | bytes | bool | str | UUID] = {
            ATTEMPT_PROPERTY: attempt
        }
        if chain:
            properties[CHAIN_PROPERTY] = chain
        message = ServiceBusMessage(
            body,
            message_id=message_id,
            application_properties=properties,
            content_type="application/json",
        )
        at = self._link.now() + timedelta(seconds=delay_seconds)
        try:
            with self._link.sender(queue) as sender:
                sender.schedule_messages(message, at)
        except ServiceBusError as error:
            raise TransientError(f"schedule a re-check on {queue}: {error}") from error
