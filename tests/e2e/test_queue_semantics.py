"""What the Functions host does with our settling, as the queue double models it."""

import json

import functions.queue_triggers as triggers
from sandbox.scenario import arm_event
from tests.e2e.conftest import scenario_from, simple_document

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


def test_a_message_that_keeps_crashing_is_redelivered_then_dead_lettered_not_lost(
    sandbox_for, monkeypatch
):
    document = simple_document()
    step = {
        "at": 0,
        "event": arm_event(CLUSTER_WRITE, document["clusters"][0]["id"], event_id="boom"),
    }
    sandbox = sandbox_for(scenario_from(document, [step]))

    def crash(*args, **kwargs):
        raise RuntimeError("a bug, not a verdict on the message")

    monkeypatch.setattr(triggers, "handle_message", crash)  # stands in for a defect in our code
    report = sandbox.run_pass(0)

    queue = sandbox.bus.queues["cluster-events"]
    assert len(report.deliveries) == queue.max_delivery_count
    assert all(d.id == "boom" for d in report.deliveries)
    (letter,) = queue.dead_letters
    assert letter.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert letter.body == json.dumps(step["event"]).encode()  # the whole event, kept


def test_the_same_event_delivered_twice_by_event_grid_is_handled_once(sandbox_for):
    document = simple_document()
    cluster = document["clusters"][1]["id"]
    event = arm_event(CLUSTER_WRITE, cluster, event_id="same-id")
    sandbox = sandbox_for(
        scenario_from(document, [{"at": 0, "event": event}, {"at": 5, "event": event}])
    )
    report = sandbox.run_pass(0)
    assert [d.id for d in report.deliveries] == ["same-id"]  # duplicate detection dropped the copy
