"""Arc clusters and their Azure Relays, end to end through the sandbox: a workspace identity gets
Azure Relay Owner on the relay its cluster's extension names, and on no other relay."""

from sandbox.arm_ids import cli_relay_name
from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
EDGE = SUB + "/resourceGroups/rg-edge"
ARC_1 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
ARC_2 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-2"
TEAM_RELAY = EDGE + "/providers/Microsoft.Relay/namespaces/team-owned-relay"
IDS = SUB + "/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
PRINCIPALS = {
    "ws-research": "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f11",
    "ws-prod": "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f12",
}
RELAY_OWNER = "2787bf04-f1f5-4bfe-8383-c8a24483ee38"
ARC_WRITE = "Microsoft.Kubernetes/connectedClusters/write"


def relay_of(cluster_id):
    return f"{EDGE}/providers/Microsoft.Relay/namespaces/{cli_relay_name(cluster_id)}"


def arc_cluster(cluster_id, workspace, **extension):
    return {
        "id": cluster_id,
        "location": "westeurope",
        "tags": {"azureml-attach": workspace},
        "extensions": [
            {
                "name": "azureml",
                "extension_type": "Microsoft.AzureML.Kubernetes",
                "provisioning_state": "Succeeded",
                **extension,
            }
        ],
        "namespaces": ["default"],
    }


def two_arc_clusters_in_one_group(**extension):
    """ws-research (identity a) may use arc-1, ws-prod (identity b) arc-2; both clusters in
    rg-edge, each extension installed with the CLI, beside a relay no extension names."""
    document = ready_document()
    document["clusters"] += [
        arc_cluster(ARC_1, "ws-research", relay=True, **extension),
        arc_cluster(ARC_2, "ws-prod", relay=True, **extension),
    ]
    document["relays"] = [{"id": TEAM_RELAY, "location": "westeurope"}]
    document["identities"] = []
    for workspace in document["workspaces"]:
        name = workspace["id"].rsplit("/", 1)[-1]
        identity = IDS + f"uai-{name}"
        workspace["identity"] = {"type": "UserAssigned", "user_assigned_identity": identity}
        document["identities"].append(
            {"id": identity, "principal_id": PRINCIPALS[name], "client_id": PRINCIPALS[name]}
        )
    rules = document["policy"]["workspaces"]
    for rule, workspace in zip(rules, document["workspaces"], strict=True):
        rule["workspace_identity"] = workspace["identity"]["user_assigned_identity"]
    rules[0]["clusters"].append(ARC_1)
    rules[1]["clusters"].append(ARC_2)
    document["policy"]["clusters"] = [
        {"scope": c, "kubeconfig_secret": f"{{sandbox_vault}}/secrets/kubeconfig-{c[-5:]}"}
        for c in (ARC_1, ARC_2)
    ]
    return document


def relay_owners(sandbox):
    return sorted(
        (a["principal_id"], a["scope"].lower())
        for a in sandbox.world.snapshot()["role_assignments"]
        if a["role_definition_id"].lower().endswith(RELAY_OWNER)
    )


def test_each_workspace_identity_gets_relay_owner_only_on_its_own_clusters_relay(sandbox_for):
    document = two_arc_clusters_in_one_group()
    events = [
        {"at": 0, "event": arm_event(ARC_WRITE, ARC_1, event_id="arc-1")},
        {"at": 0, "event": arm_event(ARC_WRITE, ARC_2, event_id="arc-2")},
    ]
    sandbox = sandbox_for(scenario_from(document, events))
    sandbox.run_pass(0)
    assert relay_owners(sandbox) == sorted(
        [
            (PRINCIPALS["ws-research"], relay_of(ARC_1).lower()),
            (PRINCIPALS["ws-prod"], relay_of(ARC_2).lower()),
        ]
    )


def test_a_relay_no_extension_names_is_never_granted_even_when_it_is_the_only_one(sandbox_for):
    document = two_arc_clusters_in_one_group()
    document["clusters"] = [c for c in document["clusters"] if c["id"] != ARC_2]
    document["clusters"][-1]["extensions"][0]["relay"] = False  # installed without a relay
    document["relays"] = [{"id": TEAM_RELAY, "location": "westeurope"}]
    events = [{"at": 0, "event": arm_event(ARC_WRITE, ARC_1, event_id="arc-1")}]
    sandbox = sandbox_for(scenario_from(document, events))
    sandbox.run_pass(0)
    assert relay_owners(sandbox) == []
    assert [r["id"] for r in sandbox.world.snapshot()["relays"]] == [TEAM_RELAY]


def test_a_policy_that_installs_the_extension_refuses_to_on_arc_and_tells_the_owners_how(
    sandbox_for,
):
    document = two_arc_clusters_in_one_group()
    document["clusters"] = [c for c in document["clusters"] if c["id"] != ARC_2]
    document["clusters"][-1]["extensions"] = []
    document["policy"]["extension"] = {"when_missing": "install"}
    events = [{"at": 0, "event": arm_event(ARC_WRITE, ARC_1, event_id="arc-1")}]
    sandbox = sandbox_for(scenario_from(document, events))
    report = sandbox.run_pass(0)
    assert report.deliveries[0].outcome == "dead-lettered"
    reason = report.deliveries[0].reason
    assert "only on AKS" in reason and "az k8s-extension create" in reason
    assert not any(r.method == "PUT" and "extensions" in r.path for r in sandbox.arm.log)
    assert sandbox.world.cluster(ARC_1).extensions == {}
