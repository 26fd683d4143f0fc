"""Re-check later: a scheduled copy of the message on the same queue (azure-servicebus)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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
# Messages scheduled in one call: Service Bus takes a list of messages as one batch, which must fit
# its batch size limit (256 KB on Standard, 1 MB on Premium) and at most 4,500 messages; a sweep's
# reconcile request is about half a kilobyte.
SCHEDULE_BATCH_MESSAGES = 100
SCHEDULE_BATCH_BYTES = 192 * 1024


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

    def schedule_all(
        self, queue: str, messages: Iterable[tuple[bytes, str]], *, delay_seconds: float
    ) -> int:
        """Schedule each (body, message id) as the first of its chain (attempt 0), over one sender,
        in batches (SCHEDULE_BATCH_MESSAGES, SCHEDULE_BATCH_BYTES). Returns how many were sent."""
        at = self._link.now() + timedelta(seconds=delay_seconds)
        sent = 0
        batch: list[ServiceBusMessage] = []
        size = 0
        try:
            with self._link.sender(queue) as sender:
                for body, message_id in messages:
                    weight = len(body) + len(message_id) + 64
                    if batch and (
                        len(batch) >= SCHEDULE_BATCH_MESSAGES
                        or size + weight > SCHEDULE_BATCH_BYTES
                    ):
                        sender.schedule_messages(batch, at)
                        sent += len(batch)
                        batch, size = [], 0
                    batch.append(_message(body, message_id, attempt=0, chain=None))
                    size += weight
                if batch:
                    sender.schedule_messages(batch, at)
                    sent += len(batch)
        except ServiceBusError as error:
            raise TransientError(
                f"schedule reconcile requests on {queue} ({sent} sent): {error}"
            ) from error
        return sent

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
        message = _message(body, message_id, attempt=attempt, chain=chain)
        at = self._link.now() + timedelta(seconds=delay_seconds)
        try:
            with self._link.sender(queue) as sender:
                sender.schedule_messages(message, at)
        except ServiceBusError as error:
            raise TransientError(f"schedule a re-check on {queue}: {error}") from error


def _message(body: bytes, message_id: str, *, attempt: int, chain: str | None) -> ServiceBusMessage:
    properties: dict[str | bytes, int | float | bytes | bool | str | UUID] = {
        ATTEMPT_PROPERTY: attempt
    }
    if chain:
        properties[CHAIN_PROPERTY] = chain
    return ServiceBusMessage(
        body,
        message_id=message_id,
        application_properties=properties,
        content_type="application/json",
    )
