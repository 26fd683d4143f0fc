"""ARM's request budget, pinned: what a new attachment and a replayed event cost, so the counts
cannot creep back (ARM throttles each principal per subscription and region, and in a burst of
new clusters reads per write decide throughput). Operations finish at once here; with realistic
durations the same work is spread over re-checks (benchmarks/README.md has both)."""

import itertools
from dataclasses import replace

import pytest

from benchmarks.worlds import fleet
from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


def tagged_for(document, workspaces: int):
    """aks-ml tagged for ws-research alone (1), both workspaces (2), or both with a second
    compute in ws-prod (3 attachments)."""
    cluster = document["clusters"][0]
    cluster["tags"]["azureml-attach"] = "ws-research" if workspaces == 1 else "ws-research,ws-prod"
    if workspaces == 3:
        document["policy"]["workspaces"][1]["computes"].append(
            {"name": "{cluster}-prod2", "namespace": "azureml-prod2"}
        )
    return document


def event(document, at: float, event_id: str, cluster: int = 0):
    cluster_id = document["clusters"][cluster]["id"]
    return {"at": at, "event": arm_event(CLUSTER_WRITE, cluster_id, event_id=event_id)}


def test_a_new_attachment_costs_five_reads_two_polls_and_four_writes(sandbox_for):
    document = tagged_for(ready_document(), 1)
    sandbox = sandbox_for(scenario_from(document, [event(document, 0, "create")]))
    report = sandbox.run_pass(0)

    assert [d.outcome for d in report.deliveries] == ["completed"]
    # cluster, compute (absent), workspace, extension, namespace; the attach's answer names the
    # compute's new principal, so the grants need no read of it; the namespace's and the
    # attach's operation status are polls
    assert (report.reads, report.polls, report.writes) == (5, 2, 4)


def test_where_the_attach_answer_has_no_principal_yet_the_attached_compute_is_read_once(
    sandbox_for,
):
    for realistic in (False, True):
        document = tagged_for(ready_document(realistic_timing=realistic), 1)
        document["compute_principal_on_put"] = False
        sandbox = sandbox_for(scenario_from(document, [event(document, 0, "create")]))
        report = sandbox.run_pass(0)

        assert report.deliveries[-1].outcome == "completed"
        assert (report.reads, report.writes) == (6, 4), f"realistic timing: {realistic}"
        world = sandbox.world.snapshot()
        [compute] = world["computes"]
        granted = [
            a for a in world["role_assignments"] if a["principal_id"] == compute["principal_id"]
        ]
        assert len(granted) == 2  # AcrPull and the storage role, to the principal it was given


def test_another_cluster_joining_the_same_workspace_reads_it_no_more(sandbox_for):
    document = tagged_for(ready_document(), 1)
    document["clusters"][1]["tags"] = {"azureml-attach": "ws-research"}
    document["clusters"][1]["extensions"] = [
        {**document["clusters"][0]["extensions"][0], "name": "azureml"}
    ]
    steps = [event(document, 0, "first"), event(document, 60, "second", cluster=1)]
    sandbox = sandbox_for(scenario_from(document, steps))
    before = sandbox.run_pass(0)

    workspace_reads = [
        r for r in sandbox.arm.log if r.method == "GET" and r.path.lower().endswith("/ws-research")
    ]
    assert len(workspace_reads) == 1  # the second cluster's attach uses the cached workspace
    assert (before.reads, before.writes) == (5 + 4, 4 + 4)


def test_a_replayed_event_of_a_converged_cluster_costs_one_read_and_no_write(sandbox_for):
    for workspaces in (1, 2, 3):
        document = tagged_for(ready_document(), workspaces)
        steps = [event(document, 0, "create"), event(document, 600, "create-again")]
        sandbox = sandbox_for(scenario_from(document, steps))
        first = sandbox.run_pass(0)
        assert first.deliveries[-1].outcome == "completed"
        replay = sandbox.run_pass(1)

        assert all(d.outcome == "completed" for d in replay.deliveries)
        per_event = (replay.reads / len(replay.deliveries), replay.writes)
        assert per_event == (1, 0), f"{workspaces} attachment(s)"


