"""Attach and detach take (virtual) time, and role assignments take time to take effect.

The product's Azure ML adapter against the ARM double: it sends the PUT or DELETE and returns,
never polling; the compute shows ``Creating`` / ``Deleting`` for the world's durations; pending
operations answer ``InProgress`` with ``Retry-After``; an attach for a workspace whose
user-assigned identity was granted its cluster roles moments ago fails transiently until they
have propagated.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import requests
from azure.ai.ml import MLClient
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import RoleAssignment, World, WorldError
from shared.adapters.arm import ArmConnection
from shared.adapters.azureml import AzureMLWorkspaces
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import TransientError
from shared.decisions.model import Attachment, ComputeIdentity, IdentityType, StorageAccess
from tests.double.arm_world import (
    AKS,
    BASE_WORLD,
    SUB,
    UAI_PRINCIPAL,
    WS,
    WS_UAI,
    compute_body,
)
from tests.double.conftest import MlFactory

ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
EXTENSION_CONTRIBUTOR = "85cb6faf-e071-4c9b-8136-154b5a04f717"
CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
API = "2024-10-01"


@pytest.fixture
def workspaces(
    arm: ArmDouble, tls: SandboxTls, monkeypatch: pytest.MonkeyPatch
) -> AzureMLWorkspaces:
    """The product's adapter, pointed at the double as the sandbox points it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    return AzureMLWorkspaces(ArmConnection(SandboxCredential(), arm.base_url))


def _attachment(workspace: str, name: str) -> Attachment:
    return Attachment(
        workspace_id=ResourceId.parse(workspace),
        compute_name=name,
        namespace="team-x",
        identity=ComputeIdentity(IdentityType.SYSTEM_ASSIGNED),
        storage_access=StorageAccess.READ,
    )


def _polls(arm: ArmDouble) -> list[str]:
    return [r.path for r in arm.log if r.kind == "polls"]


def _compute_url(arm: ArmDouble, workspace: str, name: str) -> str:
    return f"{arm.base_url}{workspace}/computes/{name}?api-version={API}"


def _raw(method: str, url: str, tls: SandboxTls, body: Any = None) -> requests.Response:
    """One request, no SDK retries or polling: to read the headers ARM sends."""
    return requests.request(
        method,
        url,
        json=body,
        headers={"Authorization": "Bearer sandbox"},
        verify=str(tls.ca_bundle),
        timeout=10,
    )


def test_the_attach_adapter_sends_the_put_and_returns_creating_without_looking_before_retry_after(
    workspaces: AzureMLWorkspaces, arm: ArmDouble
) -> None:
    state = workspaces.attach(_attachment(WS, "k8s-aks"), ResourceId.parse(AKS))
    assert state.provisioning_state == "Creating"
    assert state.principal_id  # ARM made the system-assigned identity with the PUT
    assert state.managed_by_autoattach and state.namespace == "team-x"
    # the PUT's answer asks to wait (Retry-After): no status read before then, and no waiting
    assert [(r.method, r.path) for r in arm.log] == [("GET", WS), ("PUT", f"{WS}/computes/k8s-aks")]
    assert _polls(arm) == []


def test_a_second_attach_in_the_same_workspace_reads_the_workspace_no_more(
    workspaces: AzureMLWorkspaces, arm: ArmDouble
) -> None:
    workspaces.attach(_attachment(WS, "k8s-aks"), ResourceId.parse(AKS))
    before = len([r for r in arm.log if r.method == "GET" and r.path == WS])
    workspaces.attach(_attachment(WS, "k8s-aks-2"), ResourceId.parse(AKS))
    after = len([r for r in arm.log if r.method == "GET" and r.path == WS])
    assert before == after == 1  # the location comes from the cached workspace


