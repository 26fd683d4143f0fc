"""Workspaces and Kubernetes computes through azure-ai-ml's MLClient, as the product uses them."""

from __future__ import annotations

import pytest
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    IdentityConfiguration,
    KubernetesCompute,
    ManagedIdentityConfiguration,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from sandbox.arm_double import ArmDouble
from sandbox.arm_ids import deterministic_principal
from sandbox.clock import VirtualClock
from sandbox.world import World, WorldError
from tests.double.arm_world import (
    ACR,
    AKS,
    AKS_PLAIN,
    ARC,
    STORAGE,
    SUB,
    UAI,
    UAI_PRINCIPAL,
    WS,
    WS_UAI,
)
from tests.double.conftest import MlFactory

COMPUTES = f"{WS}/computes"
ARC_READY = ARC  # its AzureML extension is Succeeded from the start


@pytest.fixture(autouse=True)
def _computes_settle_at_once(world: World) -> None:
    """These tests follow the SDK's whole attach/detach, poller included, to check shapes and
    request sequences; timing has its own tests (test_long_running_operations.py).
    With a duration, the poller would sleep the Retry-After in real time."""
    world.compute_attach_seconds = 0
    world.compute_detach_seconds = 0


def _attach(
    ml: MLClient, name: str, cluster: str, identity: IdentityConfiguration
) -> KubernetesCompute:
    compute = KubernetesCompute(
        name=name,
        resource_id=cluster,
        namespace="team-x",
        identity=identity,
        tags={"managed-by": "autoattach"},
        description="attached by autoattach",
    )
    result = ml.compute.begin_create_or_update(compute).result(timeout=5)
    assert isinstance(result, KubernetesCompute)
    return result


def test_workspace_get_returns_storage_registry_and_system_identity(
    ml: MLClient, world: World
) -> None:
    workspace = ml.workspaces.get("ws-research")
    assert workspace.id == WS
    assert workspace.location == "westeurope"
    assert workspace.storage_account == STORAGE
    assert workspace.container_registry == ACR
    assert workspace.identity is not None
    assert workspace.identity.type == "system_assigned"
    assert workspace.identity.principal_id == world.workspaces[WS.lower()].principal_id


def test_workspace_on_user_assigned_identity_reports_it(ml_for: MlFactory) -> None:
    workspace = ml_for("ws-prod").workspaces.get("ws-prod")
    assert workspace.id == WS_UAI
    assert workspace.identity is not None
    assert workspace.identity.type == "user_assigned"
    assert workspace.identity.user_assigned_identities is not None
    assert [u.resource_id for u in workspace.identity.user_assigned_identities] == [UAI]
    assert workspace.primary_user_assigned_identity == UAI


def test_compute_put_returns_system_assigned_principal_that_shows_in_snapshot(
    ml: MLClient, world: World, arm: ArmDouble
) -> None:
    result = _attach(ml, "k8s-aks", AKS, IdentityConfiguration(type="system_assigned"))
    expected = deterministic_principal(f"{WS}/computes/k8s-aks")
    assert result.identity is not None and result.identity.principal_id == expected
    assert result.provisioning_state == "Succeeded"
    assert result.namespace == "team-x"
    entry = next(c for c in world.snapshot()["computes"] if c["name"] == "k8s-aks")
    assert entry == {
        "workspace": WS,
        "name": "k8s-aks",
        "resource_id": AKS,
        "namespace": "team-x",
        "identity_type": "system_assigned",
        "principal_id": expected,
        "provisioning_state": "Succeeded",
        "tags": {},  # Azure ML lists computes as not supporting tags: dropped by default
        "description": "attached by autoattach",
    }
    # The exact requests MLClient sends for an attach: workspace GET (location), PUT, poll, GET.
    assert [(r.method, r.path) for r in arm.log] == [
        ("GET", WS),
        ("PUT", f"{COMPUTES}/k8s-aks"),
        ("GET", arm.log[2].path),
        ("GET", f"{COMPUTES}/k8s-aks"),
    ]
    # Azure ML's own status URL, in the workspace's region (AML-Kubernetes issue 155's log)
    assert arm.log[2].path.startswith(
        f"/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/locations/westeurope"
        "/computeOperationsStatus/"
    )
    assert arm.log[2].kind == "polls"
    assert arm.log[1].body["identity"] == {"type": "SystemAssigned"}


