"""What the Functions host does with our settling, as the queue double models it."""

import itertools
import json

import functions.queue_triggers as triggers
from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from, simple_document

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


def test_an_event_grid_message_id_is_not_the_event_id_and_rechecks_follow_the_event_id(
    sandbox_for,
):
    document = simple_document()  # its extension is still installing: a re-check follows
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-eg")}
    sandbox = sandbox_for(scenario_from(document, [step]))
    queue = sandbox.bus.queues["cluster-events"]
    delivered = []
    original = sandbox.bus.deliver_one

    def watch(triggers):
        result = original(triggers)
        delivered.append(result[1].message_id)
        if len(delivered) == 1:  # right after the first delivery: its re-check is queued
            delivered.extend(m.message_id for m in queue.active)
        return result

    sandbox.bus.deliver_one = watch
    report = sandbox.run_pass(0)
    assert "evt-eg" not in delivered[0]  # Event Grid's internal id
    assert delivered[1].startswith("evt-eg#") and delivered[1].endswith("#recheck-1")
    assert {d.id for d in report.deliveries} == {"evt-eg"}


def test_a_long_retry_after_is_not_slept_in_the_call_but_rechecked_no_sooner_than_asked(
    sandbox_for,
):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-429")}
    sandbox = sandbox_for(scenario_from(document, [step]))
    sandbox.arm.inject("GET", "/managedclusters/aks-ml", 429, "TooManyRequests", 3, 20)
    report = sandbox.run_pass(0)

    throttled = [d for d in report.deliveries if "TooManyRequests" in d.reason]
    # one 429 per delivery: the SDK did not retry (and sleep 20 s) inside the call
    assert len(throttled) == 3
    assert all(d.outcome == "scheduled" for d in throttled)
    gaps = [b.at - a.at for a, b in itertools.pairwise(report.deliveries[:4])]
    assert min(gaps) >= 20.0  # each re-check no sooner than Azure asked
    assert report.deliveries[-1].outcome == "completed"


def test_a_short_retry_after_is_still_retried_inside_the_call(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-429")}
    sandbox = sandbox_for(scenario_from(document, [step]))
    sandbox.arm.inject("GET", "/managedclusters/aks-ml", 429, "TooManyRequests", 1, 1)
    report = sandbox.run_pass(0)
    assert not any("TooManyRequests" in d.reason for d in report.deliveries)
    assert 429 in [r.status for r in sandbox.arm.log]


def test_the_real_triggers_can_be_run_concurrently_as_the_host_runs_them(sandbox_for):
    document = ready_document()
    events = [
        {"at": 0, "event": arm_event(CLUSTER_WRITE, c["id"], event_id=f"evt-{n}")}
        for n, c in enumerate(document["clusters"])
    ]
    sandbox = sandbox_for(scenario_from(document, []))
    for step in scenario_from(document, events).steps:
        sandbox.bus.queues["cluster-events"].send_event_grid_delivery(
            step.body, event_id=step.message_id
        )
    handled = sandbox.deliver_concurrently(max_concurrent=8)
    assert sorted(h.message.event_id for h in handled) == ["evt-0", "evt-1"]
    assert [h.error for h in handled] == [None, None]
    assert sandbox.bus.queues["cluster-events"].dead_letters == []
