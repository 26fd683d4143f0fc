"""Operators' view of failures: the queues' dead-letter sub-queues (azure-servicebus)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.exceptions import ServiceBusError

from shared.adapters.rechecks import ATTEMPT_PROPERTY, CHAIN_PROPERTY, new_chain
from shared.errors import TransientError
from shared.events import event_id_in

PEEK_LIMIT = 250
MESSAGE_ID_MAX_LENGTH = 128


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    reason: str
    description: str
    body: bytes
    enqueued_at: str
    event_id: str = ""  # from the body; Event Grid's MessageId is an internal id


def replay_message_id(event_id: str, chain: str) -> str:
    """The id of a replayed copy: fresh (duplicate detection would drop a reused one), unique per
    replay (its new chain), with the event id in front so logs still tie it to the event."""
    suffix = f"#{chain}#replay"
    return event_id[: MESSAGE_ID_MAX_LENGTH - len(suffix)] + suffix


def event_id_of_letter(message_id: str, body: bytes) -> str:
    return event_id_in(body) or message_id.split("#", 1)[0]


def chosen_as(message_id: str, event_id: str, wanted: set[str] | None) -> str | None:
    """Which id an operator chose a dead letter by (message id or event id), None if not chosen.
    Replaying everything reports event ids."""
    if wanted is None:
        return event_id
    if message_id in wanted:
        return message_id
    return event_id if event_id in wanted else None


def replay_properties(original: Mapping[Any, Any] | None) -> dict[str | bytes, Any]:
    """A replayed copy keeps its attempt count (the re-check limit still counts) and starts a new
    re-check chain, so its re-check ids cannot collide with the dead chain's."""
    properties: dict[str | bytes, Any] = {}
    for key, value in (original or {}).items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name == ATTEMPT_PROPERTY:
            properties[ATTEMPT_PROPERTY] = value
    properties[CHAIN_PROPERTY] = new_chain()
    return properties


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
        letters = []
        for m in messages:
            body = b"".join(bytes(part) for part in m.body)
            letters.append(
                DeadLetter(
                    message_id=str(m.message_id),
                    reason=str(m.dead_letter_reason or ""),
                    description=str(m.dead_letter_error_description or ""),
                    body=body,
                    enqueued_at=m.enqueued_time_utc.isoformat() if m.enqueued_time_utc else "",
                    event_id=event_id_of_letter(str(m.message_id), body),
                )
            )
        return letters

    def replay(self, queue: str, message_ids: Iterable[str] | None) -> list[str]:
        """Send a copy of each chosen dead letter back to its queue, then remove it from the
        dead-letter queue. ``None`` replays them all; an id may be a message id or an event id.
        Each copy keeps its attempt count and starts a new re-check chain. Returns the ids
        replayed (as chosen; event ids when replaying all)."""
        wanted = None if message_ids is None else set(message_ids)
        replayed: list[str] = []
        try:
            with (
                self._client.get_queue_receiver(
                    queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=5
                ) as receiver,
                self._client.get_queue_sender(queue) as sender,
            ):
                seen: set[int] = set()
                for message in receiver:
                    if message.sequence_number in seen:  # an abandoned one came round again
                        receiver.abandon_message(message)
                        break
                    seen.add(message.sequence_number or 0)
                    body = b"".join(bytes(part) for part in message.body)
                    event_id = event_id_of_letter(str(message.message_id), body)
                    chosen = chosen_as(str(message.message_id), event_id, wanted)
                    if chosen is None:
                        receiver.abandon_message(message)
                        continue
                    properties = replay_properties(message.application_properties)
                    copy = ServiceBusMessage(
                        body,
                        message_id=replay_message_id(event_id, properties[CHAIN_PROPERTY]),
                        application_properties=properties,
                        content_type=message.content_type,
                    )
                    sender.send_messages(copy)
                    receiver.complete_message(message)
                    replayed.append(chosen)
        except ServiceBusError as error:
            raise TransientError(f"replay dead letters of {queue}: {error}") from error
        return replayed
