"""Operators: see what failed, fix the cause, replay it."""

import json

from sandbox.scenario import arm_event
from sandbox.servicebus_double import DeadLetterQueues
from shared.cli import build_parser
from shared.commands.dead_letters import run_dead_letters
from tests.e2e.conftest import ready_document, scenario_from, simple_document

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


def failed_extension_sandbox(sandbox_for):
    document = ready_document()
    document["clusters"][0]["extensions"][0]["provisioning_state"] = "Failed"
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-failed")}
    sandbox = sandbox_for(scenario_from(document, [step]))
    sandbox.run_pass(0)
    return sandbox, cluster


def cli(store, capsys, *argv):
    args = build_parser().parse_args(["dead-letters", *argv, "--namespace", "sandbox"])
    code = run_dead_letters(args, store)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_operator_sees_why_a_message_was_dead_lettered(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "list", "--queue", "cluster-events", "--json")
    assert code == 0
    (letter,) = json.loads(out)
    assert letter["event_id"] == "evt-failed"  # the message id is Event Grid's internal id
    assert letter["reason"] == "AttachFailed"
    assert "ended Failed; fix or reinstall it, then replay" in letter["description"]
    assert json.loads(letter["body"])["id"] == "evt-failed"


def test_a_replayed_message_is_handled_again_once_the_cause_is_fixed(sandbox_for, capsys):
    sandbox, cluster = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    sandbox.world.apply_change(
        {
            "op": "set_extension_state",
            "cluster": cluster,
            "name": "azureml",
            "provisioning_state": "Succeeded",
        }
    )
    code, out, _ = cli(store, capsys, "replay", "--queue", "cluster-events", "--all")
    assert code == 0
    assert "replayed evt-failed to cluster-events" in out
    report = sandbox.deliver_pending()
    assert {d.id for d in report.deliveries} == {"evt-failed"}
    assert report.deliveries[-1].outcome == "completed"  # perhaps after re-checks of its own
    assert len(sandbox.world.snapshot()["computes"]) == 2
    assert store.peek("cluster-events") == []


def test_replaying_an_id_that_is_not_dead_lettered_says_so(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, _, err = cli(store, capsys, "replay", "--queue", "cluster-events", "--id", "nope")
    assert code == 1
    assert "no dead letter nope on cluster-events" in err
    assert len(store.peek("cluster-events")) == 1  # the real one is still there


def test_a_replayed_event_is_rechecked_again_not_silently_dropped(sandbox_for, capsys):
    document = simple_document()
    extension = document["clusters"][0]["extensions"][0]
    extension.pop("succeeds_after_seconds")  # installing, until the steps below say otherwise
    cluster = document["clusters"][0]["id"]
    steps = [
        {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-flaky")},
        {
            "at": 150,
            "change": {
                "op": "set_extension_state",
                "cluster": cluster,
                "name": "azureml",
                "provisioning_state": "Failed",
            },
        },
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    first = sandbox.run_pass(0)
    assert [d.outcome for d in first.deliveries][-1] == "dead-lettered"  # after some re-checks
    assert sum(d.outcome == "scheduled" for d in first.deliveries) >= 2
    # The team reinstalls the extension; it takes a few minutes. The operator replays at once.
    now = sandbox.clock.seconds()
    sandbox.world.apply_change(
        {
            "op": "set_extension_state",
            "cluster": cluster,
            "name": "azureml",
            "provisioning_state": "Creating",
            "succeeds_after_seconds": now + 150,
        }
    )
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "replay", "--queue", "cluster-events", "--id", "evt-flaky")
    assert code == 0
    assert "replayed evt-flaky to cluster-events" in out
    replay = sandbox.deliver_pending()
    outcomes = [d.outcome for d in replay.deliveries]
    assert outcomes[0] == "scheduled"  # still installing: its re-check must come back
    assert outcomes[-1] == "completed"
    assert len(sandbox.world.snapshot()["computes"]) == 2
