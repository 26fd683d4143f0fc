"""What a cluster's ledger record says about its computes, read against what Azure shows."""

from __future__ import annotations

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import ComputeState, IdentityType
from shared.engine.ledger_record import departed_computes, lost_some, new_principals

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = ResourceId.parse(
    SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)
WORKSPACE = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws"
)
UAI = SUB + "/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ml"


def entry(name: str, identity: str = "", *, active: bool = True) -> dict[str, object]:
    kind = "user_assigned" if identity else "system_assigned"
    return {
        "type": "Autoattach.ComputeAttached",
        "compute": WORKSPACE.child("computes", name).raw,
        "workspace": WORKSPACE.raw,
        "cluster": CLUSTER.raw,
        "shape": f"azureml|{kind}|{identity.lower()}|read",
        "active": active,
    }


def shown(name: str, **changes: object) -> ComputeState:
    fields: dict[str, object] = dict(
        workspace_id=WORKSPACE,
        name=name,
        cluster_id=CLUSTER,
        namespace="azureml",
        identity_type=IdentityType.SYSTEM_ASSIGNED,
        principal_id="p-" + name,
        provisioning_state="Succeeded",
        managed_by_autoattach=True,
    )
    fields.update(changes)
    return ComputeState(**fields)  # type: ignore[arg-type]


def test_a_compute_on_a_user_assigned_identity_announced_and_no_longer_shown_has_departed():
    record = {"a": entry("gone", UAI), "b": entry("here", UAI), "c": entry("sys-gone")}
    [departed] = departed_computes(CLUSTER, record, [shown("here")])

    assert departed.name == "gone" and departed.provisioning_state == "Deleted"
    assert departed.user_assigned_identity == ResourceId.parse(UAI)
    assert departed.namespace == "azureml"  # a system-assigned identity went with its compute


def test_an_entry_no_longer_active_or_unreadable_departs_nothing():
    broken = {**entry("broken", UAI), "compute": "not an id"}
    record = {"a": entry("old", UAI, active=False), "b": broken}
    assert departed_computes(CLUSTER, record, []) == []


def test_an_announced_compute_azure_no_longer_shows_means_the_ledger_lost_some():
    record = {"a": entry("one"), "b": entry("two")}
    assert lost_some(record, {}, [shown("one")])
    assert not lost_some(record, {}, [shown("one"), shown("TWO")])  # names compare without case


def test_only_never_announced_system_assigned_principals_of_staying_computes_are_new():
    fresh, told, leaving = shown("fresh"), shown("told"), shown("leaving")
    assert new_principals([fresh, told, leaving], [leaving], {"t": entry("told")}) == {"p-fresh"}
