"""The sweep heals what a lost event left behind: computes and roles on clusters that were
untagged or deleted while nobody was told, and role assignments whose compute is gone."""

from sandbox.scenario import arm_event
from shared.adapters.roles import assignment_name
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import Role
from tests.e2e.conftest import ready_document, scenario_from, sweep

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
UAI = SUB + "/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws-id"
UAI_PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f77"
AKS_CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"


def attached(document):
    cluster = document["clusters"][0]["id"]
    steps = [{"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="create")}]
    return cluster, scenario_from(document, steps)


def ours(sandbox):
    return [
        a
        for a in sandbox.world.snapshot()["role_assignments"]
        if (a.get("description") or "") == "Created by autoattach"
    ]


def test_a_cluster_untagged_without_an_event_is_detached_by_the_sweep(sandbox_for):
    cluster, scenario = attached(ready_document())
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    assert len(sandbox.world.snapshot()["computes"]) == 2
    sandbox.world.apply_change({"op": "set_tags", "resource": cluster, "tags": {}})  # event lost
    sweep(sandbox)
    assert sandbox.world.snapshot()["computes"] == []
    assert ours(sandbox) == []


def test_a_cluster_deleted_without_an_event_loses_its_computes_and_roles_at_the_sweep(sandbox_for):
    document = ready_document()
    document["identities"] = [
        {
            "id": UAI,
            "principal_id": UAI_PRINCIPAL,
            "client_id": "c0ffee00-0000-4000-8000-000000000077",
        }
    ]
    document["workspaces"][0]["identity"] = {"type": "UserAssigned", "user_assigned_identity": UAI}
    document["policy"]["workspaces"][0]["workspace_identity"] = UAI
    cluster, scenario = attached(document)
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    admin = [a for a in ours(sandbox) if a["role_definition_id"].endswith(AKS_CLUSTER_ADMIN)]
    assert admin
    sandbox.world.apply_change({"op": "delete_cluster", "resource": cluster})  # event lost
    sweep(sandbox)
    assert sandbox.world.snapshot()["computes"] == []
    assert ours(sandbox) == []


def test_a_role_autoattach_made_for_a_compute_that_is_gone_is_removed_by_the_sweep(sandbox_for):
    document = ready_document()
    registry = ResourceId.parse(document["workspaces"][0]["container_registry"])
    orphan_principal = "0d15ea5e-0000-4000-8000-00000000beef"
    document["principals"] = [orphan_principal]
    document["role_assignments"] = [
        {
            "scope": registry.raw,
            "role_definition_id": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
            + Role.ACR_PULL.value,
            "principal_id": orphan_principal,
            "name": assignment_name(registry, Role.ACR_PULL, orphan_principal),
            "description": "Created by autoattach",
            "principal_type": "ServicePrincipal",
        },
        {
            "scope": registry.raw,
            "role_definition_id": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
            + Role.ACR_PULL.value,
            "principal_id": orphan_principal,
            "name": "6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0",  # a person's, same role: kept
            "principal_type": "ServicePrincipal",
        },
    ]
    _cluster, scenario = attached(document)
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    sweep(sandbox)
    left = [
        a
        for a in sandbox.world.snapshot()["role_assignments"]
        if a["principal_id"] == orphan_principal
    ]
    assert [a["name"] for a in left] == ["6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0"]