def test_compute_put_accepts_the_sdk_camel_case_quirk_systemassigned(
    ml: MLClient, arm: ArmDouble
) -> None:
    result = _attach(ml, "k8s-quirk", AKS, IdentityConfiguration(type="SystemAssigned"))
    assert arm.log[1].body["identity"] == {"type": "Systemassigned"}
    assert result.identity is not None and result.identity.principal_id


def test_user_assigned_compute_reports_the_identity_principal_from_the_world(
    ml: MLClient, world: World
) -> None:
    identity = IdentityConfiguration(
        type="user_assigned",
        user_assigned_identities=[ManagedIdentityConfiguration(resource_id=UAI)],
    )
    result = _attach(ml, "k8s-uai", AKS, identity)
    assert result.identity is not None and result.identity.type == "user_assigned"
    uais = result.identity.user_assigned_identities or []
    assert [u.resource_id for u in uais] == [UAI]
    entry = next(c for c in world.snapshot()["computes"] if c["name"] == "k8s-uai")
    assert (entry["identity_type"], entry["principal_id"]) == ("user_assigned", UAI_PRINCIPAL)


def test_compute_put_for_a_missing_cluster_is_rejected(ml: MLClient, world: World) -> None:
    world.attach_failures = "refusal"
    world.apply_change({"op": "delete_cluster", "resource": ARC})
    with pytest.raises(HttpResponseError) as raised:
        _attach(ml, "k8s-gone", ARC, IdentityConfiguration(type="system_assigned"))
    assert raised.value.status_code == 400
    assert all(c["name"] != "k8s-gone" for c in world.snapshot()["computes"])


