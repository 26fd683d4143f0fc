"""The few azure-servicebus calls the product makes, behind a small seam.

The Service Bus adapters (``rechecks``, ``dead_letters``) are written against ``Receiver`` and
``Sender``: a subset of azure-servicebus's ``ServiceBusReceiver`` and ``ServiceBusSender``, with the
same names and signatures, so the real ones satisfy them as they are (mypy checks that here, in
``ServiceBusLink``). A ``QueueLink`` opens them and tells the time. ``ServiceBusLink`` is the real
one (AMQP to Service Bus); the sandbox's queue double (sandbox/servicebus_double.py, ``DoubleLink``)
serves the same interfaces in process, handing out real ``ServiceBusReceivedMessage`` objects and
taking real ``ServiceBusMessage`` objects, so the adapters' logic is tested without Azure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Protocol

from azure.core.credentials import TokenCredential
from azure.servicebus import (
    AutoLockRenewer,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)

# How long the dead-letter receiver keeps renewing the locks it holds: a replay holds the locks of
# the dead letters it passes over until it ends (see docs/decisions.md, "Replaying dead letters").
LOCK_RENEWAL_SECONDS = 600.0


class Receiver(Protocol):
    """What the adapters use of ``azure.servicebus.ServiceBusReceiver``."""

    def peek_messages(
        self, max_message_count: int = 1, *, sequence_number: int = 0
    ) -> list[ServiceBusReceivedMessage]: ...

    def receive_messages(
        self, max_message_count: int | None = 1, max_wait_time: float | None = None
    ) -> list[ServiceBusReceivedMessage]: ...

    def complete_message(self, message: ServiceBusReceivedMessage) -> None: ...

    def abandon_message(self, message: ServiceBusReceivedMessage) -> None: ...


class Sender(Protocol):
    """What the adapters use of ``azure.servicebus.ServiceBusSender``."""

    def send_messages(self, message: ServiceBusMessage) -> None: ...

    def schedule_messages(
        self, messages: ServiceBusMessage | list[ServiceBusMessage], schedule_time_utc: datetime
    ) -> list[int]: ...


class QueueLink(Protocol):
    """Opens receivers and senders on a namespace's queues, and tells the time."""

    def dead_letter_receiver(self, queue: str) -> AbstractContextManager[Receiver]: ...
    def sender(self, queue: str) -> AbstractContextManager[Sender]: ...
    def now(self) -> datetime: ...


class ServiceBusLink:
    """The real link: azure-servicebus over AMQP to a Service Bus namespace."""

    def __init__(self, fully_qualified_namespace: str, credential: TokenCredential) -> None:
        self._client = ServiceBusClient(fully_qualified_namespace, credential)

    @contextmanager
    def dead_letter_receiver(self, queue: str) -> Iterator[Receiver]:
        """Peek-lock on the dead-letter sub-queue, no prefetch (a prefetched message is locked
        without being seen), every received message's lock renewed until the receiver closes."""
        renewer = AutoLockRenewer(max_lock_renewal_duration=LOCK_RENEWAL_SECONDS)
        try:
            with self._client.get_queue_receiver(
                queue,
                sub_queue=ServiceBusSubQueue.DEAD_LETTER,
                receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                prefetch_count=0,
                auto_lock_renewer=renewer,
            ) as receiver:
                yield receiver
        finally:
            renewer.close()

    def sender(self, queue: str) -> AbstractContextManager[Sender]:
        return self._client.get_queue_sender(queue)

    def now(self) -> datetime:
        return datetime.now(UTC)


def body_of(message: Any) -> bytes:
    """A message's body as bytes (a data body may come as one or several sections)."""
    body = message.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return b"".join(bytes(section) for section in body)


def text_properties(properties: Any) -> dict[str, Any]:
    """Application properties with ``str`` keys, and ``str`` values where the SDK hands back
    UTF-8 ``bytes``: it returns AMQP strings as bytes on received messages (its docs say so), and
    sending those bytes on would turn a string property into a binary one."""
    found: dict[str, Any] = {}
    for key, value in (properties or {}).items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if isinstance(value, bytes):
            with suppress(UnicodeDecodeError):
                value = value.decode("utf-8")
        found[name] = value
    return found
