"""Operators' view of failures: the queues' dead-letter sub-queues (azure-servicebus).

``peek`` browses a dead-letter sub-queue page by page (by sequence number) without locking anything.
``replay`` takes the dead letters an operator chose from that listing (by sequence number): it
receives the sub-queue in peek-lock order, and for each chosen one sends a copy to the queue and
only then completes the dead letter; the ones it passes over keep their locks (renewed) until it
ends and are abandoned then, all at once, so none comes back while it iterates. Why this way and
not deferral or lapsing locks: docs/decisions.md, "Replaying dead letters".

The logic runs over ``shared.adapters.servicebus.QueueLink``: azure-servicebus in Azure, the
sandbox's queue double in tests and rehearsals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage
from azure.servicebus.exceptions import ServiceBusError

from shared.adapters.rechecks import CHAIN_PROPERTY, new_chain
from shared.adapters.servicebus import QueueLink, Receiver, body_of, text_properties
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import TransientError
from shared.decisions.events import ClusterSignal, MalformedEvent, event_id_in, parse_message

PAGE_SIZE = 100
RECEIVE_WAIT_SECONDS = 5.0
MESSAGE_ID_MAX_LENGTH = 128
# Set by Service Bus on a dead letter; they describe the dead-lettering, not the message.
DEAD_LETTER_PROPERTIES = frozenset({"DeadLetterReason", "DeadLetterErrorDescription"})


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    sequence_number: int
    message_id: str
    reason: str
    description: str
    body: bytes
    enqueued_at: datetime | None
    event_id: str = ""  # from the body; Event Grid's MessageId is an internal id
    cluster: ResourceId | None = None  # the cluster the body names, if it is an event about one
    properties: Mapping[str, Any] = field(default_factory=dict)
    content_type: str | None = None


@dataclass(frozen=True)
class Replayed:
    """One chosen dead letter after a replay: ``copy_id`` is the message id its copy was sent
    under, None when it was no longer dead-lettered (replayed or removed meanwhile)."""

    letter: DeadLetter
    copy_id: str | None


def replay_message_id(event_id: str, chain: str) -> str:
    """The id of a replayed copy: fresh (duplicate detection would drop a reused one), unique per
    replay (its new chain), with the event id in front so logs still tie it to the event."""
    suffix = f"#{chain}#replay"
    return event_id[: MESSAGE_ID_MAX_LENGTH - len(suffix)] + suffix


def event_id_of_letter(message_id: str, body: bytes) -> str:
    return event_id_in(body) or message_id.split("#", 1)[0]


def cluster_of_letter(body: bytes) -> ResourceId | None:
    """The cluster a dead letter's event is about (as the handler would have read it), if any."""
    try:
        parsed = parse_message(body)
    except MalformedEvent:
        return None
    return parsed.cluster_id if isinstance(parsed, ClusterSignal) else None


def chosen_as(message_id: str, event_id: str, wanted: set[str] | None) -> str | None:
    """Which id an operator chose a dead letter by (message id or event id), None if not chosen.
    Replaying everything reports event ids."""
    if wanted is None:
        return event_id
    if message_id in wanted:
        return message_id
    return event_id if event_id in wanted else None


def replay_properties(original: Mapping[Any, Any] | None) -> dict[str | bytes, Any]:
    """A replayed copy keeps the message's application properties (its attempt count among them,
    so the re-check limit still counts; Event Grid's ``aeg-*``), drops the ones Service Bus set
    when it dead-lettered it, and starts a new re-check chain, so its re-check ids cannot collide
    with the dead chain's."""
    properties: dict[str | bytes, Any] = {
        name: value
        for name, value in text_properties(original).items()
        if name not in DEAD_LETTER_PROPERTIES
    }
    properties[CHAIN_PROPERTY] = new_chain()
    return properties


def letter_from(queue: str, message: ServiceBusReceivedMessage) -> DeadLetter:
    body = body_of(message)
    message_id = str(message.message_id or "")
    return DeadLetter(
        queue=queue,
        sequence_number=int(message.sequence_number or 0),
        message_id=message_id,
        reason=str(message.dead_letter_reason or ""),
        description=str(message.dead_letter_error_description or ""),
        body=body,
        enqueued_at=message.enqueued_time_utc,
        event_id=event_id_of_letter(message_id, body),
        cluster=cluster_of_letter(body),
        properties={
            name: value
            for name, value in text_properties(message.application_properties).items()
            if name not in DEAD_LETTER_PROPERTIES
        },
        content_type=message.content_type,
    )


