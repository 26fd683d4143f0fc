"""Role assignments through AuthorizationManagementClient, with ARM's real error codes."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from sandbox.arm_authorization import holds_effective
from sandbox.clock import VirtualClock
from sandbox.world import World
from tests.double.arm_world import ACR, AKS, ARC, RG, STORAGE, SUB, UAI_PRINCIPAL

ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
ACR_PULL = f"{ROLES}/7f951dda-4ed3-4680-a7ca-43fe172d538d"
READER = f"{ROLES}/acdd72a7-3385-48ef-bd42-f606fba81ae7"
STRANGER = "99999999-9999-4999-8999-999999999999"


def _params(
    role: str, principal: str, principal_type: str | None = "ServicePrincipal"
) -> RoleAssignmentCreateParameters:
    return RoleAssignmentCreateParameters(
        role_definition_id=role,
        principal_id=principal,
        principal_type=principal_type,
        description="autoattach: AcrPull for compute k8s-aks",
    )


def test_create_get_list_and_delete_an_assignment(
    authorization: AuthorizationManagementClient, world: World
) -> None:
    name = str(uuid.uuid4())
    created = authorization.role_assignments.create(ACR, name, _params(ACR_PULL, UAI_PRINCIPAL))
    assert created.name == name
    assert created.principal_id == UAI_PRINCIPAL
    fetched = authorization.role_assignments.get(ACR, name)
    assert fetched.role_definition_id == ACR_PULL
    assert fetched.description == "autoattach: AcrPull for compute k8s-aks"
    assert fetched.scope == ACR
    listed = list(
        authorization.role_assignments.list_for_scope(
            ACR, filter=f"principalId eq '{UAI_PRINCIPAL}'"
        )
    )
    assert [a.name for a in listed] == [name]
    assert (
        list(
            authorization.role_assignments.list_for_scope(
                ACR, filter=f"principalId eq '{STRANGER}'"
            )
        )
        == []
    )
    assert world.snapshot()["role_assignments"] == [
        {
            "scope": ACR,
            "role_definition_id": ACR_PULL,
            "principal_id": UAI_PRINCIPAL,
            "name": name,
            "description": "autoattach: AcrPull for compute k8s-aks",
        }
    ]
    authorization.role_assignments.delete(ACR, name)
    with pytest.raises(ResourceNotFoundError):
        authorization.role_assignments.get(ACR, name)
    assert authorization.role_assignments.delete(ACR, name) is None  # 204, as ARM answers


def test_duplicate_scope_role_principal_is_409_role_assignment_exists(
    authorization: AuthorizationManagementClient,
) -> None:
    authorization.role_assignments.create(
        STORAGE, str(uuid.uuid4()), _params(READER, UAI_PRINCIPAL)
    )
    for name in (str(uuid.uuid4()), None):
        with pytest.raises(ResourceExistsError) as raised:
            if name is None:  # same name again, with the role id in other casing
                existing = next(iter(authorization.role_assignments.list_for_scope(STORAGE)))
                assert existing.name is not None
                authorization.role_assignments.create(
                    STORAGE.lower(), existing.name, _params(READER.upper(), UAI_PRINCIPAL)
                )
            else:
                authorization.role_assignments.create(STORAGE, name, _params(READER, UAI_PRINCIPAL))
        assert raised.value.error is not None
        assert raised.value.error.code == "RoleAssignmentExists"
        assert raised.value.status_code == 409


def test_same_name_other_principal_is_400_update_not_permitted(
    authorization: AuthorizationManagementClient,
) -> None:
    name = str(uuid.uuid4())
    authorization.role_assignments.create(AKS, name, _params(READER, UAI_PRINCIPAL))
    with pytest.raises(HttpResponseError) as raised:
        authorization.role_assignments.create(AKS, name, _params(READER, STRANGER))
    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "RoleAssignmentUpdateNotPermitted"


def test_unknown_principal_without_principal_type_is_principal_not_found(
    authorization: AuthorizationManagementClient,
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        authorization.role_assignments.create(
            ACR, str(uuid.uuid4()), _params(ACR_PULL, STRANGER, None)
        )
    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "PrincipalNotFound"
    created = authorization.role_assignments.create(
        ACR, str(uuid.uuid4()), _params(ACR_PULL, STRANGER)
    )
    assert created.principal_id == STRANGER


def test_list_for_scope_includes_assignments_above_the_scope(
    authorization: AuthorizationManagementClient,
) -> None:
    name = str(uuid.uuid4())
    authorization.role_assignments.create(RG, name, _params(READER, UAI_PRINCIPAL))
    assert [a.name for a in authorization.role_assignments.list_for_scope(ACR)] == [name]


def _names_for_principal(
    authorization: AuthorizationManagementClient, scope: str, principal: str = UAI_PRINCIPAL
) -> set[str]:
    listed = authorization.role_assignments.list_for_scope(
        scope, filter=f"principalId eq '{principal}'"
    )
    return {str(a.name) for a in listed}


def test_principal_filter_at_a_cluster_scope_returns_assignments_at_and_above_it(
    authorization: AuthorizationManagementClient,
) -> None:
    made: dict[str, str] = {}
    sibling = AKS + "-2"  # a name-prefix sibling: not a child of AKS
    for label, scope in {
        "cluster": AKS,
        "group": RG,
        "subscription": f"/subscriptions/{SUB}",
        "other-cluster": ARC,
        "prefix-sibling": sibling,
        "registry": ACR,
    }.items():
        name = str(uuid.uuid4())
        authorization.role_assignments.create(scope, name, _params(READER, UAI_PRINCIPAL))
        made[label] = name
    stranger = str(uuid.uuid4())
    authorization.role_assignments.create(AKS, stranger, _params(READER, STRANGER))
    assert _names_for_principal(authorization, AKS) == {
        made["cluster"],
        made["group"],
        made["subscription"],
    }
    assert _names_for_principal(authorization, ARC) == {
        made["other-cluster"],
        made["group"],
        made["subscription"],
    }
    assert _names_for_principal(authorization, AKS, STRANGER) == {stranger}


def test_principal_filter_also_returns_assignments_below_the_scope_as_arm_documents(
    authorization: AuthorizationManagementClient,
) -> None:
    # "principalId eq {id}": assignments at, above or below the scope for that principal
    # (Role Assignments - List For Scope, api 2022-04-01). atScope() drops "below".
    below = f"{AKS}/managedNamespaces/team-x"
    name = str(uuid.uuid4())
    authorization.role_assignments.create(below, name, _params(READER, UAI_PRINCIPAL))
    assert _names_for_principal(authorization, AKS) == {name}
    at_scope = authorization.role_assignments.list_for_scope(
        AKS, filter=f"atScope() and principalId eq '{UAI_PRINCIPAL}'"
    )
    assert list(at_scope) == []


def test_a_new_assignment_is_listed_at_once_but_takes_effect_only_after_propagation(
    authorization: AuthorizationManagementClient, world: World, clock: VirtualClock
) -> None:
    world.role_propagation_seconds = 120
    clock.advance(1000)
    authorization.role_assignments.create(AKS, str(uuid.uuid4()), _params(READER, UAI_PRINCIPAL))
    listed = authorization.role_assignments.list_for_scope(
        AKS, filter=f"principalId eq '{UAI_PRINCIPAL}'"
    )
    assert [a.role_definition_id for a in listed] == [READER]
    reader = READER.rsplit("/", 1)[-1]
    assert not holds_effective(world, AKS, UAI_PRINCIPAL, reader)
    clock.advance(119)
    assert not holds_effective(world, AKS, UAI_PRINCIPAL, reader)
    clock.advance(1)
    assert holds_effective(world, AKS, UAI_PRINCIPAL, reader)
    assert holds_effective(world, f"{AKS}/namespaces/team-x", UAI_PRINCIPAL, reader)  # below
    assert not holds_effective(world, STORAGE, UAI_PRINCIPAL, reader)


def test_assignments_from_the_world_file_are_in_effect_from_the_start() -> None:
    data = {
        "role_assignments": [
            {"scope": RG, "role_definition_id": READER, "principal_id": UAI_PRINCIPAL}
        ]
    }
    loaded = World.from_dict(data)
    assert holds_effective(loaded, AKS, UAI_PRINCIPAL, READER.rsplit("/", 1)[-1])
