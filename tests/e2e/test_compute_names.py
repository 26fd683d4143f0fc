"""Compute names Azure accepts (issue 18.1): Azure ML refuses a Kubernetes compute name that is
not 2-16 letters, digits and '-' starting with a letter, so a platform's usual cluster names --
long, with '_' and capitals -- must still give every cluster its computes, one name each."""

import copy
import re

from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from, sweep

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
AZURE_ACCEPTS = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")
TYPICAL_NAMES = (
    "aks-vision-prod-weu-01",
    "aks-vision-prod-weu-02",
    "AKS_Speech_Train_NEU_01",
    "aks_nlp_batch_eastus2_blue",
    "Aks-Recsys-Staging-WestEurope",
)


def long_named_world():
    """Five AKS clusters with typical long names, each tagged for both workspaces; ws-research
    names its compute {cluster}-train, ws-prod {cluster}-prod."""
    document = ready_document()
    template = document["clusters"][0]
    group = template["id"].rsplit("/", 1)[0]
    document["clusters"] = []
    for name in TYPICAL_NAMES:
        cluster = copy.deepcopy(template)
        cluster["id"] = f"{group}/{name}"
        cluster["tags"] = {"azureml-attach": "ws-research,ws-prod"}
        document["clusters"].append(cluster)
    research, prod = document["policy"]["workspaces"]
    research["computes"] = [{"name": "{cluster}-train", "namespace": "azureml-research"}]
    prod["computes"] = [{"name": "{cluster}-prod", "namespace": "azureml-prod"}]
    return document


def test_clusters_with_long_names_each_get_both_computes_under_names_azure_accepts(sandbox_for):
    document = long_named_world()
    steps = [
        {"at": index, "event": arm_event(CLUSTER_WRITE, c["id"], event_id=f"write-{index}")}
        for index, c in enumerate(document["clusters"])
    ]
    sandbox = sandbox_for(scenario_from(document, steps))

    report = sandbox.run_pass(0)

    assert {d.outcome for d in report.deliveries} == {"completed"}
    assert sandbox.bus.queues["cluster-events"].dead_letters == []
    computes = sandbox.world.snapshot()["computes"]
    assert len(computes) == 2 * len(TYPICAL_NAMES)
    assert all(AZURE_ACCEPTS.match(c["name"]) for c in computes), [c["name"] for c in computes]
    for workspace in ("ws-research", "ws-prod"):
        names = [c["name"].lower() for c in computes if c["workspace"].endswith(workspace)]
        assert len(set(names)) == len(TYPICAL_NAMES), names
    # every cluster has one compute in each workspace, all succeeded
    by_cluster = {c["resource_id"].rsplit("/", 1)[-1] for c in computes}
    assert by_cluster == set(TYPICAL_NAMES)
    assert {c["provisioning_state"] for c in computes} == {"Succeeded"}
    attached = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.ComputeAttached"]
    assert len(attached) == 2 * len(TYPICAL_NAMES)


def test_a_sweep_over_the_attached_clusters_changes_nothing(sandbox_for):
    document = long_named_world()
    sandbox = sandbox_for(scenario_from(document))
    sandbox.run_pass(0)
    before = sandbox.world.snapshot()["computes"]

    report = sweep(sandbox)

    assert {d.outcome for d in report.deliveries} == {"completed"}
    assert sandbox.arm.counts["writes"] == 0
    assert sandbox.world.snapshot()["computes"] == before


def test_two_clusters_of_one_name_in_two_resource_groups_never_take_each_others_compute(
    sandbox_for,
):
    document = ready_document()
    first = document["clusters"][0]
    first["tags"] = {"azureml-attach": "ws-research"}
    second = copy.deepcopy(first)
    second["id"] = first["id"].replace("/resourceGroups/rg-platform/", "/resourceGroups/rg-other/")
    document["clusters"] = [first, second]
    subscription = first["id"].split("/resourceGroups/")[0]
    research = document["policy"]["workspaces"][0]
    research["clusters"] = [subscription]
    steps = [
        {"at": index, "event": arm_event(CLUSTER_WRITE, c["id"], event_id=f"write-{index}")}
        for index, c in enumerate(document["clusters"])
    ]
    sandbox = sandbox_for(scenario_from(document, steps))

    sandbox.run_pass(0)
    sweep(sandbox)

    computes = sandbox.world.snapshot()["computes"]
    assert [(c["name"], c["resource_id"]) for c in computes] == [("aks-ml", first["id"])]
    failed = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]
    assert failed and all("aks-ml" in n["data"]["problem"] for n in failed)
    assert all(r.method != "DELETE" for r in sandbox.arm.log if "/computes/" in r.path), (
        "the first cluster's compute is never detached for the second"
    )
