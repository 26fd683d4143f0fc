"""The product reads Azure ML workspaces and computes through plain ARM, not azure-ai-ml: it sends
the very requests MLClient sends and reads from the answers what MLClient's entities show."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    IdentityConfiguration,
    KubernetesCompute,
    ManagedIdentityConfiguration,
)

from sandbox.arm_double import ArmDouble
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import World
from shared.adapters.arm import ArmConnection
from shared.adapters.azureml import AzureMLWorkspaces
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import PermanentError
from shared.decisions.model import ComputeState, IdentityType
from tests.double.arm_world import AKS, RG, UAI, WS, WS_UAI
from tests.double.conftest import MlFactory


@pytest.fixture
def workspaces(
    arm: ArmDouble, tls: SandboxTls, monkeypatch: pytest.MonkeyPatch
) -> AzureMLWorkspaces:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    return AzureMLWorkspaces(ArmConnection(SandboxCredential(), arm.base_url))


def _requests(arm: ArmDouble) -> list[tuple[str, str, str]]:
    return [(r.method, r.path.lower(), r.query.get("api-version", "")) for r in arm.log]


def _as_azure_ml_shows_it(entity: Any) -> dict[str, Any]:
    """What an azure-ai-ml compute entity shows of what the product reads."""
    identity = entity.identity
    users = (identity.user_assigned_identities or []) if identity else []
    return {
        "name": entity.name,
        "cluster": (entity.resource_id or "").lower(),
        "namespace": getattr(entity, "namespace", "") or "",
        # azure-ai-ml 1.35 keeps a user-assigned identity's principalId under that name
        "principal": (
            (users[0].principal_id or getattr(users[0], "principalId", None))
            if users
            else identity.principal_id
        )
        if identity
        else None,
        "user_assigned": users[0].resource_id.lower() if users else None,
        "state": entity.provisioning_state,
        "created_on": str(entity.created_on or ""),
        "errors": str(entity.provisioning_errors or ""),
    }


def _as_the_product_reads_it(compute: ComputeState) -> dict[str, Any]:
    return {
        "name": compute.name,
        "cluster": compute.cluster_id.key if compute.cluster_id else "",
        "namespace": compute.namespace,
        "principal": compute.principal_id,
        "user_assigned": compute.user_assigned_identity.key
        if compute.user_assigned_identity
        else None,
        "state": compute.provisioning_state,
        "created_on": compute.created_on,
        "errors": compute.errors,
    }


def _computes(world: World, ml: MLClient) -> None:
    """A system-assigned compute attached by hand (the world's), a user-assigned one, and one
    whose attach failed with Azure ML's error."""
    world.compute_attach_seconds = 0
    ml.compute.begin_create_or_update(
        KubernetesCompute(
            name="k8s-uai",
            resource_id=AKS,
            namespace="team-u",
            identity=IdentityConfiguration(
                type="user_assigned",
                user_assigned_identities=[ManagedIdentityConfiguration(resource_id=UAI)],
            ),
        )
    ).result(timeout=5)
    ml.compute.begin_create_or_update(
        KubernetesCompute(
            name="k8s-failed",
            resource_id=AKS,
            namespace="team-f",
            identity=IdentityConfiguration(type="system_assigned"),
        )
    ).result(timeout=5)
    broken = world.compute(WS, "k8s-failed")
    assert broken is not None
    broken.provisioning_state = "Failed"
    broken.error = {"code": "KubernetesUnreachable", "message": "cannot reach the cluster"}


def test_each_compute_reads_as_azure_ml_shows_it_with_the_same_requests(
    workspaces: AzureMLWorkspaces, ml: MLClient, world: World, arm: ArmDouble
) -> None:
    _computes(world, ml)
    workspace = ResourceId.parse(WS)
    for name in ("by-hand", "k8s-uai", "k8s-failed"):
        arm.reset_counts()
        expected = _as_azure_ml_shows_it(ml.compute.get(name))
        by_azure_ml = _requests(arm)
        arm.reset_counts()
        found = workspaces.get_compute(workspace, name)
        assert found is not None
        assert _as_the_product_reads_it(found) == expected
        assert _requests(arm) == by_azure_ml
    kinds = {c.name: c.identity_type for c in workspaces.list_computes(workspace)}
    assert kinds == {
        "by-hand": IdentityType.SYSTEM_ASSIGNED,
        "k8s-uai": IdentityType.USER_ASSIGNED,
        "k8s-failed": IdentityType.SYSTEM_ASSIGNED,
    }


def test_the_list_of_computes_reads_as_azure_ml_lists_it_with_the_same_requests(
    workspaces: AzureMLWorkspaces, ml: MLClient, world: World, arm: ArmDouble
) -> None:
    _computes(world, ml)
    arm.reset_counts()
    expected = sorted((_as_azure_ml_shows_it(c) for c in ml.compute.list()), key=str)
    by_azure_ml = _requests(arm)
    arm.reset_counts()
    listed = workspaces.list_computes(ResourceId.parse(WS))
    assert sorted((_as_the_product_reads_it(c) for c in listed), key=str) == expected
    assert _requests(arm) == by_azure_ml
    assert len(listed) == 3


def test_a_compute_that_is_not_there_reads_as_none(workspaces: AzureMLWorkspaces) -> None:
    assert workspaces.get_compute(ResourceId.parse(WS), "nowhere") is None


@pytest.mark.parametrize("workspace_id", [WS, WS_UAI])
def test_a_workspace_reads_as_azure_ml_shows_it_with_the_same_requests(
    workspaces: AzureMLWorkspaces, ml_for: MlFactory, arm: ArmDouble, workspace_id: str
) -> None:
    name = workspace_id.rsplit("/", 1)[-1]
    entity = ml_for(name).workspaces.get(name)
    by_azure_ml = _requests(arm)
    arm.reset_counts()
    found = workspaces.get_workspace(ResourceId.parse(workspace_id))
    assert _requests(arm) == by_azure_ml
    users = (entity.identity.user_assigned_identities or []) if entity.identity else []
    assert (found.location, str(found.storage_account), str(found.container_registry)) == (
        entity.location,
        str(ResourceId.parse(entity.storage_account)),
        str(ResourceId.parse(entity.container_registry)),
    )
    if users:
        assert found.user_assigned_identity == ResourceId.parse(UAI)
        assert found.user_assigned_principal == (
            users[0].principal_id or getattr(users[0], "principalId", None)
        )
    else:
        assert found.user_assigned_identity is None
        assert found.user_assigned_principal == ""


def test_a_workspace_that_is_not_there_is_a_permanent_error_that_names_it(
    workspaces: AzureMLWorkspaces,
) -> None:
    missing = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-gone"
    with pytest.raises(PermanentError) as raised:
        workspaces.get_workspace(ResourceId.parse(missing))
    assert "ws-gone" in str(raised.value)
