"""The whole lifecycle through the queue double and the real SDK clients: tag changes, failures,
deletion, Arc clusters and identities, each as a platform team or workspace owner sees it."""

from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from, sweep

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
ARC = SUB + "/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
UAI = SUB + "/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws-id"
UAI_PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f99"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
ARC_WRITE = "Microsoft.Kubernetes/connectedClusters/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"


def event(at, operation, resource, event_id):
    return {"at": at, "event": arm_event(operation, resource, event_id=event_id)}


def aks(document):
    return document["clusters"][0]["id"]


def notified(sandbox, kind):
    return [n for n in sandbox.topic.notifications if n["type"] == kind]


def computes(sandbox):
    return {c["name"]: c for c in sandbox.world.snapshot()["computes"]}


def test_a_workspace_removed_from_the_tag_is_detached_and_its_roles_removed(sandbox_for):
    document = ready_document()
    document["computes"] = [
        {
            "workspace": document["workspaces"][1]["id"],
            "name": "by-hand",
            "resource_id": aks(document),
            "namespace": "default",
            "identity_type": "system_assigned",
        }
    ]
    steps = [
        event(0, CLUSTER_WRITE, aks(document), "create"),
        {
            "at": 100,
            "change": {
                "op": "set_tags",
                "resource": aks(document),
                "tags": {"azureml-attach": "ws-research"},
            },
        },
        event(101, TAGS_WRITE, aks(document), "untag"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    report = sandbox.run_pass(0)
    assert [d.outcome for d in report.deliveries] == ["completed", "completed"]
    left = computes(sandbox)
    assert set(left) == {"aks-ml", "by-hand"}
    prod_principal = next(
        n["data"]["principal_id"]
        for n in notified(sandbox, "Autoattach.ComputeAttached")
        if n["subject"].endswith("/aks-ml-prod")
    )
    assignments = sandbox.world.snapshot()["role_assignments"]
    assert not any(a["principal_id"] == prod_principal for a in assignments)
    detached = notified(sandbox, "Autoattach.ComputeDetached")
    assert [n["subject"].rsplit("/", 1)[-1] for n in detached] == ["aks-ml-prod"]
    assert "no longer tagged" in detached[0]["data"]["reason"]


def test_removing_the_tag_detaches_everything_autoattach_made_on_that_cluster(sandbox_for):
    document = ready_document()
    steps = [
        event(0, CLUSTER_WRITE, aks(document), "create"),
        {"at": 100, "change": {"op": "set_tags", "resource": aks(document), "tags": {}}},
        event(101, TAGS_WRITE, aks(document), "untag"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.run_pass(0)
    assert computes(sandbox) == {}
    assert sandbox.world.snapshot()["role_assignments"] == []
    assert len(notified(sandbox, "Autoattach.ComputeDetached")) == 2


def test_a_compute_that_ended_failed_is_detached_and_attached_again_by_the_sweep(sandbox_for):
    document = ready_document()
    research = document["workspaces"][0]["id"]
    steps = [
        event(0, CLUSTER_WRITE, aks(document), "create"),
        {
            "at": 100,
            "change": {
                "op": "set_compute_state",
                "workspace": research,
                "name": "aks-ml",
                "provisioning_state": "Failed",
            },
        },
        event(101, CLUSTER_WRITE, aks(document), "again"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    report = sandbox.run_pass(0)
    # an event for a cluster the ledger shows converged reads nothing more: drift is the sweep's
    assert "already converged, as last announced" in report.deliveries[-1].reason
    deliveries = sweep(sandbox).deliveries
    notes = " | ".join(n for d in deliveries for n in d.notes)
    assert "detached compute aks-ml" in notes and "attached aks-ml as compute aks-ml" in notes
    assert computes(sandbox)["aks-ml"]["provisioning_state"].lower() == "succeeded"
    kinds = [n["type"] for n in sandbox.topic.notifications if n["subject"].endswith("/aks-ml")]
    assert kinds[-2:] == ["Autoattach.ComputeDetached", "Autoattach.ComputeAttached"]


def test_a_failed_extension_is_reported_to_owners_and_not_retried(sandbox_for):
    document = ready_document()
    document["clusters"][0]["extensions"][0]["provisioning_state"] = "Failed"
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, aks(document), "x")]))
    report = sandbox.run_pass(0)
    assert [d.outcome for d in report.deliveries] == ["dead-lettered"]
    assert "ended Failed" in report.deliveries[0].reason
    failed = notified(sandbox, "Autoattach.AttachFailed")
    assert len(failed) == 2 and "ended Failed" in failed[0]["data"]["problem"]
    assert report.writes == 0


def test_waiting_for_a_missing_extension_tells_owners_once_then_gives_up_with_a_reason(sandbox_for):
    document = ready_document()
    document["clusters"][0]["extensions"] = []
    document["policy"]["extension"] = {"when_missing": "wait"}
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, aks(document), "x")]))
    report = sandbox.run_pass(0)
    outcomes = [d.outcome for d in report.deliveries]
    assert outcomes[-1] == "dead-lettered" and set(outcomes[:-1]) == {"scheduled"}
    assert "RecheckLimitReached" in report.deliveries[-1].reason
    waiting = notified(sandbox, "Autoattach.AttachWaiting")
    assert len(waiting) == 2  # one per workspace, not one per re-check
    assert "not installed" in waiting[0]["data"]["waiting_for"]
    assert report.writes == 0


