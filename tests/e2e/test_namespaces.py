"""Namespaces end to end: AKS managed namespaces are not Kubernetes namespaces, and the attach
policy's adoption policy decides what happens to a namespace that exists only in Kubernetes."""

from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


def azureml_world(**namespaces_setting):
    """aks-ml, its Azure ML extension installed (so Kubernetes already has ``azureml``), tagged
    for ws-research, whose compute runs in the default namespace ``azureml``."""
    document = ready_document(realistic_timing=True)
    document["clusters"][0]["tags"]["azureml-attach"] = "ws-research"
    document["policy"]["workspaces"][0]["computes"] = [{"name": "{cluster}"}]
    if namespaces_setting:
        document["policy"]["namespaces"] = namespaces_setting
    return document


def run(sandbox_for, document):
    cluster = document["clusters"][0]["id"]
    steps = [{"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="create")}]
    sandbox = sandbox_for(scenario_from(document, steps))
    return sandbox, sandbox.run_pass(0)


def notified(sandbox, kind):
    return [n for n in sandbox.topic.notifications if n["type"] == kind]


def managed(sandbox, name):
    return [m for m in sandbox.world.snapshot()["managed_namespaces"] if m["name"] == name]


def test_the_extensions_own_namespace_is_adopted_with_the_default_policy_and_attached(
    sandbox_for,
):
    sandbox, report = run(sandbox_for, azureml_world())

    assert report.deliveries[-1].outcome == "completed"
    assert [m["provisioning_state"] for m in managed(sandbox, "azureml")] == ["Succeeded"]
    assert managed(sandbox, "azureml")[0]["adoption_policy"] == "IfIdentical"
    assert managed(sandbox, "azureml")[0]["delete_policy"] == "Keep"
    attached = notified(sandbox, "Autoattach.ComputeAttached")
    assert [n["data"]["namespace"] for n in attached] == ["azureml"]
    assert notified(sandbox, "Autoattach.AttachFailed") == []


def test_with_adoption_policy_never_owners_are_told_which_namespace_and_setting(sandbox_for):
    sandbox, _report = run(sandbox_for, azureml_world(adoption_policy="Never"))

    failed = notified(sandbox, "Autoattach.AttachFailed")
    assert failed, "owners must be told"
    problem = failed[0]["data"]["problem"]
    assert "namespace azureml" in problem and "namespaces.adoption_policy" in problem
    assert "'Never'" in problem
    assert notified(sandbox, "Autoattach.ComputeAttached") == []
    assert [c["name"] for c in sandbox.world.snapshot()["computes"]] == []
    # Failed, or Updating: each look asks ARM again (the namespace may have been fixed)
    assert [m["provisioning_state"] for m in managed(sandbox, "azureml")] != ["Succeeded"]
    names = {n["name"] for n in sandbox.world.snapshot()["namespaces"]}
    assert "azureml" in names  # the extension's namespace is left as it was


def test_a_failed_managed_namespace_is_not_ready_and_is_asked_for_again(sandbox_for):
    document = azureml_world()
    document["policy"]["workspaces"][0]["computes"] = [
        {"name": "{cluster}", "namespace": "azureml-research"}
    ]
    document["clusters"][0]["managed_namespaces"] = [
        {"name": "azureml-research", "provisioning_state": "Failed", "adoption_policy": "Never"}
    ]
    cluster = document["clusters"][0]["id"]
    steps = [
        {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="first")},
        {"at": 600, "event": arm_event(CLUSTER_WRITE, cluster, event_id="later")},
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    report = sandbox.run_pass(0)

    # the first look finds it Failed: asks ARM again and tells the owners the last write failed
    first = notified(sandbox, "Autoattach.AttachFailed")
    assert first and "last write ended Failed" in first[0]["data"]["problem"]
    # that write succeeded (nothing in Kubernetes was in its way): the next look attaches
    assert report.deliveries[-1].outcome == "completed"
    assert [m["provisioning_state"] for m in managed(sandbox, "azureml-research")] == ["Succeeded"]
    attached = notified(sandbox, "Autoattach.ComputeAttached")
    assert [n["data"]["namespace"] for n in attached] == ["azureml-research"]


def test_a_cluster_name_with_capitals_and_underscores_gets_a_valid_namespace(sandbox_for):
    document = azureml_world()
    cluster = document["clusters"][0]
    cluster["id"] = cluster["id"].replace("/aks-ml", "/AKS_Prod-1")
    document["policy"]["workspaces"][0]["computes"] = [
        {"name": "ml-{cluster}", "namespace": "ml-{cluster}"}
    ]
    sandbox, report = run(sandbox_for, document)

    assert report.deliveries[-1].outcome == "completed"
    assert [m["provisioning_state"] for m in managed(sandbox, "ml-aks-prod-1")] == ["Succeeded"]


def test_a_failed_managed_namespace_asked_for_again_is_rechecked_and_attaches_without_a_new_event(
    sandbox_for,
):
    document = azureml_world()
    document["policy"]["workspaces"][0]["computes"] = [
        {"name": "{cluster}", "namespace": "azureml-research"}
    ]
    document["clusters"][0]["managed_namespaces"] = [
        {"name": "azureml-research", "provisioning_state": "Failed", "adoption_policy": "Never"}
    ]
    sandbox, report = run(sandbox_for, document)

    # owners hear once that the last write failed; the message is not dead-lettered: the write
    # autoattach sent again succeeds, and the re-check attaches
    failed = notified(sandbox, "Autoattach.AttachFailed")
    assert len(failed) == 1 and "last write ended Failed" in failed[0]["data"]["problem"]
    assert [d.outcome for d in report.deliveries][-1] == "completed"
    assert not any(d.outcome == "dead-lettered" for d in report.deliveries)
    attached = notified(sandbox, "Autoattach.ComputeAttached")
    assert [n["data"]["namespace"] for n in attached] == ["azureml-research"]
