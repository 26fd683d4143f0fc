"""A connection dropped mid-request: before ARM applies the write, or after (the write is done,
the client never hears). The real SDK sees a connection error either way."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from sandbox.arm_double import ArmDouble
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import World
from tests.double.arm_world import ACR, SUB, UAI_PRINCIPAL

ACR_PULL = (
    f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
    "7f951dda-4ed3-4680-a7ca-43fe172d538d"
)


def _client(arm: ArmDouble, tls: SandboxTls) -> AuthorizationManagementClient:
    # No SDK retries: the test sees the dropped connection itself.
    return AuthorizationManagementClient(
        SandboxCredential(),
        SUB,
        base_url=arm.base_url,
        connection_verify=str(tls.ca_bundle),
        retry_total=0,
    )


def _grant(client: AuthorizationManagementClient, name: str) -> None:
    client.role_assignments.create(
        ACR,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=ACR_PULL,
            principal_id=UAI_PRINCIPAL,
            principal_type="ServicePrincipal",
        ),
    )


def _names(world: World) -> list[str]:
    return [a["name"] for a in world.snapshot()["role_assignments"]]


def test_a_connection_dropped_after_the_write_leaves_it_applied_though_the_client_sees_an_error(
    arm: ArmDouble, tls: SandboxTls, world: World
) -> None:
    name = str(uuid.uuid4())
    arm.inject_drop("PUT", "/roleAssignments/", after_apply=True)
    with pytest.raises(ServiceResponseError):
        _grant(_client(arm, tls), name)
    assert name in _names(world)


def test_a_connection_dropped_before_the_write_applies_nothing(
    arm: ArmDouble, tls: SandboxTls, world: World
) -> None:
    name = str(uuid.uuid4())
    arm.inject_drop("PUT", "/roleAssignments/", after_apply=False)
    with pytest.raises(ServiceResponseError):
        _grant(_client(arm, tls), name)
    assert name not in _names(world)
    _grant(_client(arm, tls), name)  # the drop was used up: the next call goes through
    assert name in _names(world)
