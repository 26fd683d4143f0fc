"""What a cluster's ledger record says about its computes, read against what Azure shows."""

from __future__ import annotations

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import ComputeState, IdentityType
from shared.engine.ledger_record import (
    RunGrants,
    departed_computes,
    grants_held,
    lost_some,
    new_principals,
    recorded_grants,
    with_grants,
)

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


ACR = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acr"
)
STORAGE = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/st"
)
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def granted(*names: str) -> RunGrants:
    run = RunGrants()
    for name in names:
        compute = shown(name)
        run.grant(compute.id, ACR, "p-" + name, ACR_PULL)
        run.grant(compute.id, STORAGE, "p-" + name, READER)
    return run


def test_roles_granted_to_a_new_identity_are_recorded_and_read_back_as_held():
    fresh = shown("fresh", provisioning_state="Creating")
    record = with_grants({}, granted("fresh"), [])  # granted just now: kept, shown or not

    assert recorded_grants(record, [fresh]) == {
        (ACR.key, "p-fresh", ACR_PULL),
        (STORAGE.key, "p-fresh", READER),
    }
    assert with_grants(record, RunGrants(), [fresh]) == record  # kept while it attaches
    assert all(not entry["active"] for entry in record.values())  # settles nothing


def test_a_recorded_grant_leaves_the_record_once_its_compute_is_announced_or_gone():
    record = with_grants({}, granted("fresh"), [])
    announced = {**record, "attached|" + shown("fresh").id.key: entry("fresh")}

    assert with_grants(announced, RunGrants(), [shown("fresh")]) == {
        "attached|" + shown("fresh").id.key: entry("fresh")
    }
    assert with_grants(record, RunGrants(), []) == {}  # Azure no longer shows it


def test_grants_recorded_for_another_identity_of_the_compute_say_nothing():
    record = with_grants({}, granted("fresh"), [])
    again = shown("fresh", principal_id="p-another")  # detached and attached again

    assert recorded_grants(record, [again]) == set()
    assert with_grants(record, RunGrants(), [again]) == {}


def test_a_role_revoked_leaves_the_record_and_is_no_longer_taken_as_held():
    record = with_grants({}, granted("fresh"), [])
    run = RunGrants()
    run.revoke(STORAGE, "P-FRESH", READER)
    recorded = recorded_grants(record, [shown("fresh")])

    assert grants_held(recorded, run, frozenset({"p-fresh"})) == {(ACR.key, "p-fresh", ACR_PULL)}
    assert recorded_grants(with_grants(record, run, [shown("fresh")]), [shown("fresh")]) == {
        (ACR.key, "p-fresh", ACR_PULL)
    }


def test_an_unreadable_grants_entry_records_nothing():
    key = "granted|" + shown("fresh").id.key
    broken = {key: {"type": "RolesGranted", "principal": "p-fresh", "roles": "acr"}}
    odd = {key: {"type": "RolesGranted", "principal": "p-fresh", "roles": [[1, 2], ["a"]]}}

    assert recorded_grants(broken, [shown("fresh")]) == set()
    assert recorded_grants(odd, [shown("fresh")]) == set()
