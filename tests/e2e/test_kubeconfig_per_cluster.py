"""Kubeconfigs per cluster, end to end: two Arc clusters in one resource group each get their
namespace on their own API server, through the secret the policy names for each by name."""

import pytest

from sandbox.scenario import arm_event
from shared.decisions.policy import PolicyError
from tests.e2e.conftest import ready_document, scenario_from, write_json

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
EDGE = SUB + "/resourceGroups/rg-edge"
ARC_1 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
ARC_2 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-2"
ARC_WRITE = "Microsoft.Kubernetes/connectedClusters/write"


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
    document = two_arc_clusters("{sandbox_vault}/secrets/kubeconfig-{cluster}")
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