def test_an_attached_compute_is_creating_for_the_attach_seconds_with_its_principal_throughout(
    workspaces: AzureMLWorkspaces, ml: MLClient, clock: VirtualClock, world: World
) -> None:
    assert world.compute_attach_seconds == 60  # the default
    started = workspaces.attach(_attachment(WS, "k8s-aks"), ResourceId.parse(AKS))
    assert started.provisioning_state == "Creating" and started.principal_id  # in the answer
    clock.advance(59)
    creating = ml.compute.get("k8s-aks")
    assert creating.provisioning_state == "Creating"
    assert creating.identity is not None and creating.identity.principal_id == started.principal_id
    assert (
        next(c for c in world.snapshot()["computes"] if c["name"] == "k8s-aks")[
            "provisioning_state"
        ]
        == "Creating"
    )
    clock.advance(1)
    ready = workspaces.get_compute(ResourceId.parse(WS), "k8s-aks")
    assert ready is not None and ready.provisioning_state == "Succeeded"
    assert ready.principal_id == started.principal_id
    assert {c.name: c.provisioning_state for c in ml.compute.list()}["k8s-aks"] == "Succeeded"


def test_in_a_world_that_shows_no_principal_while_creating_it_appears_once_the_compute_is_made(
    workspaces: AzureMLWorkspaces, ml: MLClient, clock: VirtualClock, world: World
) -> None:
    world.compute_principal_on_put = False
    started = workspaces.attach(_attachment(WS, "k8s-aks"), ResourceId.parse(AKS))
    assert started.provisioning_state == "Creating" and started.principal_id is None
    clock.advance(59)
    creating = ml.compute.get("k8s-aks")
    assert creating.identity is not None and creating.identity.principal_id is None
    clock.advance(1)
    ready = workspaces.get_compute(ResourceId.parse(WS), "k8s-aks")
    assert ready is not None and ready.provisioning_state == "Succeeded"
    assert ready.principal_id  # visible once the compute is made


def test_a_pending_attach_answers_in_progress_with_retry_after_until_it_settles(
    arm: ArmDouble, tls: SandboxTls, clock: VirtualClock
) -> None:
    put = _raw("PUT", _compute_url(arm, WS, "k8s-raw"), tls, compute_body(AKS))
    assert put.status_code == 201
    assert put.json()["properties"]["provisioningState"] == "Creating"
    assert put.headers["Retry-After"] == "10"
    status_url = put.headers["Azure-AsyncOperation"]
    for _ in range(2):
        pending = _raw("GET", status_url, tls)
        assert pending.json()["status"] == "InProgress"
        assert pending.headers["Retry-After"] == "10"
    clock.advance(60)
    done = _raw("GET", status_url, tls)
    assert done.json()["status"] == "Succeeded" and "Retry-After" not in done.headers


def test_a_failed_attach_is_creating_until_it_settles_then_failed(
    workspaces: AzureMLWorkspaces, arm: ArmDouble, ml: MLClient, clock: VirtualClock
) -> None:
    arm.fail_next_lro("/computes/k8s-bad")
    state = workspaces.attach(_attachment(WS, "k8s-bad"), ResourceId.parse(AKS))
    assert state.provisioning_state == "Creating"
    clock.advance(60)
    assert ml.compute.get("k8s-bad").provisioning_state == "Failed"


def test_detach_returns_at_once_and_the_compute_is_deleting_until_it_is_gone(
    workspaces: AzureMLWorkspaces, arm: ArmDouble, ml: MLClient, clock: VirtualClock, world: World
) -> None:
    workspaces.detach(ResourceId.parse(WS), "by-hand")
    assert [(r.method, r.status) for r in arm.log] == [("DELETE", 202)]
    assert ml.compute.get("by-hand").provisioning_state == "Deleting"
    clock.advance(world.compute_detach_seconds)
    with pytest.raises(ResourceNotFoundError):
        ml.compute.get("by-hand")
    assert world.snapshot()["computes"] == []
    assert _polls(arm) == []


def test_a_compute_being_detached_cannot_be_attached_again_until_it_is_gone(
    workspaces: AzureMLWorkspaces, clock: VirtualClock
) -> None:
    workspaces.detach(ResourceId.parse(WS), "by-hand")
    with pytest.raises(TransientError) as raised:
        workspaces.attach(_attachment(WS, "by-hand"), ResourceId.parse(AKS))
    assert raised.value.reason == "AnotherOperationInProgress"
    clock.advance(30)
    again = workspaces.attach(_attachment(WS, "by-hand"), ResourceId.parse(AKS))
    assert again.provisioning_state == "Creating"


