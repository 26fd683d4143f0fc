"""A Service Bus queue double with the semantics the Functions host gives the triggers.

Peek-lock delivery with a delivery count; an exception abandons (redelivered at once); after
``max_delivery_count`` deliveries a message is dead-lettered as MaxDeliveryCountExceeded; code can
complete, abandon or dead-letter with a reason; scheduled messages appear at their time; duplicate
detection drops a message id seen within the window; message ids longer than 128 characters are
refused, as the SDK refuses them.

Event Grid deliveries (``send_event_grid_delivery``) get what Event Grid gives them: an internal
MessageId that is not the event id (kept the same when Event Grid delivers the event again, so
duplicate detection drops the copy) and the ``aeg-*`` application properties.

Locks: a delivery holds the message's lock; the host renews it while the handler runs, up to
``maxAutoLockRenewalDuration``. When the lock runs out the message is delivered again (delivery
count + 1), and the first handler's later complete, abandon or dead-letter raises
``MessageLockLostError`` as the SDK's does.

Time is the sandbox's virtual clock; handlers are real code. ``deliver_one`` runs one handler in
the caller's thread. ``deliver_concurrently`` runs up to ``max_concurrent`` handlers in real
threads (the host's ``maxConcurrentCalls``), each delivered at the virtual time it is taken.
The clock never moves by itself: virtual time passes only when someone advances it (a test, or
the runner between rounds), and a lock expires only then. The dispatcher polls the clock (every
few real milliseconds) while handlers run, so a test can hold a handler, advance the clock past
the lock, and watch the message go to a second handler. A handler that takes long in *real* time
keeps its lock unless virtual time is advanced.

The AMQP wire protocol is not doubled. What is served in process instead is the seam the product's
Service Bus adapters are written against (shared.adapters.servicebus): ``DoubleLink`` opens a
dead-letter receiver and a sender on these queues that behave as azure-servicebus's
``ServiceBusReceiver`` and ``ServiceBusSender`` do for the calls the adapters make (peek by sequence
number, peek-lock receive, complete, abandon, send, schedule), handing out real
``ServiceBusReceivedMessage`` objects (string properties as bytes, as the SDK returns them; the
dead-letter reason as the ``DeadLetterReason`` property, as Service Bus sets it) and taking real
``ServiceBusMessage`` objects. The real adapters (shared.adapters.rechecks, .dead_letters) run over
it: the scheduler port here and ``DeadLetterQueues`` are those adapters.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage
from azure.servicebus._pyamqp.message import Header, Message, Properties
from azure.servicebus.exceptions import (
    MessageAlreadySettled,
    MessageLockLostError,
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
)

from sandbox.clock import VirtualClock
from shared.adapters.dead_letters import PAGE_SIZE, ServiceBusDeadLetters
from shared.adapters.rechecks import ServiceBusRecheckScheduler
from shared.adapters.servicebus import body_of, text_properties
from shared.decisions.events import event_id_in

DUPLICATE_WINDOW_SECONDS = 24 * 3600.0
# Lock duration and max delivery count as infra/modules/servicebus.bicep sets them.
LOCK_SECONDS = 120.0
# maxAutoLockRenewalDuration and maxConcurrentCalls (per instance) as host.json sets them.
MAX_AUTO_LOCK_RENEWAL_SECONDS = 300.0
MAX_CONCURRENT_CALLS = 8
MESSAGE_ID_MAX_LENGTH = 128
# A batch (a list sent or scheduled in one call): 256 KB on Standard (1 MB on Premium), and at
# most 4,500 messages (azure-service-bus issue 397; azure-sdk-for-python issue 38260).
BATCH_MAX_BYTES = 256 * 1024
BATCH_MAX_MESSAGES = 4500
BATCH_OVERHEAD_BYTES = 32
EVENT_GRID_SUBSCRIPTION = "autoattach-cluster-events"
_EVENT_GRID_IDS = uuid.UUID("5f0b1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3")
_POLL_SECONDS = 0.005


@dataclass
class QueuedMessage:
    sequence: int
    message_id: str
    body: bytes
    application_properties: dict[str, Any]
    visible_at: float
    delivery_count: int = 0
    lock_token: uuid.UUID = field(default_factory=uuid.uuid4)
    locked_until: float | None = None
    settled: str | None = None
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None
    content_type: str | None = None
    enqueued_at: float = 0.0  # virtual seconds it reached the queue (a scheduled one: its time)

    @property
    def event_id(self) -> str:
        """The event id in the body (what the product logs), else the message id."""
        return event_id_in(self.body) or self.message_id.split("#", 1)[0]


class Queue:
    def __init__(
        self,
        name: str,
        clock: VirtualClock,
        max_delivery_count: int = 5,
        lock_renewal_seconds: float = MAX_AUTO_LOCK_RENEWAL_SECONDS,
    ) -> None:
        self.name = name
        self._clock = clock
        self.max_delivery_count = max_delivery_count
        self.lock_renewal_seconds = lock_renewal_seconds
        self.active: list[QueuedMessage] = []
        self.dead_letters: list[QueuedMessage] = []
        self._seen: dict[str, float] = {}
        self._sequence = itertools.count(1)
        self.lock = threading.RLock()
        # Service Bus's billed operations on this queue: each send or schedule (a duplicate
        # dropped included), each receive (a delivery), each complete, abandon or dead-letter.
        self.operations: Counter[str] = Counter()

    def send(
        self,
        body: bytes,
        *,
        message_id: str,
        application_properties: dict[str, Any] | None = None,
        at: float | None = None,
        content_type: str | None = None,
    ) -> bool:
        """Enqueue (at a virtual time, if scheduled). False when dropped as a duplicate."""
        if not message_id or len(message_id) > MESSAGE_ID_MAX_LENGTH:
            raise ValueError(
                f"message_id must be 1 to {MESSAGE_ID_MAX_LENGTH} characters, got {len(message_id)}"
            )
        with self.lock:
            self.operations["send"] += 1
            now = self._clock.seconds()
            seen = self._seen.get(message_id)
            if seen is not None and now - seen < DUPLICATE_WINDOW_SECONDS:
                return False
            self._seen[message_id] = now
            visible_at = max(now, at if at is not None else now)
            self.active.append(
                QueuedMessage(
                    sequence=next(self._sequence),
                    message_id=message_id,
                    body=body,
                    application_properties=dict(application_properties or {}),
                    visible_at=visible_at,
                    content_type=content_type,
                    enqueued_at=visible_at,
                )
            )
            return True

    def carry(self, message: QueuedMessage, *, dead_lettered: bool) -> None:
        """Put back a message kept from an earlier run (sandbox/state.py), with its sequence
        number; later messages are numbered after it."""
        with self.lock:
            if any(m.sequence == message.sequence for m in [*self.active, *self.dead_letters]):
                raise ValueError(f"sequence number {message.sequence} is already on {self.name}")
            (self.dead_letters if dead_lettered else self.active).append(message)
            self.active.sort(key=lambda m: m.sequence)
            self.dead_letters.sort(key=lambda m: m.sequence)
            top = max(m.sequence for m in [*self.active, *self.dead_letters])
            self._sequence = itertools.count(top + 1)

    def send_event_grid_delivery(self, body: bytes, *, event_id: str) -> str:
        """What an Event Grid subscription with this queue as its endpoint enqueues for one event.

        The MessageId is Event Grid's internal id, not the event id; it is the same each time
        Event Grid delivers that event again, so duplicate detection drops the copy. Returns it.
        """
        internal_id = str(uuid.uuid5(_EVENT_GRID_IDS, f"{self.name}/{event_id}"))
        self.operations["event-grid-delivery"] += 1  # Event Grid's operation, not Service Bus's
        properties = {
            "aeg-subscription-name": EVENT_GRID_SUBSCRIPTION.upper(),
            "aeg-delivery-count": 0,
            "aeg-event-type": "Notification",
        }
        self.send(body, message_id=internal_id, application_properties=properties)
        return internal_id

    def next_visible_at(self) -> float | None:
        with self.lock:
            return min((m.visible_at for m in self.active), default=None)

    def take_visible(self) -> QueuedMessage | None:
        """Lock the next visible message for one delivery (a lost lock makes it visible again)."""
        with self.lock:
            while True:
                now = self._clock.seconds()
                ready = [m for m in self.active if m.visible_at <= now]
                if not ready:
                    return None
                message = min(ready, key=lambda m: (m.visible_at, m.sequence))
                if message.delivery_count >= self.max_delivery_count:
                    # its last lock ran out: Service Bus dead-letters it instead of delivering
                    self.dead_letter(message, "MaxDeliveryCountExceeded", "lock lost too often")
                    continue
                message.delivery_count += 1
                self.operations["receive"] += 1
                message.lock_token = uuid.uuid4()
                message.locked_until = now + max(LOCK_SECONDS, self.lock_renewal_seconds)
                message.visible_at = message.locked_until
                message.settled = None
                return message

    def holds_lock(self, message: QueuedMessage, token: uuid.UUID) -> bool:
        with self.lock:
            return (
                message.lock_token == token
                and message.settled is None
                and message.locked_until is not None
                and self._clock.seconds() < message.locked_until
            )

    def complete(self, message: QueuedMessage) -> None:
        with self.lock:
            self.operations["settle"] += 1
            message.settled = "completed"
            message.locked_until = None
            self.active.remove(message)

    def abandon(self, message: QueuedMessage) -> None:
        with self.lock:
            self.operations["settle"] += 1
            message.settled = "abandoned"
            message.locked_until = None
            message.visible_at = self._clock.seconds()
            if message.delivery_count >= self.max_delivery_count:
                self.dead_letter(message, "MaxDeliveryCountExceeded", "delivered too many times")

    def dead_letter(
        self, message: QueuedMessage, reason: str | None, description: str | None
    ) -> None:
        with self.lock:
            self.operations["settle"] += 1
            message.settled = "dead-lettered"
            message.locked_until = None
            message.dead_letter_reason = reason
            message.dead_letter_description = description
            self.active.remove(message)
            self.dead_letters.append(message)

    def lock_expired(self, message: QueuedMessage) -> None:
        """The function returned without settling: the lock runs out, then it comes back."""
        with self.lock:
            self.abandon(message)
            if message.settled == "abandoned":
                message.visible_at = self._clock.seconds() + LOCK_SECONDS


def _amqp_value(value: Any) -> Any:
    """A property value as the SDK hands it back: AMQP strings come back as bytes."""
    return value.encode() if isinstance(value, str) else value


def _epoch_ms(clock: VirtualClock, seconds: float) -> int:
    return round(clock.at(seconds).timestamp() * 1000)


def received(
    message: QueuedMessage, clock: VirtualClock | None = None, *, peeked: bool = False
) -> ServiceBusReceivedMessage:
    """The SDK message type the host hands an SDK-type Service Bus trigger (and a receiver hands
    its caller): string properties as bytes; on a dead letter, the reason and description as the
    ``DeadLetterReason`` and ``DeadLetterErrorDescription`` properties Service Bus sets. A peeked
    message has no lock token."""
    properties: dict[str | bytes, Any] = {
        k.encode(): _amqp_value(v) for k, v in message.application_properties.items()
    }
    if message.settled == "dead-lettered" or message.dead_letter_reason is not None:
        for name, value in (
            ("DeadLetterReason", message.dead_letter_reason),
            ("DeadLetterErrorDescription", message.dead_letter_description),
        ):
            if value is not None:
                properties[name.encode()] = value.encode()
    annotations: dict[str | bytes, Any] = {b"x-opt-sequence-number": message.sequence}
    if clock is not None:
        annotations[b"x-opt-enqueued-time"] = _epoch_ms(clock, message.enqueued_at)
        if message.locked_until is not None and not peeked:
            annotations[b"x-opt-locked-until"] = _epoch_ms(clock, message.locked_until)
    amqp = Message(
        data=[message.body],
        properties=Properties(
            message_id=message.message_id.encode(),
            content_type=message.content_type.encode() if message.content_type else None,
        ),
        header=Header(delivery_count=max(0, message.delivery_count - 1)),
        application_properties=properties,
        delivery_annotations=None if peeked else {b"x-opt-lock-token": message.lock_token.bytes_le},
        message_annotations=annotations,
    )
    return ServiceBusReceivedMessage(amqp, receiver=None, is_peeked_message=peeked)


class HostMessageActions:
    """What the host's ServiceBusMessageActions does, for the one delivery it was given."""

    def __init__(self, queue: Queue, message: QueuedMessage) -> None:
        self._queue = queue
        self._message = message
        self._token = message.lock_token
        self._settled: str | None = None

    def _check(self, message: ServiceBusReceivedMessage) -> None:
        if message.message_id != self._message.message_id:
            raise RuntimeError("settling a message this delivery does not hold")
        if self._settled is not None:
            raise MessageAlreadySettled(action=self._settled)
        if not self._queue.holds_lock(self._message, self._token):
            raise MessageLockLostError(
                message=f"the lock on message {self._message.message_id} was lost (it expired, "
                "and the message was delivered again or settled by another delivery)"
            )

    def _settle(self, action: str, message: ServiceBusReceivedMessage, do: Callable[[], None]):
        with self._queue.lock:
            self._check(message)
            do()
            self._settled = action

    def complete(self, message: ServiceBusReceivedMessage) -> None:
        self._settle("complete", message, lambda: self._queue.complete(self._message))

    def abandon(self, message: ServiceBusReceivedMessage) -> None:
        self._settle("abandon", message, lambda: self._queue.abandon(self._message))

    def deadletter(
        self,
        message: ServiceBusReceivedMessage,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        self._settle(
            "deadletter",
            message,
            lambda: self._queue.dead_letter(
                self._message, deadletter_reason, deadletter_error_description
            ),
        )


Trigger = Callable[..., None]


@dataclass
class Handled:
    """One delivery in ``deliver_concurrently``: which message, its delivery count then, and the
    exception the handler ended with (None when it returned)."""

    queue: str
    message: QueuedMessage
    delivery_count: int
    error: BaseException | None = None


class ServiceBusDouble:
    """A namespace of queues; also the product's RecheckScheduler port."""

    def __init__(self, clock: VirtualClock, queue_names: list[str]) -> None:
        self._clock = clock
        self.queues = {name: Queue(name, clock) for name in queue_names}

    @property
    def clock(self) -> VirtualClock:
        return self._clock

    def queue(self, name: str) -> Queue:
        """A queue by name; an unknown one fails as Service Bus fails (entity not found)."""
        found = self.queues.get(name)
        if found is None:
            raise MessagingEntityNotFoundError(
                message=f"the messaging entity {name!r} could not be found"
            )
        return found

    def now(self) -> datetime:
        """The product's RecheckScheduler port: the queue's (virtual) clock."""
        return DoubleLink(self).now()

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
        """The product's RecheckScheduler port: the real adapter, over this double's link."""
        ServiceBusRecheckScheduler(DoubleLink(self)).schedule(
            queue,
            body,
            message_id=message_id,
            attempt=attempt,
            delay_seconds=delay_seconds,
            chain=chain,
        )

    def schedule_all(
        self, queue: str, messages: Iterable[tuple[bytes, str]], *, delay_seconds: float
    ) -> int:
        """The port's batched scheduling: the real adapter, over this double's link."""
        return ServiceBusRecheckScheduler(DoubleLink(self)).schedule_all(
            queue, messages, delay_seconds=delay_seconds
        )

    def next_visible_at(self) -> float | None:
        times = [t for q in self.queues.values() if (t := q.next_visible_at()) is not None]
        return min(times, default=None)

    def _take_next(self) -> tuple[Queue, QueuedMessage] | None:
        now = self._clock.seconds()
        candidates = [
            (m.visible_at, m.sequence, name)
            for name, queue in self.queues.items()
            for m in list(queue.active)
            if m.visible_at <= now
        ]
        for _, _, name in sorted(candidates):
            message = self.queues[name].take_visible()
            if message is not None:
                return self.queues[name], message
        return None

    def _run(self, queue: Queue, message: QueuedMessage, triggers: dict[str, Trigger]) -> Handled:
        """One delivery, as the host runs it: settle on the handler's behalf only while the
        delivery still holds the lock (exception: abandon; no settlement: the lock runs out)."""
        actions = HostMessageActions(queue, message)
        token = message.lock_token
        handled = Handled(queue.name, message, message.delivery_count)
        try:
            triggers[queue.name](message=received(message, self._clock), message_actions=actions)
        except Exception as error:
            handled.error = error
            with queue.lock:
                if queue.holds_lock(message, token):
                    queue.abandon(message)
        else:
            with queue.lock:
                if queue.holds_lock(message, token):
                    queue.lock_expired(message)
        return handled

    def deliver_one(self, triggers: dict[str, Trigger]) -> tuple[str, QueuedMessage] | None:
        """Deliver the next visible message to its queue's trigger, in this thread."""
        taken = self._take_next()
        if taken is None:
            return None
        queue, message = taken
        self._run(queue, message, triggers)
        return queue.name, message

    def deliver_concurrently(
        self,
        triggers: dict[str, Trigger],
        *,
        max_concurrent: int = MAX_CONCURRENT_CALLS,
        on_start: Callable[[Handled], None] | None = None,
    ) -> list[Handled]:
        """Deliver what is visible now to up to ``max_concurrent`` handlers at once, in threads,
        until nothing is visible and no handler runs. Messages whose lock runs out while their
        handler runs (someone advanced the clock) are delivered again to another handler.
        Returns every delivery, in the order they finished."""
        done: list[Handled] = []
        running: set[threading.Thread] = set()
        wake = threading.Condition()

        started: list[threading.Thread] = []

        def work(queue: Queue, message: QueuedMessage) -> None:
            handled = Handled(queue.name, message, message.delivery_count)
            try:
                handled = self._run(queue, message, triggers)
            finally:
                with wake:
                    done.append(handled)
                    running.discard(threading.current_thread())
                    wake.notify_all()

        with wake:
            while True:
                while len(running) < max_concurrent:
                    taken = self._take_next()
                    if taken is None:
                        break
                    queue, message = taken
                    if on_start is not None:
                        on_start(Handled(queue.name, message, message.delivery_count))
                    thread = threading.Thread(
                        target=work, args=(queue, message), name=f"sb-{message.sequence}"
                    )
                    running.add(thread)
                    started.append(thread)
                    thread.start()
                if not running:
                    break
                wake.wait(timeout=_POLL_SECONDS)  # also notices the virtual clock moving
        for thread in started:
            thread.join()
        return done


class DoubleLink:
    """shared.adapters.servicebus.QueueLink served by the double: a dead-letter receiver and a
    sender per queue, and the virtual clock's time."""

    def __init__(self, bus: ServiceBusDouble) -> None:
        self.bus = bus

    @contextmanager
    def dead_letter_receiver(self, queue: str) -> Iterator[DeadLetterReceiver]:
        """As azure-servicebus's receiver on the dead-letter sub-queue, peek-lock, no prefetch.
        Closing it settles nothing: locks it still holds run out in (virtual) time, as Service
        Bus's do."""
        yield DeadLetterReceiver(self.bus.queue(queue), self.bus.clock)

    @contextmanager
    def sender(self, queue: str) -> Iterator[QueueSender]:
        yield QueueSender(self.bus.queue(queue), self.bus.clock)

    def now(self) -> datetime:
        return self.bus.clock.now()


class DeadLetterReceiver:
    """``ServiceBusReceiver`` on a queue's dead-letter sub-queue, for the calls the adapters make.

    Peeking locks nothing and, from sequence number 0, goes on after the last message this
    receiver peeked (as the SDK does). Receiving locks the lowest-numbered unlocked dead letters
    for ``LOCK_SECONDS`` (virtual) and counts a delivery; complete removes one, abandon makes it
    receivable again at once. Settling a peeked message, or one whose lock ran out or was settled,
    fails as the SDK's receiver fails."""

    def __init__(self, queue: Queue, clock: VirtualClock) -> None:
        self._queue = queue
        self._clock = clock
        self._last_peeked = 0
        self._locks: dict[uuid.UUID, QueuedMessage] = {}
        self.received_count = 0  # every message handed out by receive_messages

    def peek_messages(
        self, max_message_count: int = 1, *, sequence_number: int = 0
    ) -> list[ServiceBusReceivedMessage]:
        start = sequence_number or self._last_peeked + 1
        with self._queue.lock:
            found = sorted(
                (m for m in self._queue.dead_letters if m.sequence >= start),
                key=lambda m: m.sequence,
            )[:max_message_count]
            if found:
                self._last_peeked = found[-1].sequence
            return [received(m, self._clock, peeked=True) for m in found]

    def receive_messages(
        self, max_message_count: int | None = 1, max_wait_time: float | None = None
    ) -> list[ServiceBusReceivedMessage]:
        """Nothing to wait for: the clock never moves by itself, so an empty answer now is an
        empty answer after ``max_wait_time`` too."""
        with self._queue.lock:
            now = self._clock.seconds()
            free = sorted(
                (
                    m
                    for m in self._queue.dead_letters
                    if m.locked_until is None or m.locked_until <= now
                ),
                key=lambda m: m.sequence,
            )[: max_message_count or 1]
            taken = []
            for message in free:
                message.delivery_count += 1
                message.lock_token = uuid.uuid4()
                message.locked_until = now + LOCK_SECONDS
                self._locks[message.lock_token] = message
                taken.append(received(message, self._clock))
            self.received_count += len(taken)
            return taken

    def _held(self, message: ServiceBusReceivedMessage, action: str) -> QueuedMessage:
        token = message.lock_token
        if token is None:
            raise ValueError(f"{action} is not supported for peeked messages")
        key = uuid.UUID(bytes_le=token) if isinstance(token, bytes) else uuid.UUID(str(token))
        held = self._locks.pop(key, None)
        if held is None:
            raise MessageAlreadySettled(action=action)
        if (
            held.lock_token != key
            or held not in self._queue.dead_letters
            or held.locked_until is None
            or held.locked_until <= self._clock.seconds()
        ):
            raise MessageLockLostError(
                message=f"the lock on dead letter {held.message_id} was lost (it ran out)"
            )
        return held

    def complete_message(self, message: ServiceBusReceivedMessage) -> None:
        with self._queue.lock:
            held = self._held(message, "complete")
            held.locked_until = None
            held.settled = "completed"
            self._queue.dead_letters.remove(held)

    def abandon_message(self, message: ServiceBusReceivedMessage) -> None:
        with self._queue.lock:
            held = self._held(message, "abandon")
            held.locked_until = None


class QueueSender:
    """``ServiceBusSender`` on a queue: takes real ``ServiceBusMessage`` objects."""

    def __init__(self, queue: Queue, clock: VirtualClock) -> None:
        self._queue = queue
        self._clock = clock

    def _send(self, message: ServiceBusMessage, at: float | None) -> int:
        if not isinstance(message, ServiceBusMessage):
            raise TypeError(f"expected a ServiceBusMessage, got {type(message).__name__}")
        self._queue.send(
            body_of(message),
            message_id=str(message.message_id or ""),
            application_properties=text_properties(message.application_properties),
            at=at,
            content_type=message.content_type,
        )
        with self._queue.lock:  # in sequence order: the last is the highest
            return self._queue.active[-1].sequence if self._queue.active else 0

    def send_messages(self, message: ServiceBusMessage) -> None:
        """Sent at once; a message id seen within the duplicate-detection window is dropped
        silently, as Service Bus drops it. A list is one batch: too large, it is refused."""
        if isinstance(message, list) and _batch_too_large(message):
            raise MessageSizeExceededError(message="the batch is larger than Service Bus takes")
        for one in message if isinstance(message, list) else [message]:
            self._send(one, None)

    def schedule_messages(
        self, messages: ServiceBusMessage | list[ServiceBusMessage], schedule_time_utc: datetime
    ) -> list[int]:
        """A list is one batch: too large, Service Bus answers no error but a timeout, and
        schedules none of it (azure-service-bus issue 697)."""
        if isinstance(messages, list) and _batch_too_large(messages):
            raise OperationTimeoutError(message="the scheduling request timed out")
        at = (schedule_time_utc - self._clock.at(0)).total_seconds()
        return [
            self._send(one, at) for one in (messages if isinstance(messages, list) else [messages])
        ]


def _batch_too_large(messages: list[ServiceBusMessage]) -> bool:
    """Over BATCH_MAX_MESSAGES messages, or over BATCH_MAX_BYTES of bodies, ids and properties
    (Standard's limit; a guess at what the encoding adds: sandbox/README.md, G41)."""
    if len(messages) > BATCH_MAX_MESSAGES:
        return True
    size = 0
    for message in messages:
        properties = text_properties(message.application_properties)
        size += len(body_of(message)) + len(str(message.message_id or "")) + BATCH_OVERHEAD_BYTES
        size += sum(len(str(k)) + len(str(v)) for k, v in properties.items())
    return size > BATCH_MAX_BYTES


class DeadLetterQueues(ServiceBusDeadLetters):
    """The operators' dead-letter adapter (shared.adapters.dead_letters) over this double."""

    def __init__(self, bus: ServiceBusDouble, *, page_size: int = PAGE_SIZE) -> None:
        super().__init__(DoubleLink(bus), page_size=page_size)