def replay_copy(message: ServiceBusReceivedMessage) -> ServiceBusMessage:
    """What goes back on the queue for a dead letter: its body, content type and application
    properties (see ``replay_properties``) under a fresh message id."""
    body = body_of(message)
    properties = replay_properties(message.application_properties)
    event_id = event_id_of_letter(str(message.message_id or ""), body)
    return ServiceBusMessage(
        body,
        message_id=replay_message_id(event_id, properties[CHAIN_PROPERTY]),
        application_properties=properties,
        content_type=message.content_type,
    )


class ServiceBusDeadLetters:
    """List and replay dead letters through a QueueLink."""

    def __init__(self, link: QueueLink, *, page_size: int = PAGE_SIZE) -> None:
        self._link = link
        self._page_size = page_size

    def now(self) -> datetime:
        return self._link.now()

    def peek(self, queue: str) -> list[DeadLetter]:
        """Every dead letter of the queue, in sequence order: peeked page after page from the
        sequence number after the last one seen, until a page comes back empty (a page may hold
        fewer than asked for while more remain)."""
        letters: list[DeadLetter] = []
        try:
            with self._link.dead_letter_receiver(queue) as receiver:
                after = 0
                while True:
                    page = receiver.peek_messages(self._page_size, sequence_number=after + 1)
                    if not page:
                        break
                    for message in page:
                        letters.append(letter_from(queue, message))
                        after = max(after, int(message.sequence_number or 0))
        except ServiceBusError as error:
            raise TransientError(f"read the dead letters of {queue}: {error}") from error
        return letters

    def replay(
        self,
        queue: str,
        letters: Sequence[DeadLetter],
        on_each: Callable[[Replayed], None] | None = None,
    ) -> list[Replayed]:
        """Replay the chosen dead letters of one queue (from ``peek``), reporting each as it is
        done (``on_each``). A copy is sent before its dead letter is completed, so a failure
        between the two leaves both (replayed again later: harmless, reconcile is idempotent),
        never neither. Dead letters no longer there are reported with ``copy_id`` None."""
        wanted = {letter.sequence_number: letter for letter in letters if letter.queue == queue}
        done: list[Replayed] = []

        def report(result: Replayed) -> None:
            done.append(result)
            if on_each is not None:
                on_each(result)

        held: dict[int, ServiceBusReceivedMessage] = {}
        try:
            with (
                self._link.dead_letter_receiver(queue) as receiver,
                self._link.sender(queue) as sender,
            ):
                try:
                    while wanted:
                        batch = receiver.receive_messages(
                            max_message_count=self._page_size, max_wait_time=RECEIVE_WAIT_SECONDS
                        )
                        if not batch:
                            break
                        new = False
                        for message in batch:
                            number = int(message.sequence_number or 0)
                            letter = wanted.pop(number, None)
                            if letter is None:
                                # not chosen: keep its lock (renewed) so it cannot come round
                                # again while we iterate; released below, after the last one
                                new = new or number not in held
                                held[number] = message
                                continue
                            new = True
                            held[number] = message  # released below if the send fails
                            copy = replay_copy(message)
                            sender.send_messages(copy)
                            receiver.complete_message(message)
                            del held[number]
                            report(Replayed(letter, str(copy.message_id)))
                        if not new:
                            break  # only messages seen before: the rest are gone
                finally:
                    _release(receiver, held.values())
        except ServiceBusError as error:
            raise TransientError(
                f"replay dead letters of {queue} ({len(done)} replayed before): {error}"
            ) from error
        for letter in sorted(wanted.values(), key=lambda letter: letter.sequence_number):
            report(Replayed(letter, None))
        return done


def _release(receiver: Receiver, messages: Any) -> None:
    """Abandon what a replay held and did not replay, now that it is done iterating. A lock that
    was lost meanwhile needs nothing: the message is already back."""
    for message in messages:
        with contextlib.suppress(ServiceBusError):
            receiver.abandon_message(message)
