"""The Service Bus adapters' logic (shared.adapters.dead_letters, .rechecks) over the queue double's
link: real azure.servicebus message types in and out; only the AMQP transport is doubled."""

import inspect
import json
from datetime import timedelta

import pytest
from azure.servicebus import ServiceBusMessage, ServiceBusReceiver, ServiceBusSender
from azure.servicebus.exceptions import ServiceBusConnectionError

from sandbox.clock import VirtualClock
from sandbox.servicebus_double import LOCK_SECONDS, DeadLetterQueues, DoubleLink, ServiceBusDouble
from shared.adapters.dead_letters import ServiceBusDeadLetters
from shared.adapters.rechecks import ATTEMPT_PROPERTY, CHAIN_PROPERTY, ServiceBusRecheckScheduler
from shared.adapters.servicebus import Receiver, Sender
from shared.decisions.errors import TransientError

QUEUE = "cluster-events"
CLUSTER = (
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerService"
    "/managedClusters/aks-{n}"
)


def event(n: int) -> bytes:
    cluster = CLUSTER.format(n=n)
    return json.dumps(
        {
            "id": f"evt-{n}",
            "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "subject": cluster,
            "data": {
                "operationName": "Microsoft.ContainerService/managedClusters/write",
                "resourceUri": cluster,
            },
        }
    ).encode()


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def bus(clock):
    return ServiceBusDouble(clock, [QUEUE])


def dead_letter(bus, n: int, *, reason="AttachFailed", attempt=None, content_type=None):
    queue = bus.queues[QUEUE]
    queue.send_event_grid_delivery(event(n), event_id=f"evt-{n}")
    message = queue.active[-1]
    if attempt is not None:
        message.application_properties[ATTEMPT_PROPERTY] = attempt
        message.application_properties[CHAIN_PROPERTY] = "deadchain"
    message.content_type = content_type
    queue.dead_letter(message, reason, f"why {n}")
    return message


def test_the_real_sdk_receiver_and_sender_fit_the_seam_the_adapters_use():
    for protocol, real in ((Receiver, ServiceBusReceiver), (Sender, ServiceBusSender)):
        for name, method in inspect.getmembers(protocol, inspect.isfunction):
            if name.startswith("_"):
                continue
            wanted = inspect.signature(method).parameters
            have = inspect.signature(getattr(real, name)).parameters
            for parameter in wanted:
                assert parameter in have, f"{real.__name__}.{name} has no {parameter}"
                assert have[parameter].kind == wanted[parameter].kind


def test_listing_reads_every_dead_letter_page_after_page_not_only_the_first(bus):
    for n in range(7):
        dead_letter(bus, n)
    letters = DeadLetterQueues(bus, page_size=3).peek(QUEUE)
    assert [letter.event_id for letter in letters] == [f"evt-{n}" for n in range(7)]
    assert len({letter.sequence_number for letter in letters}) == 7


def test_a_listed_dead_letter_says_why_when_and_which_cluster_from_the_sdk_message(bus, clock):
    clock.advance(90)
    dead_letter(bus, 1, reason="AttachFailed", attempt=4)
    (letter,) = DeadLetterQueues(bus).peek(QUEUE)
    assert letter.reason == "AttachFailed"
    assert letter.description == "why 1"
    assert letter.enqueued_at == clock.at(90)
    assert str(letter.cluster).endswith("/managedClusters/aks-1")
    assert letter.properties[ATTEMPT_PROPERTY] == 4
    assert "DeadLetterReason" not in letter.properties
    assert bus.queues[QUEUE].dead_letters[0].locked_until is None  # peeking locks nothing


def test_replaying_one_deep_in_the_queue_reaches_it_and_leaves_the_others_in_order(bus):
    for n in range(5):
        dead_letter(bus, n)
    store = DeadLetterQueues(bus, page_size=2)
    chosen = [letter for letter in store.peek(QUEUE) if letter.event_id == "evt-4"]
    (done,) = store.replay(QUEUE, chosen)
    assert done.copy_id is not None and done.copy_id.startswith("evt-4#")
    remaining = bus.queues[QUEUE].dead_letters
    assert [m.event_id for m in remaining] == ["evt-0", "evt-1", "evt-2", "evt-3"]
    # the ones passed over were each received once and released at the end, not left locked
    assert [m.delivery_count for m in remaining] == [1, 1, 1, 1]
    assert all(m.locked_until is None for m in remaining)
    assert [m.event_id for m in bus.queues[QUEUE].active] == ["evt-4"]


