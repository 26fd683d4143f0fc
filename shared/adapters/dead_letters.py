"""Operators' view of failures: the queues' dead-letter sub-queues (azure-servicebus)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.credentials import TokenCredential
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.exceptions import ServiceBusError

from shared.errors import TransientError

PEEK_LIMIT = 250


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    reason: str
    description: str
    body: bytes
    enqueued_at: str


def replay_message_id(message_id: str, when: datetime | None = None) -> str:
    """A fresh id for a replayed copy (duplicate detection would drop the original id), keeping
    the event id in front so logs still tie it to the event."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{message_id.split('#', 1)[0]}#replay-{stamp}"


class ServiceBusDeadLetters:
    def __init__(self, fully_qualified_namespace: str, credential: TokenCredential) -> None:
        self._client = ServiceBusClient(fully_qualified_namespace, credential)

    def peek(self, queue: str) -> list[DeadLetter]:
        try:
            with self._client.get_queue_receiver(
                queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER
            ) as receiver:
                messages = receiver.peek_messages(max_message_count=PEEK_LIMIT)
        except ServiceBusError as error:
            raise TransientError(f"read the dead letters of {queue}: {error}") from error
        return [
            DeadLetter(
                message_id=str(m.message_id),
                reason=str(m.dead_letter_reason or ""),
                description=str(m.dead_letter_error_description or ""),
                body=b"".join(bytes(part) for part in m.body),
                enqueued_at=m.enqueued_time_utc.isoformat() if m.enqueued_time_utc else "",
            )
            for m in messages
        ]

    def replay(self, queue: str, message_ids: Iterable[str] | None) -> list[str]:
        """Send a copy of each chosen dead letter back to its queue, then remove it from the
        dead-letter queue. ``None`` replays them all. Returns the ids replayed."""
        wanted = None if message_ids is None else set(message_ids)
        replayed: list[str] = []
        try:
            with (
                self._client.get_queue_receiver(
                    queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=5
                ) as receiver,
                self._client.get_queue_sender(queue) as sender,
            ):
                for message in receiver:
                    if wanted is not None and str(message.message_id) not in wanted:
                        receiver.abandon_message(message)
                        continue
                    copy = ServiceBusMessage(
                        b"".join(bytes(part) for part in message.body),
                        message_id=replay_message_id(str(message.message_id)),
                        content_type=message.content_type,
                    )
                    sender.send_messages(copy)
                    receiver.complete_message(message)
                    replayed.append(str(message.message_id))
                    if wanted is not None and wanted <= set(replayed):
                        break
        except ServiceBusError as error:
            raise TransientError(f"replay dead letters of {queue}: {error}") from error
        return replayed
