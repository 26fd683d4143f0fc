import json

from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from, write_json

AKS_WRITE = "Microsoft.ContainerService/managedClusters/write"


def cluster_event(document, index=0, event_id="evt-1"):
    return {
        "at": 0,
        "event": arm_event(AKS_WRITE, document["clusters"][index]["id"], event_id=event_id),
    }


def test_a_malformed_message_is_dead_lettered_with_its_reason(run_cli, tmp_path):
    events = write_json(tmp_path / "events.json", [{"at": 0, "raw": "{not json", "id": "bad-1"}])
    code, out, _ = run_cli("sandbox", "--json", "--events", str(events))
    assert code == 0
    report = json.loads(out)
    assert report["events"] == [
        {"id": "bad-1", "outcome": "dead-lettered", "reason": report["events"][0]["reason"]}
    ]
    assert report["events"][0]["reason"].startswith("MalformedEvent: message body is not JSON")
    assert report["requests"] == {"reads": 0, "polls": 0, "writes": 0}


def test_a_batch_of_two_events_in_one_message_is_dead_lettered_not_half_handled(sandbox_for):
    document = ready_document()
    first = arm_event(AKS_WRITE, document["clusters"][0]["id"], event_id="a")
    second = arm_event(AKS_WRITE, document["clusters"][1]["id"], event_id="b")
    sandbox = sandbox_for(scenario_from(document, [{"at": 0, "event": [first, second]}]))
    report = sandbox.run_pass(0)
    assert [d.outcome for d in report.deliveries] == ["dead-lettered"]
    assert "array of 2 events" in report.deliveries[0].reason
    assert (
        sandbox.bus.queues["cluster-events"].dead_letters[0].dead_letter_reason == "MalformedEvent"
    )


def test_throttling_is_retried_later_by_a_scheduled_message_and_then_converges(sandbox_for):
    document = ready_document()
    sandbox = sandbox_for(scenario_from(document, [cluster_event(document)]))
    sandbox.arm.inject("PUT", "roleAssignments", 429, "TooManyRequests", times=4, retry_after=0)
    report = sandbox.run_pass(0)
    outcomes = [d.outcome for d in report.deliveries]
    assert outcomes == ["scheduled", "completed"]
    assert "TooManyRequests" in report.deliveries[0].reason or "429" in report.deliveries[0].reason
    snapshot = sandbox.world.snapshot()
    assert len(snapshot["role_assignments"]) == 4
    assert sandbox.bus.queues["cluster-events"].dead_letters == []


def test_a_workspace_the_policy_does_not_allow_gets_nothing_even_if_tagged(sandbox_for):
    document = ready_document()
    document["clusters"][1]["tags"]["azureml-attach"] = "ws-research"
    document["policy"]["workspaces"][0]["clusters"] = [document["clusters"][0]["id"]]
    document["clusters"][1]["extensions"] = document["clusters"][0]["extensions"]
    sandbox = sandbox_for(scenario_from(document, [cluster_event(document, 1)]))
    report = sandbox.run_pass(0)
    assert report.deliveries[0].outcome == "completed"
    assert "not allowed by policy: ws-research" in report.deliveries[0].reason
    assert report.writes == 0
    assert sandbox.world.snapshot()["computes"] == []


def test_a_compute_name_already_used_by_a_person_is_reported_and_left_alone(sandbox_for):
    document = ready_document()
    research = document["workspaces"][0]["id"]
    document["computes"] = [
        {
            "workspace": research,
            "name": "aks-ml",
            "resource_id": document["clusters"][1]["id"],
            "namespace": "default",
            "identity_type": "system_assigned",
        }
    ]
    sandbox = sandbox_for(scenario_from(document, [cluster_event(document)]))
    report = sandbox.run_pass(0)
    assert report.deliveries[0].outcome == "dead-lettered"
    assert "AttachFailed" in report.deliveries[0].reason
    assert "already exists for another target" in report.deliveries[0].reason
    by_hand = [c for c in sandbox.world.snapshot()["computes"] if c["name"] == "aks-ml"]
    assert by_hand[0]["resource_id"].lower() == document["clusters"][1]["id"].lower()
    types = [n["type"] for n in sandbox.topic.notifications]
    assert types.count("Autoattach.AttachFailed") == 1
    assert types.count("Autoattach.ComputeAttached") == 1  # ws-prod still attached


def test_a_cluster_still_provisioning_is_rechecked_without_spending_deliveries(sandbox_for):
    document = ready_document()
    document["clusters"][0]["provisioning_state"] = "Creating"
    document["clusters"][0]["succeeds_after_seconds"] = 200
    sandbox = sandbox_for(scenario_from(document, [cluster_event(document)]))
    report = sandbox.run_pass(0)
    outcomes = [d.outcome for d in report.deliveries]
    assert outcomes[-1] == "completed" and set(outcomes[:-1]) == {"scheduled"}
    assert all(
        m.delivery_count == 1
        for q in sandbox.bus.queues.values()
        for m in q.dead_letters + q.active
    )
    assert len(sandbox.world.snapshot()["computes"]) == 2
