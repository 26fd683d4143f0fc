"""Azure ML reports an attach it cannot do through the attach's operation (sandbox/README.md,
*Guesses* G1): the PUT is accepted, the operation ends Failed with the reason, and the compute
is left Failed. A world with ``attach_failures: "refusal"`` refuses the PUT at once instead.
Role propagation takes ten minutes by default; Trusted Access asks Contributor of a
user-assigned workspace identity."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import requests

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.tls import SandboxTls
from sandbox.world import RoleAssignment, World, WorldError
from tests.double.arm_world import (
    AKS,
    AKS_PLAIN,
    BASE_WORLD,
    SUB,
    UAI_PRINCIPAL,
    WS,
    WS_UAI,
    compute_body,
)

ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
EXTENSION_CONTRIBUTOR = "85cb6faf-e071-4c9b-8136-154b5a04f717"
CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
API = "2024-10-01"


def _raw(method: str, url: str, tls: SandboxTls, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        url,
        json=body,
        headers={"Authorization": "Bearer sandbox"},
        verify=str(tls.ca_bundle),
        timeout=10,
    )


def _put(arm: ArmDouble, tls: SandboxTls, workspace: str, name: str, cluster: str) -> Any:
    url = f"{arm.base_url}{workspace}/computes/{name}?api-version={API}"
    return _raw("PUT", url, tls, compute_body(cluster))


def _status(tls: SandboxTls, put: requests.Response) -> dict[str, Any]:
    answer: dict[str, Any] = _raw("GET", put.headers["Azure-AsyncOperation"], tls).json()
    return answer


def _hold(world: World, *roles: str, propagated: bool = True, scope: str = AKS) -> None:
    for role in roles:
        assignment = RoleAssignment(scope, f"{ROLES}/{role}", UAI_PRINCIPAL, str(uuid.uuid4()))
        if not propagated:
            assignment.effective_at = world.seconds() + world.role_propagation_seconds
        world.role_assignments[assignment.id.lower()] = assignment


def test_an_attach_without_the_extension_is_accepted_and_its_operation_fails_with_the_reason(
    arm: ArmDouble, tls: SandboxTls, world: World, clock: VirtualClock
) -> None:
    put = _put(arm, tls, WS, "k8s-plain", AKS_PLAIN)  # its extension is still Creating
    assert put.status_code == 201
    assert put.json()["properties"]["provisioningState"] == "Creating"
    assert _status(tls, put)["status"] == "InProgress"
    clock.advance(world.compute_attach_seconds)
    status = _status(tls, put)
    assert status["status"] == "Failed"
    assert "not installed" in status["error"]["message"]
    compute = _raw("GET", f"{arm.base_url}{WS}/computes/k8s-plain?api-version={API}", tls).json()
    assert compute["properties"]["provisioningState"] == "Failed"
    assert compute["properties"]["provisioningErrors"][0]["error"]["code"] == "BadRequest"


def test_an_attach_before_the_identitys_roles_take_effect_fails_through_the_operation(
    arm: ArmDouble, tls: SandboxTls, world: World, clock: VirtualClock
) -> None:
    _hold(world, READER, EXTENSION_CONTRIBUTOR, CLUSTER_ADMIN, propagated=False)
    put = _put(arm, tls, WS_UAI, "k8s-prod", AKS)
    assert put.status_code == 201
    clock.advance(world.compute_attach_seconds)
    assert "not installed" in _status(tls, put)["error"]["message"]
    assert world.compute(WS_UAI, "k8s-prod").provisioning_state == "Failed"  # type: ignore[union-attr]


def test_without_the_cluster_admin_role_the_operation_fails_with_an_internal_server_error(
    arm: ArmDouble, tls: SandboxTls, world: World, clock: VirtualClock
) -> None:
    _hold(world, READER, EXTENSION_CONTRIBUTOR)
    put = _put(arm, tls, WS_UAI, "k8s-prod", AKS)
    clock.advance(world.compute_attach_seconds)
    assert _status(tls, put)["error"]["code"] == "InternalServerError"


def test_a_world_that_refuses_at_once_refuses_the_put_and_makes_no_compute(
    arm: ArmDouble, tls: SandboxTls, world: World
) -> None:
    world.attach_failures = "refusal"
    put = _put(arm, tls, WS, "k8s-plain", AKS_PLAIN)
    assert put.status_code == 400
    assert put.json()["error"]["details"][0]["code"] == "ExtensionNotReady"
    assert world.compute(WS, "k8s-plain") is None


def test_attach_failures_is_read_from_the_world_file_and_checked() -> None:
    data = copy.deepcopy(BASE_WORLD)
    assert World.from_dict(data).attach_failures == "operation"
    data["attach_failures"] = "refusal"
    assert World.from_dict(data).attach_failures == "refusal"
    data["attach_failures"] = "sometimes"
    with pytest.raises(WorldError, match="attach_failures"):
        World.from_dict(data)


def test_role_propagation_takes_ten_minutes_by_default() -> None:
    assert World.from_dict(copy.deepcopy(BASE_WORLD)).role_propagation_seconds == 600


def _trusted_world() -> World:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][0]["trusted_access"] = [WS_UAI]
    return World.from_dict(data)


def test_trusted_access_bindings_name_the_workspace_as_their_source(
    arm: ArmDouble, tls: SandboxTls, clock: VirtualClock
) -> None:
    arm.use(_trusted_world(), clock)
    url = f"{arm.base_url}{AKS}/trustedAccessRoleBindings?api-version=2026-05-01"
    listed = _raw("GET", url, tls).json()["value"]
    assert [b["properties"]["sourceResourceId"] for b in listed] == [WS_UAI]
    assert listed[0]["properties"]["roles"] == [
        "Microsoft.MachineLearningServices/workspaces/mlworkload"
    ]
    assert arm.contracts["violations"] == []


def test_with_trusted_access_a_user_assigned_workspace_identity_also_needs_contributor(
    arm: ArmDouble, tls: SandboxTls, clock: VirtualClock
) -> None:
    world = _trusted_world()
    arm.use(world, clock)
    _hold(world, READER, EXTENSION_CONTRIBUTOR, CLUSTER_ADMIN)
    failed = _put(arm, tls, WS_UAI, "k8s-prod", AKS)
    clock.advance(world.compute_attach_seconds)
    assert _status(tls, failed)["status"] == "Failed"
    detach = "underlyingResourceAction=Detach"
    _raw("DELETE", f"{arm.base_url}{WS_UAI}/computes/k8s-prod?api-version={API}&{detach}", tls)
    clock.advance(world.compute_detach_seconds)
    _hold(world, CONTRIBUTOR)
    attached = _put(arm, tls, WS_UAI, "k8s-prod", AKS)
    clock.advance(world.compute_attach_seconds)
    assert _status(tls, attached)["status"] == "Succeeded"


def test_trusted_access_is_for_aks_clusters_only() -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][2]["trusted_access"] = [WS_UAI]  # the Arc cluster
    with pytest.raises(WorldError, match="AKS clusters only"):
        World.from_dict(data)


def test_a_contributor_of_the_workspace_can_switch_its_identity_in_a_scenario(
    world: World,
) -> None:
    group = WS_UAI.rsplit("/providers/", 1)[0]
    other = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-mine"
    world.apply_change(
        {
            "op": "set_workspace_identity",
            "workspace": WS,
            "user_assigned_identity": next(iter(world.identities.values())).id,
        }
    )
    assert world.workspaces[WS.lower()].identity_type == "UserAssigned"
    with pytest.raises(WorldError):
        world.apply_change(
            {"op": "set_workspace_identity", "workspace": WS, "user_assigned_identity": other}
        )