def _grant(authorization: AuthorizationManagementClient, role: str) -> None:
    authorization.role_assignments.create(
        AKS,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=f"{ROLES}/{role}",
            principal_id=UAI_PRINCIPAL,
            principal_type="ServicePrincipal",
        ),
    )


def test_where_attach_is_refused_at_once_it_fails_transiently_until_fresh_roles_take_effect(
    workspaces: AzureMLWorkspaces,
    authorization: AuthorizationManagementClient,
    clock: VirtualClock,
    world: World,
) -> None:
    world.attach_failures = "refusal"
    world.role_propagation_seconds = 300
    for role in (READER, EXTENSION_CONTRIBUTOR, CLUSTER_ADMIN):
        _grant(authorization, role)
    listed = authorization.role_assignments.list_for_scope(
        AKS, filter=f"principalId eq '{UAI_PRINCIPAL}'"
    )
    assert len(list(listed)) == 3  # listed at once
    with pytest.raises(TransientError) as raised:
        workspaces.attach(_attachment(WS_UAI, "k8s-prod"), ResourceId.parse(AKS))
    assert raised.value.reason == "PrerequisiteNotEffective"
    assert "not installed" in str(raised.value)
    assert "\n" not in str(raised.value)  # the service's message, not azure-ai-ml's rendering
    clock.advance(299)
    with pytest.raises(TransientError):
        workspaces.attach(_attachment(WS_UAI, "k8s-prod"), ResourceId.parse(AKS))
    clock.advance(1)
    state = workspaces.attach(_attachment(WS_UAI, "k8s-prod"), ResourceId.parse(AKS))
    assert state.provisioning_state == "Creating"


def test_where_attach_is_refused_at_once_no_cluster_admin_role_is_an_internal_server_error(
    arm: ArmDouble, tls: SandboxTls, world: World
) -> None:
    world.attach_failures = "refusal"
    for role in (READER, EXTENSION_CONTRIBUTOR):  # in the world from the start: in effect
        world.role_assignments[str(uuid.uuid4())] = RoleAssignment(
            AKS, f"{ROLES}/{role}", UAI_PRINCIPAL, str(uuid.uuid4())
        )
    put = _raw("PUT", _compute_url(arm, WS_UAI, "k8s-prod"), tls, compute_body(AKS))
    assert put.status_code == 500
    assert put.json()["error"]["code"] == "InternalServerError"
    assert world.compute(WS_UAI, "k8s-prod") is None


def test_a_system_assigned_workspace_needs_no_roles_on_the_cluster_to_attach(
    workspaces: AzureMLWorkspaces,
) -> None:
    state = workspaces.attach(_attachment(WS, "k8s-aks"), ResourceId.parse(AKS))
    assert state.provisioning_state == "Creating"


@pytest.mark.parametrize(
    "option",
    [
        "compute_attach_seconds",
        "compute_detach_seconds",
        "namespace_create_seconds",
        "role_propagation_seconds",
        "lro_retry_after_seconds",
    ],
)
def test_timing_options_are_read_from_the_world_file_and_checked(option: str) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data[option] = 7
    assert getattr(World.from_dict(data), option) == 7.0
    data[option] = -1
    with pytest.raises(WorldError, match=f"{option} must be a number >= 0"):
        World.from_dict(data)


def test_with_no_durations_attach_and_detach_settle_at_once(
    ml_for: MlFactory, workspaces: AzureMLWorkspaces, world: World
) -> None:
    world.compute_attach_seconds = 0
    world.compute_detach_seconds = 0
    state = workspaces.attach(_attachment(WS, "k8s-aks"), ResourceId.parse(AKS))
    # the operation's one status read says done: the adapter reads the compute, with its principal
    assert state.provisioning_state == "Succeeded" and state.principal_id
    assert ml_for("ws-research").compute.get("k8s-aks").provisioning_state == "Succeeded"
    workspaces.detach(ResourceId.parse(WS), "k8s-aks")
    assert world.compute(WS, "k8s-aks") is None