@pytest.mark.parametrize(
    "name", ["aks-vision-prod-weu-01", "aks_ml", "9aks", "aks-", "a", "seventeen-chars-x"]
)
def test_a_compute_name_azure_ml_refuses_is_refused_on_put_with_its_400(
    ml: MLClient, world: World, name: str
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        _attach(ml, name, ARC_READY, IdentityConfiguration(type="system_assigned"))
    assert raised.value.status_code == 400
    assert "Compute name is invalid" in str(raised.value)
    assert "between 2 and 16 characters" in str(raised.value)
    assert all(c["name"] != name for c in world.snapshot()["computes"])


@pytest.mark.parametrize("name", ["ab", "Aks-Vision-Pro01", "k8s-edge"])
def test_a_compute_name_of_2_to_16_letters_digits_and_dashes_is_accepted(
    ml: MLClient, name: str
) -> None:
    assert _attach(ml, name, ARC_READY, IdentityConfiguration(type="system_assigned")).name == name


def test_compute_put_waits_for_the_azureml_extension_to_succeed(
    ml: MLClient, clock: VirtualClock, world: World
) -> None:
    world.attach_failures = "refusal"
    with pytest.raises(HttpResponseError) as raised:
        _attach(ml, "k8s-plain", AKS_PLAIN, IdentityConfiguration(type="system_assigned"))
    assert raised.value.status_code == 400
    clock.advance(120)
    assert (
        _attach(ml, "k8s-plain", AKS_PLAIN, IdentityConfiguration(type="system_assigned")).name
        == "k8s-plain"
    )


def test_compute_get_list_and_detach(ml: MLClient, arm: ArmDouble, world: World) -> None:
    by_hand = ml.compute.get("by-hand")
    assert isinstance(by_hand, KubernetesCompute)
    assert by_hand.resource_id == AKS and by_hand.namespace == "team-x"
    _attach(ml, "k8s-aks", AKS, IdentityConfiguration(type="system_assigned"))
    assert sorted(c.name for c in ml.compute.list()) == ["by-hand", "k8s-aks"]
    arm.reset_counts()
    ml.compute.begin_delete("k8s-aks", action="Detach").result(timeout=5)
    delete = arm.log[0]
    assert (delete.method, delete.path) == ("DELETE", f"{COMPUTES}/k8s-aks")
    assert delete.query["underlyingResourceAction"] == "Detach"
    assert arm.counts == {"reads": 1, "writes": 1}
    with pytest.raises(ResourceNotFoundError):
        ml.compute.get("k8s-aks")
    assert [c["name"] for c in world.snapshot()["computes"]] == ["by-hand"]


def test_computes_stay_when_their_cluster_is_deleted(ml: MLClient, world: World) -> None:
    world.apply_change({"op": "delete_cluster", "resource": AKS})
    assert ml.compute.get("by-hand").resource_id == AKS
    world.apply_change(
        {
            "op": "set_compute_state",
            "workspace": WS,
            "name": "by-hand",
            "provisioning_state": "Failed",
        }
    )
    assert ml.compute.get("by-hand").provisioning_state == "Failed"


def test_compute_lro_failure_injection_raises(ml: MLClient, arm: ArmDouble) -> None:
    arm.fail_next_lro("/computes/k8s-bad")
    with pytest.raises(HttpResponseError):
        _attach(ml, "k8s-bad", AKS, IdentityConfiguration(type="system_assigned"))
    assert ml.compute.get("k8s-bad").provisioning_state == "Failed"


def test_compute_get_and_list_reflect_a_set_compute_state_change(
    ml: MLClient, world: World
) -> None:
    _attach(ml, "k8s-aks", AKS, IdentityConfiguration(type="system_assigned"))
    world.apply_change(
        {
            "op": "set_compute_state",
            "workspace": WS,
            "name": "k8s-aks",
            "provisioning_state": "Failed",
        }
    )
    assert ml.compute.get("k8s-aks").provisioning_state == "Failed"
    states = {c.name: c.provisioning_state for c in ml.compute.list()}
    assert states == {"by-hand": "Succeeded", "k8s-aks": "Failed"}


def test_a_failed_compute_can_be_detached_and_attached_again_under_the_same_name(
    ml: MLClient, world: World
) -> None:
    world.apply_change(
        {
            "op": "set_compute_state",
            "workspace": WS,
            "name": "by-hand",
            "provisioning_state": "Failed",
        }
    )
    ml.compute.begin_delete("by-hand", action="Detach").result(timeout=5)
    assert all(c.name != "by-hand" for c in ml.compute.list())
    identity = IdentityConfiguration(
        type="user_assigned",
        user_assigned_identities=[ManagedIdentityConfiguration(resource_id=UAI)],
    )
    again = _attach(ml, "by-hand", ARC_READY, identity)
    assert again.provisioning_state == "Succeeded" and again.resource_id == ARC_READY
    entry = next(c for c in world.snapshot()["computes"] if c["name"] == "by-hand")
    assert (entry["resource_id"], entry["identity_type"], entry["principal_id"]) == (
        ARC_READY,
        "user_assigned",
        UAI_PRINCIPAL,
    )


def test_a_cluster_from_another_subscription_is_refused_with_azure_mls_error(
    ml: MLClient, world: World
) -> None:
    world.attach_failures = "refusal"
    other = ARC.replace(
        "00000000-0000-0000-0000-0000000000aa", "00000000-0000-0000-0000-0000000000bb"
    )
    ready = {"name": "ml", "extension_type": "Microsoft.AzureML.Kubernetes"}
    world.apply_change(
        {
            "op": "create_cluster",
            "cluster": {"id": other, "location": "westeurope", "extensions": [ready]},
        }
    )
    with pytest.raises(HttpResponseError) as raised:
        _attach(ml, "k8s-far", other, IdentityConfiguration(type="system_assigned"))
    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "BadRequest"
    assert "another subscription" in str(raised.value.message)
    assert all(c["name"] != "k8s-far" for c in world.snapshot()["computes"])


def test_a_computes_tags_are_dropped_and_its_description_kept_by_default(
    ml: MLClient, world: World
) -> None:
    _attach(ml, "k8s-tags", AKS, IdentityConfiguration(type="system_assigned"))
    read = ml.compute.get("k8s-tags")
    assert not read.tags
    assert read.description == "attached by autoattach"


def test_a_world_that_keeps_compute_tags_shows_them_on_every_read(
    ml: MLClient, world: World
) -> None:
    world.compute_tags = "kept"
    _attach(ml, "k8s-kept", AKS, IdentityConfiguration(type="system_assigned"))
    assert ml.compute.get("k8s-kept").tags == {"managed-by": "autoattach"}


def test_compute_tags_takes_only_dropped_or_kept() -> None:
    with pytest.raises(WorldError, match="compute_tags 'sometimes'"):
        World.from_dict({"compute_tags": "sometimes"})
    assert World.from_dict({"compute_tags": "kept"}).compute_tags == "kept"
    assert World.from_dict({}).compute_tags == "dropped"
