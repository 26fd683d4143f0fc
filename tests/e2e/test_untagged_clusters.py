"""A cluster nobody tagged costs one ARM read per event that can change its tags, and none for
its extensions: an extension event for a cluster last read untagged reads nothing, because a
tag change always brings an event of its own (a tag write, or a cluster write) and that event
reads the cluster. Clusters carry many extensions (monitoring, Flux, policy) that update
themselves; a subscription's untagged clusters are most of its events."""

from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
EXTENSION_WRITE = "Microsoft.KubernetesConfiguration/extensions/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"
TAG = {"azureml-attach": "ws-research"}


def untagged_world():
    document = ready_document()
    cluster = document["clusters"][0]
    cluster["tags"] = {"team": "platform"}
    return document, cluster["id"]


def event(at, operation, resource, event_id):
    return {"at": at, "event": arm_event(operation, resource, event_id=event_id)}


def extension_of(cluster, name="azureml"):
    return f"{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/{name}"


def tags_of(cluster):
    return f"{cluster}/providers/Microsoft.Resources/tags/default"


def reads_after(sandbox, at):
    return [e for e in sandbox.arm.log if e.kind == "reads" and e.at >= at]


def test_an_extension_event_for_a_cluster_last_read_untagged_reads_nothing(sandbox_for):
    document, cluster = untagged_world()
    extension = extension_of(cluster, "monitoring")
    sandbox = sandbox_for(
        scenario_from(
            document,
            [
                event(0, CLUSTER_WRITE, cluster, "created"),
                event(10, EXTENSION_WRITE, extension, "monitoring-upgraded"),
                event(20, EXTENSION_WRITE, extension, "monitoring-upgraded-again"),
            ],
        )
    )
    report = sandbox.run_pass(0)

    assert [d.outcome for d in report.deliveries] == ["completed"] * 3
    assert len(reads_after(sandbox, 0)) == 1  # the cluster, read for the cluster write
    assert reads_after(sandbox, 10) == []
    assert "not tagged" in report.deliveries[1].reason


def test_a_tag_added_after_the_untagged_read_is_acted_on_when_its_own_event_comes(sandbox_for):
    document, cluster = untagged_world()
    extension = extension_of(cluster)
    tags = tags_of(cluster)
    sandbox = sandbox_for(
        scenario_from(
            document,
            [
                event(0, CLUSTER_WRITE, cluster, "created"),
                {"at": 10, "change": {"op": "set_tags", "resource": cluster, "tags": TAG}},
                # delivered before the tag write that came first
                event(11, EXTENSION_WRITE, extension, "azureml-updated"),
                event(12, TAGS_WRITE, tags, "tagged"),
            ],
        )
    )
    report = sandbox.run_pass(0)

    assert [e.at for e in reads_after(sandbox, 11) if e.at < 12] == []
    computes = [c for c in sandbox.world.computes.values() if c.provisioning_state == "Succeeded"]
    assert [c.id.rsplit("/", 3)[-3] for c in computes] == ["ws-research"]
    assert all(d.outcome != "dead-lettered" for d in report.deliveries)


def test_an_extension_event_for_a_cluster_never_read_reads_it(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    extension = extension_of(cluster)
    sandbox = sandbox_for(
        scenario_from(document, [event(0, EXTENSION_WRITE, extension, "azureml-installed")])
    )
    sandbox.run_pass(0)

    assert len([c for c in sandbox.world.computes.values()]) == 2  # both workspaces attached


def test_a_cluster_untagged_after_it_was_attached_is_still_read_on_its_extension_events(
    sandbox_for,
):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    extension = extension_of(cluster)
    tags = tags_of(cluster)
    sandbox = sandbox_for(
        scenario_from(
            document,
            [
                event(0, CLUSTER_WRITE, cluster, "created"),
                {"at": 100, "change": {"op": "set_tags", "resource": cluster, "tags": TAG}},
                event(101, TAGS_WRITE, tags, "one-workspace-less"),
                event(200, EXTENSION_WRITE, extension, "azureml-updated"),
            ],
        )
    )
    sandbox.run_pass(0)

    assert reads_after(sandbox, 200) != []  # it still has a compute: the event reads it