def test_a_replay_never_receives_a_passed_over_dead_letter_twice_while_it_iterates(bus):
    """Abandoning a skipped dead letter at once puts it back at the head of the sub-queue, where
    the next receive finds it again (the old adapter then stopped before reaching later ones)."""
    for n in range(4):
        dead_letter(bus, n)
    seen: list[int] = []
    link = DoubleLink(bus)
    opened = link.dead_letter_receiver

    def counting(queue):
        context = opened(queue)
        receiver = context.__enter__()
        original = receiver.receive_messages

        def receive_messages(max_message_count=1, max_wait_time=None):
            batch = original(max_message_count, max_wait_time)
            seen.extend(int(m.sequence_number) for m in batch)
            return batch

        receiver.receive_messages = receive_messages
        return _Entered(receiver, context)

    link.dead_letter_receiver = counting
    store = ServiceBusDeadLetters(link, page_size=1)
    chosen = [letter for letter in store.peek(QUEUE) if letter.event_id in ("evt-1", "evt-3")]
    done = store.replay(QUEUE, chosen)
    assert [r.letter.event_id for r in done] == ["evt-1", "evt-3"]
    assert len(seen) == len(set(seen)) == 4
    assert [m.event_id for m in bus.queues[QUEUE].dead_letters] == ["evt-0", "evt-2"]


class _Entered:
    def __init__(self, receiver, context):
        self._receiver = receiver
        self._context = context

    def __enter__(self):
        return self._receiver

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def test_a_replayed_copy_keeps_body_content_type_and_properties_under_a_new_id(bus):
    original = dead_letter(bus, 1, attempt=7, content_type="application/json")
    store = DeadLetterQueues(bus)
    store.replay(QUEUE, store.peek(QUEUE))
    (copy,) = bus.queues[QUEUE].active
    assert copy.body == original.body
    assert copy.content_type == "application/json"
    assert copy.application_properties[ATTEMPT_PROPERTY] == 7  # the re-check limit still counts
    assert copy.application_properties["aeg-event-type"] == "Notification"  # a string still
    assert copy.application_properties[CHAIN_PROPERTY] not in ("deadchain", None)
    assert "DeadLetterReason" not in copy.application_properties
    assert copy.message_id != original.message_id
    assert copy.message_id.endswith("#replay")


def test_a_dead_letter_is_kept_when_its_copy_could_not_be_sent(bus):
    dead_letter(bus, 1)
    link = DoubleLink(bus)
    real_sender = link.sender

    class Failing:
        def __init__(self, queue):
            self._context = real_sender(queue)

        def __enter__(self):
            sender = self._context.__enter__()

            def send_messages(message):
                raise ServiceBusConnectionError(message="connection dropped")

            sender.send_messages = send_messages
            return sender

        def __exit__(self, *exc):
            return self._context.__exit__(*exc)

    link.sender = Failing
    store = ServiceBusDeadLetters(link)
    with pytest.raises(TransientError, match="connection dropped"):
        store.replay(QUEUE, store.peek(QUEUE))
    (kept,) = bus.queues[QUEUE].dead_letters
    assert kept.locked_until is None  # released for the next try, not left to lapse
    assert bus.queues[QUEUE].active == []


def test_a_dead_letter_removed_after_the_listing_is_reported_not_replayed(bus):
    dead_letter(bus, 1)
    dead_letter(bus, 2)
    store = DeadLetterQueues(bus)
    letters = store.peek(QUEUE)
    bus.queues[QUEUE].dead_letters.pop(0)  # another operator replayed evt-1 meanwhile
    done = store.replay(QUEUE, letters)
    assert [(r.letter.event_id, r.copy_id is not None) for r in done] == [
        ("evt-2", True),
        ("evt-1", False),
    ]


def test_settling_a_dead_letter_whose_lock_ran_out_fails_as_the_sdk_does(bus, clock):
    from azure.servicebus.exceptions import MessageLockLostError

    dead_letter(bus, 1)
    with DoubleLink(bus).dead_letter_receiver(QUEUE) as receiver:
        (message,) = receiver.receive_messages(1)
        assert receiver.receive_messages(1) == []  # locked: not handed out twice
        clock.advance(LOCK_SECONDS + 1)
        with pytest.raises(MessageLockLostError):
            receiver.complete_message(message)
        (peeked,) = receiver.peek_messages(1, sequence_number=1)
        with pytest.raises(ValueError, match="peeked"):
            receiver.complete_message(peeked)


def test_a_recheck_is_a_real_sdk_message_scheduled_on_the_queue_at_its_time(bus, clock):
    clock.advance(10)
    scheduler = ServiceBusRecheckScheduler(DoubleLink(bus))
    scheduler.schedule(QUEUE, event(1), message_id="evt-1#c#recheck-1", attempt=1, delay_seconds=60)
    (message,) = bus.queues[QUEUE].active
    assert message.visible_at == pytest.approx(70)
    assert message.application_properties == {ATTEMPT_PROPERTY: 1}
    assert message.content_type == "application/json"


def test_the_double_takes_real_service_bus_messages_only(bus):
    with DoubleLink(bus).sender(QUEUE) as sender:
        sender.send_messages(ServiceBusMessage(b"{}", message_id="m-1"))
        with pytest.raises(TypeError):
            sender.send_messages(b"{}")  # type: ignore[arg-type]
        at = DoubleLink(bus).now() + timedelta(seconds=30)
        sender.schedule_messages(ServiceBusMessage(b"{}", message_id="m-2"), at)
    assert [m.visible_at for m in bus.queues[QUEUE].active] == [0, pytest.approx(30)]
