"""A Service Bus queue double with the semantics the Functions host gives the triggers.

Peek-lock delivery with a delivery count; an exception abandons (redelivered at once); after
``max_delivery_count`` deliveries a message is dead-lettered as MaxDeliveryCountExceeded; code can
complete, abandon or dead-letter with a reason; scheduled messages appear at their time; duplicate
detection drops a message id seen within the window. Time is the sandbox's virtual clock.

The AMQP wire protocol is not doubled: the product's scheduler port is served in-process here
(the real adapter, shared.adapters.rechecks, is a thin call to ``schedule_messages``).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus._pyamqp.message import Header, Message, Properties

from sandbox.clock import VirtualClock
from shared.adapters.dead_letters import DeadLetter, replay_message_id
from shared.adapters.rechecks import ATTEMPT_PROPERTY

DUPLICATE_WINDOW_SECONDS = 24 * 3600.0
# Lock duration and max delivery count as infra/modules/servicebus.bicep sets them.
LOCK_SECONDS = 120.0


@dataclass
class QueuedMessage:
    sequence: int
    message_id: str
    body: bytes
    application_properties: dict[str, Any]
    visible_at: float
    delivery_count: int = 0
    lock_token: uuid.UUID = field(default_factory=uuid.uuid4)
    settled: str | None = None
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None


class Queue:
    def __init__(self, name: str, clock: VirtualClock, max_delivery_count: int = 5) -> None:
        self.name = name
        self._clock = clock
        self.max_delivery_count = max_delivery_count
        self.active: list[QueuedMessage] = []
        self.dead_letters: list[QueuedMessage] = []
        self._seen: dict[str, float] = {}
        self._sequence = itertools.count(1)

    def send(
        self,
        body: bytes,
        *,
        message_id: str,
        application_properties: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> bool:
        """Enqueue (at a virtual time, if scheduled). False when dropped as a duplicate."""
        now = self._clock.seconds()
        seen = self._seen.get(message_id)
        if seen is not None and now - seen < DUPLICATE_WINDOW_SECONDS:
            return False
        self._seen[message_id] = now
        self.active.append(
            QueuedMessage(
                sequence=next(self._sequence),
                message_id=message_id,
                body=body,
                application_properties=dict(application_properties or {}),
                visible_at=max(now, at if at is not None else now),
            )
        )
        return True

    def next_visible_at(self) -> float | None:
        return min((m.visible_at for m in self.active), default=None)

    def take_visible(self) -> QueuedMessage | None:
        now = self._clock.seconds()
        ready = [m for m in self.active if m.visible_at <= now]
        if not ready:
            return None
        message = min(ready, key=lambda m: (m.visible_at, m.sequence))
        message.delivery_count += 1
        message.lock_token = uuid.uuid4()
        message.settled = None
        return message

    def complete(self, message: QueuedMessage) -> None:
        message.settled = "completed"
        self.active.remove(message)

    def abandon(self, message: QueuedMessage) -> None:
        message.settled = "abandoned"
        if message.delivery_count >= self.max_delivery_count:
            self.dead_letter(message, "MaxDeliveryCountExceeded", "delivered too many times")

    def dead_letter(
        self, message: QueuedMessage, reason: str | None, description: str | None
    ) -> None:
        message.settled = "dead-lettered"
        message.dead_letter_reason = reason
        message.dead_letter_description = description
        self.active.remove(message)
        self.dead_letters.append(message)

    def lock_expired(self, message: QueuedMessage) -> None:
        """The function returned without settling: the lock runs out, then it comes back."""
        message.visible_at = self._clock.seconds() + LOCK_SECONDS
        self.abandon(message)


def received(message: QueuedMessage) -> ServiceBusReceivedMessage:
    """The SDK message type the host hands an SDK-type Service Bus trigger."""
    amqp = Message(
        data=[message.body],
        properties=Properties(message_id=message.message_id.encode()),
        header=Header(delivery_count=message.delivery_count - 1),
        application_properties={k.encode(): v for k, v in message.application_properties.items()},
        delivery_annotations={b"x-opt-lock-token": message.lock_token.bytes_le},
        message_annotations={b"x-opt-sequence-number": message.sequence},
    )
    return ServiceBusReceivedMessage(amqp, receiver=None)


class HostMessageActions:
    """What the host's ServiceBusMessageActions does, for the one message being delivered."""

    def __init__(self, queue: Queue, message: QueuedMessage) -> None:
        self._queue = queue
        self._message = message

    def _check(self, message: ServiceBusReceivedMessage) -> None:
        if self._message.settled is not None:
            raise RuntimeError(
                f"message {self._message.message_id} is already {self._message.settled}"
            )
        if message.message_id != self._message.message_id:
            raise RuntimeError("settling a message this delivery does not hold")

    def complete(self, message: ServiceBusReceivedMessage) -> None:
        self._check(message)
        self._queue.complete(self._message)

    def abandon(self, message: ServiceBusReceivedMessage) -> None:
        self._check(message)
        self._queue.abandon(self._message)

    def deadletter(
        self,
        message: ServiceBusReceivedMessage,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        self._check(message)
        self._queue.dead_letter(self._message, deadletter_reason, deadletter_error_description)


Trigger = Callable[..., None]


class ServiceBusDouble:
    """A namespace of queues; also the product's RecheckScheduler port."""

    def __init__(self, clock: VirtualClock, queue_names: list[str]) -> None:
        self._clock = clock
        self.queues = {name: Queue(name, clock) for name in queue_names}

    def schedule(
        self, queue: str, body: bytes, *, message_id: str, attempt: int, delay_seconds: float
    ) -> None:
        self.queues[queue].send(
            body,
            message_id=message_id,
            application_properties={ATTEMPT_PROPERTY: attempt},
            at=self._clock.seconds() + delay_seconds,
        )

    def next_visible_at(self) -> float | None:
        times = [t for q in self.queues.values() if (t := q.next_visible_at()) is not None]
        return min(times, default=None)

    def deliver_one(self, triggers: dict[str, Trigger]) -> tuple[str, QueuedMessage] | None:
        """Deliver the next visible message to its queue's trigger, as the host would."""
        candidates = [
            (m.visible_at, m.sequence, name)
            for name, queue in self.queues.items()
            for m in queue.active
            if m.visible_at <= self._clock.seconds()
        ]
        if not candidates:
            return None
        queue = self.queues[min(candidates)[2]]
        message = queue.take_visible()
        assert message is not None
        actions = HostMessageActions(queue, message)
        try:
            triggers[queue.name](message=received(message), message_actions=actions)
        except Exception:
            if message.settled is None:
                queue.abandon(message)
        else:
            if message.settled is None:
                queue.lock_expired(message)
        return queue.name, message


class DeadLetterQueues:
    """The operator's port (list, replay) served by the queue double, as the real adapter
    (shared.adapters.dead_letters) serves it from Service Bus."""

    def __init__(self, bus: ServiceBusDouble) -> None:
        self._bus = bus

    def peek(self, queue: str) -> list[DeadLetter]:
        return [
            DeadLetter(
                message_id=m.message_id,
                reason=m.dead_letter_reason or "",
                description=m.dead_letter_description or "",
                body=m.body,
                enqueued_at=f"t+{m.visible_at:.0f}s",
            )
            for m in self._bus.queues[queue].dead_letters
        ]

    def replay(self, queue: str, message_ids: Iterable[str] | None) -> list[str]:
        target = self._bus.queues[queue]
        wanted = None if message_ids is None else set(message_ids)
        replayed = []
        for message in list(target.dead_letters):
            if wanted is not None and message.message_id not in wanted:
                continue
            target.dead_letters.remove(message)
            target.send(message.body, message_id=replay_message_id(message.message_id))
            replayed.append(message.message_id)
        return replayed