def with_identity_workspace(document):
    document["workspaces"][0]["identity"] = {"type": "UserAssigned", "user_assigned_identity": UAI}
    document["policy"]["workspaces"][0]["workspace_identity"] = UAI  # the policy names it
    document["identities"] = [
        {
            "id": UAI,
            "principal_id": UAI_PRINCIPAL,
            "client_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e99",
        }
    ]
    return document


def test_prerequisites_that_cannot_be_granted_are_reported_in_azures_own_words(sandbox_for):
    document = with_identity_workspace(ready_document())
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, aks(document), "x")]))
    sandbox.arm.inject(
        "PUT",
        "managedClusters/aks-ml/providers/Microsoft.Authorization",
        403,
        "AuthorizationFailed",
        times=10,
    )
    report = sandbox.run_pass(0)
    assert report.deliveries[0].outcome == "dead-lettered"
    reason = report.deliveries[0].reason
    assert "'extension not installed' or 'internal server error'" in reason
    assert set(computes(sandbox)) == {"aks-ml-prod"}  # the other workspace still attached


def arc_world(with_kubeconfig=True):
    document = ready_document()
    document["clusters"].append(
        {
            "id": ARC,
            "location": "westeurope",
            "tags": {"azureml-attach": "ws-research"},
            "provisioning_state": "Succeeded",
            "extensions": [
                {
                    "name": "ml",
                    "extension_type": "Microsoft.AzureML.Kubernetes",
                    "provisioning_state": "Succeeded",
                    "relay": True,  # installed with the Azure CLI, which made its relay
                }
            ],
            "namespaces": ["default"],
        }
    )
    document["policy"]["workspaces"][0]["clusters"].append(SUB + "/resourceGroups/rg-edge")
    if with_kubeconfig:
        document["policy"]["clusters"] = [
            {
                "scope": SUB + "/resourceGroups/rg-edge",
                "kubeconfig_secret": (
                    "{sandbox_vault}/secrets/kubeconfig-{cluster}-{cluster_id_hash}"
                ),
            }
        ]
    return document


def test_an_arc_cluster_gets_its_namespace_through_the_kubernetes_api(sandbox_for):
    document = with_identity_workspace(arc_world())
    sandbox = sandbox_for(scenario_from(document, [event(0, ARC_WRITE, ARC, "arc")]))
    report = sandbox.run_pass(0)
    assert report.deliveries[-1].outcome == "completed"
    assert "azureml-research" in sandbox.kubernetes.namespaces(ARC)
    assert sandbox.kubernetes.labels(ARC, "azureml-research")["managed-by"] == "autoattach"
    relay_owner = [
        a
        for a in sandbox.world.snapshot()["role_assignments"]
        if a["principal_id"] == UAI_PRINCIPAL and "Microsoft.Relay" in a["scope"]
    ]
    assert len(relay_owner) == 1


def test_an_arc_cluster_the_policy_gives_no_way_into_is_reported(sandbox_for):
    document = arc_world(with_kubeconfig=False)
    sandbox = sandbox_for(scenario_from(document, [event(0, ARC_WRITE, ARC, "arc")]))
    report = sandbox.run_pass(0)
    assert report.deliveries[0].outcome == "dead-lettered"
    assert "kubeconfig_secret" in report.deliveries[0].reason
    assert "arc-1" not in str(computes(sandbox))


def test_a_kubeconfig_that_may_not_create_namespaces_is_reported_without_leaking_it(sandbox_for):
    document = arc_world()
    sandbox = sandbox_for(scenario_from(document, [event(0, ARC_WRITE, ARC, "arc")]))
    sandbox.kubernetes.set_forbidden(ARC)
    report = sandbox.run_pass(0)
    assert report.deliveries[0].outcome == "dead-lettered"
    reason = report.deliveries[0].reason
    assert "kubeconfig-arc-1" in reason and "not allowed" in reason
    assert "token" not in reason.lower()
    assert computes(sandbox) == {}


def test_a_workspace_identity_loses_its_cluster_rights_when_the_workspace_leaves_the_tag(
    sandbox_for,
):
    document = with_identity_workspace(ready_document())
    hand_made = {
        "scope": aks(document),
        "role_definition_id": SUB
        + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "principal_id": UAI_PRINCIPAL,
        "name": "11111111-2222-4333-8444-555555555555",
    }
    document["role_assignments"] = [hand_made]  # a person already gave it Reader
    steps = [
        event(0, CLUSTER_WRITE, aks(document), "create"),
        {
            "at": 100,
            "change": {
                "op": "set_tags",
                "resource": aks(document),
                "tags": {"azureml-attach": "ws-prod"},
            },
        },
        event(101, TAGS_WRITE, aks(document), "untag"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))

    def on_cluster():
        return sorted(
            a["role_definition_id"].rsplit("/", 1)[-1]
            for a in sandbox.world.snapshot()["role_assignments"]
            if a["principal_id"] == UAI_PRINCIPAL and a["scope"].lower() == aks(document).lower()
        )

    report = sandbox.run_pass(0)
    # the attach waits a re-check for the identity's fresh roles on the cluster to take effect
    assert [d.outcome for d in report.deliveries] == ["scheduled", "completed", "completed"]
    assert on_cluster() == ["acdd72a7-3385-48ef-bd42-f606fba81ae7"]  # only the person's Reader
    assert set(computes(sandbox)) == {"aks-ml-prod"}