def test_with_azures_realistic_durations_re_checks_poll_the_writes_instead_of_reading_again(
    sandbox_for,
):
    document = tagged_for(ready_document(realistic_timing=True), 1)
    sandbox = sandbox_for(scenario_from(document, [event(document, 0, "create")]))
    report = sandbox.run_pass(0)

    assert report.deliveries[-1].outcome == "completed"
    assert len(report.deliveries) > 1  # the namespace and the attach took their time
    # the first delivery reads (cluster, compute, workspace, extension, namespace); re-checks
    # poll the namespace's and the attach's operations, whose answer named the principal
    assert (report.reads, report.writes) == (5, 4)
    assert report.polls >= 2


def test_a_tag_removed_while_autoattach_waits_for_its_writes_is_honoured_by_the_re_check(
    sandbox_for,
):
    document = tagged_for(ready_document(realistic_timing=True), 1)
    cluster = document["clusters"][0]["id"]
    steps = [
        event(document, 0, "create"),  # the namespace PUT is still running when it ends
        {"at": 2, "change": {"op": "set_tags", "resource": cluster, "tags": {}}},
        {
            "at": 3,
            "event": arm_event(
                "Microsoft.Resources/tags/write",
                cluster + "/providers/Microsoft.Resources/tags/default",
                event_id="untag",
            ),
        },
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.run_pass(0)

    # the untag's reconcile read everything and dropped what the first one left for its
    # re-check, which then reads again rather than attaching from what it had seen
    assert sandbox.world.snapshot()["computes"] == []
    assert not [n for n in sandbox.topic.notifications if n["type"].endswith("ComputeAttached")]


def test_when_arm_refuses_the_status_reads_autoattach_follows_its_writes_by_reading_them(
    sandbox_for,
):
    # a deployment whose roles do not cover the operation status URLs (ARM checks them at the
    # resource group level): the writes start, each status read is refused, and autoattach
    # reads the namespace and the compute themselves instead, not dead-lettering the event
    document = tagged_for(ready_document(realistic_timing=True), 1)
    sandbox = sandbox_for(scenario_from(document, [event(document, 0, "create")]))
    sandbox.arm.inject("GET", "/locations/", 403, "AuthorizationFailed", times=1000)
    report = sandbox.run_pass(0)

    outcomes = [d.outcome for d in report.deliveries]
    assert "dead-lettered" not in outcomes and outcomes[-1] == "completed", outcomes
    world = sandbox.world.snapshot()
    [compute] = world["computes"]
    assert compute["provisioning_state"] == "Succeeded"
    granted = [a for a in world["role_assignments"] if a["principal_id"] == compute["principal_id"]]
    assert len(granted) == 2


def _rechecks(report) -> list[str]:
    return [d.label for d in report.deliveries if d.label.startswith("re-check")]


def test_events_for_a_cluster_already_waiting_join_its_re_check_chain_instead_of_starting_another(
    sandbox_for,
):
    # ARM's stream for a cluster created tagged while its Azure ML extension installs: the
    # cluster write (twice), the extension's writes, tag writes while autoattach waits
    stream = fleet(1, 1, stream="created-with-extension")
    alone = replace(stream, steps=stream.steps[:1])  # the first cluster write alone
    sandbox = sandbox_for(stream)
    report = sandbox.run_pass(0)
    baseline = sandbox_for(alone).run_pass(0)

    events = [d for d in report.deliveries if not d.label.startswith("re-check")]
    joined = [d for d in events if d.reason.startswith("joined the re-check")]
    assert len(events) == 5  # the duplicate write is dropped by the queue
    # every later event joined the chain, or came once the cluster had converged
    assert len(joined) >= 3 and all(d.outcome == "completed" for d in events[1:])
    # one chain: the first event's, re-checked as often as it is when it comes alone
    assert len(_rechecks(report)) == len(_rechecks(baseline))
    assert {label.split(" of ", 1)[1] for label in _rechecks(report)} == {events[0].label}
    assert report.deliveries[-1].outcome == "completed"
    [compute] = sandbox.world.snapshot()["computes"]
    assert compute["provisioning_state"] == "Succeeded"


def test_a_new_event_takes_over_a_chain_whose_re_check_never_came(sandbox_for):
    document = tagged_for(ready_document(realistic_timing=True), 1)
    steps = [event(document, 0, "create"), event(document, 900, "later")]
    sandbox = sandbox_for(scenario_from(document, steps))
    queue = sandbox.bus.queues["cluster-events"]
    lost = []

    def lose_the_first_chain(delivery) -> None:
        # the host dead-letters the chain's copy (say after too many failed deliveries)
        for message in list(queue.active):
            if "#recheck-" in message.message_id and not lost:
                lost.append(message.message_id)
                queue.dead_letter(message, "MaxDeliveryCountExceeded", "lost for the test")

    sandbox._on_delivery = lose_the_first_chain
    report = sandbox.run_pass(0)

    later = [d for d in report.deliveries if d.label.endswith("aks-ml") and d.at >= 900]
    assert lost and later and not later[0].reason.startswith("joined")
    assert report.deliveries[-1].outcome == "completed"
    [compute] = sandbox.world.snapshot()["computes"]
    assert compute["provisioning_state"] == "Succeeded"


# (reads, polls, writes) of one new cluster joining one workspace on each stream the bench runs
# (benchmarks/worlds.py), its workspace read included; pinned so that none creeps back. The
# realistic streams' extra reads: each cluster write for the untagged cluster reads it (its
# extension's writes read nothing once it was read untagged; tagged-later: 1),
# the extension's install polled by reading it (created-with-extension: 8 over its 130 s, soon at
# first and then less often, so that its end is seen within about 5% of the time to a usable
# compute), and the cluster read once more after a tag write joined the chain. A namespace is
# polled once: 30 s after it was asked for, or, made while the extension installs, when the
# install is over.
STREAM_BUDGETS = {
    "cluster-write": (5, 2, 4),
    "created-with-extension": (15, 2, 4),
    "tagged-later": (6, 2, 4),
}


@pytest.mark.parametrize("stream", sorted(STREAM_BUDGETS))
def test_a_new_attachment_costs_its_pinned_reads_polls_and_writes_on_each_of_arms_streams(
    sandbox_for, stream
):
    sandbox = sandbox_for(fleet(1, 1, stream=stream))
    report = sandbox.run_pass(0)

    assert report.deliveries[-1].outcome == "completed"
    [compute] = sandbox.world.snapshot()["computes"]
    assert compute["provisioning_state"] == "Succeeded"
    assert (report.reads, report.polls, report.writes) == STREAM_BUDGETS[stream]


def test_a_namespace_made_while_the_extension_installs_is_polled_once_when_the_install_is_over(
    sandbox_for,
):
    sandbox = sandbox_for(fleet(1, 1, stream="created-with-extension"))
    sandbox.run_pass(0)

    namespace_polls = [
        r for r in sandbox.arm.log if r.kind == "polls" and "Microsoft.ContainerService" in r.path
    ]
    install_end = 130.0  # benchmarks.worlds.INSTALL_SECONDS
    assert len(namespace_polls) == 1
    assert namespace_polls[0].at >= install_end


def test_an_installing_extension_is_looked_at_soon_and_then_less_and_less_often(sandbox_for):
    sandbox = sandbox_for(fleet(1, 1, stream="created-with-extension"))
    report = sandbox.run_pass(0)

    waits = [d for d in report.deliveries if "still installing" in d.reason]
    looks = [0.0, *(d.at for d in waits)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(looks)]
    assert len(gaps) >= 5
    assert gaps[0] <= 15.0
    for start, gap in zip(looks, gaps, strict=False):
        assert gap <= 15.0 + 0.05 * start + 1.0  # a second of queue lag
    assert gaps[-1] > gaps[0]


def test_clusters_written_together_poll_each_namespace_and_attach_once_not_in_lockstep(
    sandbox_for,
):
    sandbox = sandbox_for(fleet(20, 1))
    report = sandbox.run_pass(0)

    assert report.deliveries[-1].outcome == "completed"
    # the re-checks after the attaches are spread (1 to 1.2 re-check delays), so none comes at
    # the very second its 60 s attach ends and has to look again
    assert report.polls == 2 * 20
    rechecks = sorted(d.at for d in report.deliveries if d.label.startswith("re-check 2 "))
    assert len(rechecks) == 20 and rechecks[-1] - rechecks[0] > 5
