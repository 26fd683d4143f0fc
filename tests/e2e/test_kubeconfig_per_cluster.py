"""Kubeconfigs per cluster, end to end: two Arc clusters (in one resource group, or named alike
in two) each get their namespace on their own API server, through the secret the policy names
for each; a kubeconfig that reaches another cluster is never written through."""

import pytest

from sandbox.scenario import arm_event
from shared.decisions.arm_id import ResourceId
from shared.decisions.policy import PolicyError, cluster_id_hash
from tests.e2e.conftest import ready_document, scenario_from, write_json

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
EDGE = SUB + "/resourceGroups/rg-edge"
ARC_1 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
ARC_2 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-2"
ARC_WRITE = "Microsoft.Kubernetes/connectedClusters/write"
PER_CLUSTER = "{sandbox_vault}/secrets/kubeconfig-{cluster}-{cluster_id_hash}"
LAB = SUB + "/resourceGroups/rg-lab"
TWIN = LAB + "/providers/Microsoft.Kubernetes/connectedClusters/arc-1"  # ARC_1's name


def arc_cluster(cluster_id, workspace):
    return {
        "id": cluster_id,
        "location": "westeurope",
        "tags": {"azureml-attach": workspace},
        "extensions": [
            {
                "name": "azureml",
                "extension_type": "Microsoft.AzureML.Kubernetes",
                "provisioning_state": "Succeeded",
            }
        ],
        "namespaces": ["default"],
    }


def two_arc_clusters(kubeconfig_secret):
    """arc-1 tagged for ws-research, arc-2 for ws-prod, both in rg-edge, whose clusters both
    workspaces allow; one kubeconfig entry for the whole resource group."""
    document = ready_document()
    document["clusters"] = [arc_cluster(ARC_1, "ws-research"), arc_cluster(ARC_2, "ws-prod")]
    for rule in document["policy"]["workspaces"]:
        rule["clusters"] = [EDGE]
    document["policy"]["clusters"] = [{"scope": EDGE, "kubeconfig_secret": kubeconfig_secret}]
    return document


def events():
    return [
        {"at": 0, "event": arm_event(ARC_WRITE, ARC_1, event_id="arc-1")},
        {"at": 0, "event": arm_event(ARC_WRITE, ARC_2, event_id="arc-2")},
    ]


def test_two_arc_clusters_in_one_group_each_get_their_namespace_on_their_own_cluster(
    sandbox_for,
):
    document = two_arc_clusters(PER_CLUSTER)
    sandbox = sandbox_for(scenario_from(document, events()))

    report = sandbox.run_pass(0)

    assert [d.outcome for d in report.deliveries] == ["completed", "completed"]
    assert "azureml-research" in sandbox.kubernetes.namespaces(ARC_1)
    assert "azureml-prod" in sandbox.kubernetes.namespaces(ARC_2)
    assert "azureml-prod" not in sandbox.kubernetes.namespaces(ARC_1)
    assert "azureml-research" not in sandbox.kubernetes.namespaces(ARC_2)


def test_one_kubeconfig_for_a_whole_resource_group_is_refused_before_anything_runs(sandbox_for):
    document = two_arc_clusters("{sandbox_vault}/secrets/kubeconfig-arc-1")

    with pytest.raises(PolicyError) as caught:
        sandbox_for(scenario_from(document, events()))

    message = str(caught.value)
    assert "clusters[0].kubeconfig_secret names one secret for every cluster under" in message
    assert "rg-edge" in message and "{cluster}" in message


def test_the_sandbox_command_exits_2_on_a_resource_group_wide_kubeconfig(run_cli, tmp_path):
    world = write_json(
        tmp_path / "world.json", two_arc_clusters("{sandbox_vault}/secrets/kubeconfig-arc-1")
    )

    code, _, err = run_cli("sandbox", "--world", str(world), "--json")

    assert code == 2
    assert "clusters[0].kubeconfig_secret names one secret for every cluster" in err


def twins(kubeconfig_secret, scope=SUB):
    """arc-1 in rg-edge tagged for ws-research, and another arc-1 in rg-lab for ws-prod."""
    document = two_arc_clusters(kubeconfig_secret)
    document["clusters"] = [arc_cluster(ARC_1, "ws-research"), arc_cluster(TWIN, "ws-prod")]
    for rule in document["policy"]["workspaces"]:
        rule["clusters"] = [SUB]
    document["policy"]["clusters"] = [{"scope": scope, "kubeconfig_secret": kubeconfig_secret}]
    return document


def twin_events():
    return [
        {"at": 0, "event": arm_event(ARC_WRITE, ARC_1, event_id="edge")},
        {"at": 0, "event": arm_event(ARC_WRITE, TWIN, event_id="lab")},
    ]


def test_arc_clusters_named_alike_in_two_resource_groups_each_get_their_namespace_on_their_own(
    sandbox_for,
):
    sandbox = sandbox_for(scenario_from(twins(PER_CLUSTER), twin_events()))

    report = sandbox.run_pass(0)

    assert [d.outcome for d in report.deliveries] == ["completed", "completed"]
    assert "azureml-research" in sandbox.kubernetes.namespaces(ARC_1)
    assert "azureml-prod" in sandbox.kubernetes.namespaces(TWIN)
    assert "azureml-prod" not in sandbox.kubernetes.namespaces(ARC_1)
    assert "azureml-research" not in sandbox.kubernetes.namespaces(TWIN)


def test_secrets_named_by_cluster_name_alone_across_resource_groups_are_refused_at_load(
    sandbox_for,
):
    with pytest.raises(PolicyError) as caught:
        sandbox_for(
            scenario_from(twins("{sandbox_vault}/secrets/kubeconfig-{cluster}"), twin_events())
        )

    message = str(caught.value)
    assert "{cluster} alone can name one secret for two clusters" in message
    assert "{cluster_id_hash}" in message


def test_a_kubeconfig_that_reaches_another_cluster_is_never_written_through_and_owners_hear_why(
    sandbox_for,
):
    """The policy names arc-1's twin's kubeconfig for arc-1 (a person's slip, or two secrets
    that were one): nothing is made on the twin, no compute is attached to a namespace that is
    not there, and the owners and the dead letter say which cluster the kubeconfig reaches."""
    document = twins(PER_CLUSTER)
    twins_secret = "{sandbox_vault}/secrets/kubeconfig-arc-1-" + cluster_id_hash(
        ResourceId.parse(TWIN)
    )
    document["policy"]["clusters"] = [
        {"scope": ARC_1, "kubeconfig_secret": twins_secret},
        {"scope": TWIN, "kubeconfig_secret": twins_secret},
    ]
    sandbox = sandbox_for(scenario_from(document, twin_events()[:1]))

    report = sandbox.run_pass(0)

    [delivery] = report.deliveries
    assert delivery.outcome == "dead-lettered"
    assert "azureml-research" not in sandbox.kubernetes.namespaces(TWIN)
    assert "azureml-research" not in sandbox.kubernetes.namespaces(ARC_1)
    assert not [r for r in sandbox.arm.log if r.method == "PUT" and "/computes/" in r.path]
    [failed] = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]
    said = str(failed["data"])
    assert "reaches Arc cluster arc-1 in resource group rg-lab" in said
    assert "nothing was read or written through it" in said
