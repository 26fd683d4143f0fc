"""Azure ML's ARM answers read as the product's plain data (shared.adapters.azureml_reads): the
shapes the double does not serve."""

from __future__ import annotations

from shared.adapters.azureml_reads import compute_state, listed, workspace_state
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import IdentityType

RG = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml"
WS = ResourceId.parse(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws")
AKS = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks"
UAI = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai"
OTHER = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other"


def test_a_compute_on_both_identities_is_read_as_system_assigned_with_its_own_principal():
    compute = compute_state(
        WS,
        {
            "name": "k8s",
            "identity": {
                "type": "SystemAssigned,UserAssigned",
                "principalId": "system-principal",
                "userAssignedIdentities": {UAI: {"principalId": "uai-principal"}},
            },
            "properties": {"computeType": "Kubernetes", "resourceId": AKS},
        },
    )
    assert compute.identity_type is IdentityType.SYSTEM_ASSIGNED
    assert compute.principal_id == "system-principal"


def test_a_computes_created_on_is_kept_as_arms_text_the_ledger_compares():
    compute = compute_state(
        WS,
        {
            "name": "k8s",
            "properties": {
                "resourceId": AKS,
                "createdOn": "2026-12-07T10:00:00.1234567Z",
                "provisioningState": "Failed",
                "provisioningErrors": [
                    {"error": {"code": "First", "message": "one"}},
                    {"error": {"code": "Second", "message": "two"}},
                ],
                "properties": {"namespace": "team-x"},
            },
        },
    )
    assert compute.created_on == "2026-12-07T10:00:00.1234567Z"
    assert (compute.provisioning_state, compute.errors) == ("Failed", "First")
    assert (compute.namespace, compute.cluster_id) == ("team-x", ResourceId.parse(AKS))
    assert compute.identity_type is None and compute.principal_id is None


def test_a_compute_answer_without_properties_reads_as_a_compute_of_no_cluster():
    compute = compute_state(WS, {"name": "odd", "properties": None})
    assert (compute.name, compute.cluster_id, compute.namespace) == ("odd", None, "")
    assert (compute.provisioning_state, compute.created_on, compute.errors) == ("", "", "")
    assert not compute.managed_by_autoattach and not compute.legacy_claim


def test_a_workspace_on_both_identities_has_no_user_assigned_identity_to_grant():
    workspace = workspace_state(
        WS,
        {
            "location": "westeurope",
            "identity": {
                "type": "SystemAssigned,UserAssigned",
                "userAssignedIdentities": {UAI: {"principalId": "uai-principal"}},
            },
            "properties": {"storageAccount": None, "containerRegistry": "not an id"},
        },
    )
    assert workspace.user_assigned_identity is None
    assert workspace.user_assigned_principal == ""
    assert workspace.storage_account is None and workspace.container_registry is None


def test_a_workspace_names_its_primary_identity_and_that_identitys_principal():
    workspace = workspace_state(
        WS,
        {
            "location": "westeurope",
            "identity": {
                "type": "UserAssigned",
                "userAssignedIdentities": {
                    OTHER: {"principalId": "other-principal"},
                    UAI.upper(): {"principalId": "uai-principal"},
                },
            },
            "properties": {"primaryUserAssignedIdentity": UAI},
        },
    )
    assert workspace.user_assigned_identity == ResourceId.parse(UAI)
    assert workspace.user_assigned_principal == "uai-principal"


def test_a_workspace_naming_no_primary_identity_runs_on_its_first_user_assigned_one():
    workspace = workspace_state(
        WS,
        {
            "identity": {
                "type": "user_assigned",
                "userAssignedIdentities": {OTHER: {}, UAI: {"principalId": "uai-principal"}},
            },
        },
    )
    assert workspace.user_assigned_identity == ResourceId.parse(OTHER)
    assert workspace.user_assigned_principal == ""


def test_a_paged_list_yields_every_page_s_items_and_skips_what_is_not_an_item():
    pages = iter([{"value": [{"name": "a"}, "junk"]}, {"value": None}, {"value": [{"name": "b"}]}])
    assert [item["name"] for item in listed(pages)] == ["a", "b"]
