"""The Service Bus queue double: Event Grid's message ids, concurrent handlers, locks."""

import json
import threading

import pytest
from azure.servicebus.exceptions import MessageAlreadySettled, MessageLockLostError

from sandbox.clock import VirtualClock
from sandbox.servicebus_double import (
    LOCK_SECONDS,
    MAX_AUTO_LOCK_RENEWAL_SECONDS,
    ServiceBusDouble,
)

WAIT = 10.0  # real seconds a test waits for a thread before declaring it stuck (never timed)


def event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "eventType": "x", "data": {}}).encode()


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def bus(clock):
    return ServiceBusDouble(clock, ["q"])


def test_event_grid_gives_a_delivery_its_own_message_id_not_the_event_id(bus):
    queue = bus.queues["q"]
    internal = queue.send_event_grid_delivery(event("evt-1"), event_id="evt-1")
    (message,) = queue.active
    assert message.message_id == internal != "evt-1"
    assert message.event_id == "evt-1"
    assert message.application_properties["aeg-event-type"] == "Notification"


def test_event_grid_delivering_an_event_again_keeps_its_message_id_so_the_copy_is_dropped(bus):
    queue = bus.queues["q"]
    first = queue.send_event_grid_delivery(event("evt-1"), event_id="evt-1")
    again = queue.send_event_grid_delivery(event("evt-1"), event_id="evt-1")
    assert first == again
    assert len(queue.active) == 1


def test_a_message_id_longer_than_service_bus_allows_is_refused(bus):
    with pytest.raises(ValueError, match="128"):
        bus.queues["q"].send(b"{}", message_id="x" * 129)


def test_the_host_runs_handlers_for_different_messages_at_the_same_time(bus):
    for n in range(2):
        bus.queues["q"].send(event(f"evt-{n}"), message_id=f"m-{n}")
    both_inside = threading.Barrier(2, timeout=WAIT)

    def handler(message, message_actions):
        both_inside.wait()  # breaks (and raises) unless the other handler is running too
        message_actions.complete(message)

    handled = bus.deliver_concurrently({"q": handler}, max_concurrent=8)
    assert [h.error for h in handled] == [None, None]
    assert bus.queues["q"].active == []


def test_no_more_handlers_run_at_once_than_the_host_allows(bus):
    for n in range(3):
        bus.queues["q"].send(event(f"evt-{n}"), message_id=f"m-{n}")
    inside, most = [0], [0]
    guard = threading.Lock()
    two_inside = threading.Barrier(2, timeout=WAIT)
    third_started = threading.Event()

    def handler(message, message_actions):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        if message.message_id == "m-2":
            third_started.set()
        else:
            two_inside.wait()
            # linger: a dispatcher ignoring the limit would start the third one meanwhile
            third_started.wait(0.2)
        with guard:
            inside[0] -= 1
        message_actions.complete(message)

    handled = bus.deliver_concurrently({"q": handler}, max_concurrent=2)
    assert [h.error for h in handled] == [None, None, None]
    assert most[0] == 2


class HeldHandler:
    """The first delivery waits until released; later deliveries complete at once."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.redelivered = threading.Event()
        self.first_outcome: list[BaseException | None] = []

    def __call__(self, message, message_actions):
        if message.delivery_count == 0:
            self.started.set()
            assert self.release.wait(WAIT)
            try:
                message_actions.complete(message)
            except BaseException as error:
                self.first_outcome.append(error)
                raise
            self.first_outcome.append(None)
        else:
            message_actions.complete(message)
            self.redelivered.set()


def run_in_background(bus, handler):
    results = []
    thread = threading.Thread(
        target=lambda: results.extend(bus.deliver_concurrently({"q": handler}))
    )
    thread.start()
    return thread, results


def test_a_message_whose_lock_runs_out_goes_to_another_handler_and_the_first_loses_it(bus, clock):
    queue = bus.queues["q"]
    queue.send(event("evt-1"), message_id="m-1")
    handler = HeldHandler()
    thread, results = run_in_background(bus, handler)
    assert handler.started.wait(WAIT)

    clock.advance(MAX_AUTO_LOCK_RENEWAL_SECONDS + 1)  # past what the host renews
    assert handler.redelivered.wait(WAIT)  # a second handler got it, and completed it
    handler.release.set()
    thread.join(WAIT)

    assert len(handler.first_outcome) == 1
    assert isinstance(handler.first_outcome[0], MessageLockLostError)
    by_count = {h.delivery_count: h for h in results}
    assert isinstance(by_count[1].error, MessageLockLostError)
    assert by_count[2].error is None
    assert queue.active == [] and queue.dead_letters == []


def test_the_host_renews_the_lock_while_a_handler_runs_for_up_to_five_minutes(bus, clock):
    queue = bus.queues["q"]
    queue.send(event("evt-1"), message_id="m-1")
    handler = HeldHandler()
    thread, results = run_in_background(bus, handler)
    assert handler.started.wait(WAIT)
    (message,) = queue.active
    token = message.lock_token

    clock.advance(LOCK_SECONDS + 60)  # past one lock duration, within the renewal
    assert queue.holds_lock(message, token)
    handler.release.set()
    thread.join(WAIT)

    assert handler.first_outcome == [None]
    assert [(h.delivery_count, h.error) for h in results] == [(1, None)]
    assert not handler.redelivered.is_set()


def test_settling_twice_is_refused_as_the_sdk_refuses_it(bus):
    bus.queues["q"].send(event("evt-1"), message_id="m-1")
    errors = []

    def handler(message, message_actions):
        message_actions.complete(message)
        try:
            message_actions.complete(message)
        except MessageAlreadySettled as error:
            errors.append(error)

    bus.deliver_one({"q": handler})
    assert len(errors) == 1
