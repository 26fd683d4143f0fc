"""ARM authorizes every request against the caller's role assignments (Azure RBAC), when the world
says ``arm_authorization: true``: the action a request needs, the scope it is held at, custom
roles' wildcards and notActions, the ABAC condition autoattach's infra puts on its role delegator,
and long-running operation status reads held at the resource group (sandbox/arm_rbac.py)."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from console.doctor.grants import CLUSTER_GRANTABLE, DATA_GRANTABLE, condition_for
from sandbox.arm_double import ArmDouble
from sandbox.arm_rbac import (
    ConditionError,
    action_matches,
    action_of,
    condition_holds,
    parse_condition,
)
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, AKS_PLAIN, BASE_WORLD, RG, SUB, WS, compute_body

APP = "5e1f0c3a-9a7e-4b1d-8c2f-6d3a1b0e9f41"  # autoattach's identity (the world's autoattach)
OTHER = "9a9a9a9a-0000-4000-8000-000000000001"  # a managed identity autoattach grants roles to
SUB_SCOPE = f"/subscriptions/{SUB}"
OTHER_RG = f"/subscriptions/{SUB}/resourceGroups/rg-elsewhere"
ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
ML_WILDCARD = "6d5c1e2a-0000-4000-8000-0000000000c1"
DELEGATOR = "6d5c1e2a-0000-4000-8000-0000000000c2"
COMPUTE_OPERATOR = "6d5c1e2a-0000-4000-8000-0000000000c3"
CLUSTER_OPERATOR = "6d5c1e2a-0000-4000-8000-0000000000c4"
ML_API = "2024-10-01"
AKS_API = "2026-05-01"
DETACH = "underlyingResourceAction=Detach"
INFRA_CONDITION = (
    Path(__file__).resolve().parents[2] / "infra" / "abac" / "rbac-admin-condition.txt"
)

CUSTOM_ROLES = [
    {
        "id": f"{ROLES}/{ML_WILDCARD}",
        "role_name": "ml everything but detach",
        "actions": ["Microsoft.MachineLearningServices/workspaces/*"],
        "not_actions": ["Microsoft.MachineLearningServices/workspaces/computes/delete"],
    },
    {
        "id": f"{ROLES}/{DELEGATOR}",
        "role_name": "role delegator",
        "actions": [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
        ],
    },
    {
        "id": f"{ROLES}/{COMPUTE_OPERATOR}",
        "role_name": "compute operator",
        "actions": [
            "Microsoft.MachineLearningServices/workspaces/read",
            "Microsoft.MachineLearningServices/workspaces/computes/read",
            "Microsoft.MachineLearningServices/workspaces/computes/write",
            "Microsoft.MachineLearningServices/workspaces/computes/delete",
            "Microsoft.MachineLearningServices/locations/computeOperationsStatus/read",
        ],
    },
    {
        "id": f"{ROLES}/{CLUSTER_OPERATOR}",
        "role_name": "cluster operator",
        "actions": [
            "Microsoft.ContainerService/managedClusters/read",
            "Microsoft.KubernetesConfiguration/extensions/read",
            "Microsoft.KubernetesConfiguration/extensions/write",
            "Microsoft.KubernetesConfiguration/extensions/operations/read",
        ],
    },
]


def grant(scope: str, role: str, principal: str = APP, condition: str | None = None) -> dict:
    entry: dict[str, Any] = {
        "scope": scope,
        "role_definition_id": f"{ROLES}/{role}",
        "principal_id": principal,
        "principal_type": "ServicePrincipal",
    }
    if condition is not None:
        entry["condition"] = condition
    return entry


Serve = Callable[..., ArmDouble]


@pytest.fixture
def serve(arm_server: ArmDouble) -> Iterator[Serve]:
    """``serve(grant(...), ...)``: the session's double serving the base world with RBAC enforced
    and exactly these role assignments (plus the world's own)."""

    def start(*grants: dict, **options: Any) -> ArmDouble:
        document = copy.deepcopy(BASE_WORLD)
        document.update(
            arm_authorization=True,
            autoattach={"resource_group": f"{SUB_SCOPE}/resourceGroups/rg-aa", "principal_id": APP},
            role_definitions=CUSTOM_ROLES,
            role_assignments=[*document["role_assignments"], *grants],
            principals=[OTHER],
        )
        document.update(options)
        arm_server.use(World.from_dict(document), VirtualClock())
        return arm_server

    yield start
    arm_server.use(World(), VirtualClock())


def call(
    arm: ArmDouble,
    tls: SandboxTls,
    method: str,
    path: str,
    body: Any = None,
    api: str = ML_API,
    token: str = "sandbox",
) -> requests.Response:
    """One request as autoattach sends it (the sandbox's opaque token), no SDK retries."""
    joined = f"{path}{'&' if '?' in path else '?'}api-version={api}"
    url = path if path.startswith("https://") else f"{arm.base_url}{joined}"
    return requests.request(
        method,
        url,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(tls.ca_bundle),
        timeout=10,
    )


def jwt_for(oid: str) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"oid": oid}).encode()).decode().rstrip("=")
    return f"header.{claims}.signature"


def refused(response: requests.Response, action: str, scope: str) -> bool:
    error = response.json()["error"]
    return (
        response.status_code == 403
        and error["code"] == "AuthorizationFailed"
        and f"perform action '{action}' over scope '{scope}' or the scope is invalid"
        in error["message"]
    )


# ---- the action and the scope ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("GET", AKS, "Microsoft.ContainerService/managedClusters/read"),
        (
            "PUT",
            f"{AKS}/managedNamespaces/team-x",
            "Microsoft.ContainerService/managedClusters/managedNamespaces/write",
        ),
        (
            "GET",
            f"{AKS}/providers/Microsoft.KubernetesConfiguration/extensions",
            "Microsoft.KubernetesConfiguration/extensions/read",
        ),
        (
            "DELETE",
            f"{WS}/computes/k8s",
            "Microsoft.MachineLearningServices/workspaces/computes/delete",
        ),
        (
            "PUT",
            f"{WS}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            "Microsoft.Authorization/roleAssignments/write",
        ),
        ("GET", f"{SUB_SCOPE}/resources", "Microsoft.Resources/subscriptions/resources/read"),
        (
            "GET",
            f"{RG}/resources",
            "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
        ),
        (
            "POST",
            f"{AKS}/listClusterUserCredential",
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
        ),
        (
            "GET",
            f"{SUB_SCOPE}/providers/Microsoft.MachineLearningServices/locations/westeurope"
            "/computeOperationsStatus/abc",
            "Microsoft.MachineLearningServices/locations/computeOperationsStatus/read",
        ),
    ],
)
def test_each_request_needs_the_action_of_its_method_on_its_resource_type(
    method: str, path: str, action: str
) -> None:
    assert action_of(method, path) == action


def test_actions_match_with_arm_wildcards_and_without_case() -> None:
    assert action_matches("*/read", "Microsoft.ContainerService/managedClusters/read")
    assert action_matches("microsoft.containerservice/*", "Microsoft.ContainerService/a/b/write")
    identities = "Microsoft.ManagedIdentity/userAssignedIdentities"
    # Managed Identity Operator reads and assigns identities through "/*/" patterns
    assert action_matches(f"{identities}/*/read", f"{identities}/read")
    assert action_matches(f"{identities}/*/assign/action", f"{identities}/assign/action")
    assert action_matches(f"{identities}/*/read", f"{identities}/federatedIdentityCredentials/read")
    assert not action_matches(f"{identities}/*/read", f"{identities}/write")
    assert not action_matches("*/read", "Microsoft.ContainerService/managedClusters/write")
    assert not action_matches(
        "Microsoft.ContainerService/managedClusters/read",
        "Microsoft.ContainerService/managedClusters/managedNamespaces/read",
    )


def test_a_request_with_no_grant_is_refused_naming_the_action_and_the_scope(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve()
    response = call(arm, tls, "GET", AKS, api=AKS_API)
    assert refused(response, "Microsoft.ContainerService/managedClusters/read", AKS)
    assert f"The client '{APP}' with object id '{APP}'" in response.json()["error"]["message"]
    assert arm.world.cluster(AKS) is not None  # nothing else changed


def test_the_bearer_tokens_object_id_is_the_caller_and_its_own_grants_count(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(RG, READER))  # autoattach may read; OTHER may not
    other = call(arm, tls, "GET", AKS, api=AKS_API, token=jwt_for(OTHER))
    assert refused(other, "Microsoft.ContainerService/managedClusters/read", AKS)
    assert f"The client '{OTHER}'" in other.json()["error"]["message"]
    assert call(arm, tls, "GET", AKS, api=AKS_API).status_code == 200


def test_a_grant_at_the_resource_group_covers_a_resource_in_it_and_no_other_group(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(RG, READER), grant(OTHER_RG, OWNER))
    assert call(arm, tls, "GET", AKS, api=AKS_API).status_code == 200
    assert call(arm, tls, "GET", WS).status_code == 200
    elsewhere = f"{OTHER_RG}/providers/Microsoft.ContainerService/managedClusters/aks-x"
    response = call(arm, tls, "GET", elsewhere, api=AKS_API)
    # Owner is not a modelled built-in role: it grants nothing here (sandbox/README.md)
    assert refused(response, "Microsoft.ContainerService/managedClusters/read", elsewhere)


def test_a_grant_on_one_resource_does_not_cover_its_sibling(serve: Serve, tls: SandboxTls) -> None:
    arm = serve(grant(AKS, READER))
    assert call(arm, tls, "GET", AKS, api=AKS_API).status_code == 200
    response = call(arm, tls, "GET", AKS_PLAIN, api=AKS_API)
    assert refused(response, "Microsoft.ContainerService/managedClusters/read", AKS_PLAIN)


def test_a_custom_roles_wildcard_grants_and_its_not_actions_take_away(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(WS, ML_WILDCARD))
    assert call(arm, tls, "GET", WS).status_code == 200
    assert call(arm, tls, "GET", f"{WS}/computes/by-hand").status_code == 200
    response = call(arm, tls, "DELETE", f"{WS}/computes/by-hand?{DETACH}")
    assert refused(
        response,
        "Microsoft.MachineLearningServices/workspaces/computes/delete",
        f"{WS}/computes/by-hand",
    )
    assert arm.world.compute(WS, "by-hand") is not None


def test_another_assignment_grants_what_one_roles_not_actions_took_away(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(WS, ML_WILDCARD), grant(RG, COMPUTE_OPERATOR))
    assert call(arm, tls, "DELETE", f"{WS}/computes/by-hand?{DETACH}").status_code in (200, 202)


def test_an_assignment_counts_only_once_it_has_propagated(serve: Serve, tls: SandboxTls) -> None:
    arm = serve(grant(RG, DELEGATOR), role_propagation_seconds=300)
    path = f"{RG}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    body = {
        "properties": {
            "roleDefinitionId": f"{ROLES}/{READER}",
            "principalId": APP,
            "principalType": "ServicePrincipal",
        }
    }
    assert call(arm, tls, "PUT", path, body, api="2022-04-01").status_code == 201
    before = call(arm, tls, "GET", AKS, api=AKS_API)
    assert refused(before, "Microsoft.ContainerService/managedClusters/read", AKS)
    arm.clock.advance_to(arm.clock.seconds() + 300)
    assert call(arm, tls, "GET", AKS, api=AKS_API).status_code == 200


# ---- ABAC conditions on role assignment writes and deletes -----------------------------------


@pytest.fixture
def authorization(arm_server: ArmDouble, tls: SandboxTls) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(
        SandboxCredential(), SUB, base_url=arm_server.base_url, connection_verify=str(tls.ca_bundle)
    )


def assign(
    client: AuthorizationManagementClient, scope: str, role: str, principal: str = OTHER
) -> Any:
    return client.role_assignments.create(
        scope,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=f"{ROLES}/{role}",
            principal_id=principal,
            principal_type="ServicePrincipal",
        ),
    )


def test_the_infra_condition_parses_and_limits_only_role_assignment_writes_and_deletes() -> None:
    condition = parse_condition(condition_for(DATA_GRANTABLE, APP))
    assert parse_condition(INFRA_CONDITION.read_text()) is not None  # the template's grammar
    allowed = {"role": ACR_PULL, "principal": OTHER, "principal_type": "ServicePrincipal"}
    write = "Microsoft.Authorization/roleAssignments/write"
    assert condition_holds(condition, write, {"request": allowed})
    assert not condition_holds(condition, write, {"request": {**allowed, "role": READER}})
    assert not condition_holds(condition, write, {"request": {**allowed, "principal": APP}})
    assert not condition_holds(condition, write, {"request": {**allowed, "principal_type": "User"}})
    assert not condition_holds(condition, write, {"request": {"role": ACR_PULL}})  # no type sent
    assert condition_holds(condition, "Microsoft.Authorization/roleAssignments/read", {})


def test_a_condition_outside_the_grammar_is_not_read() -> None:
    for text in (
        "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] "
        "StringEquals 'logs'",
        "( !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) ",
        "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] GuidIn {x}",
    ):
        with pytest.raises(ConditionError):
            parse_condition(text)


def test_a_role_assignment_write_inside_the_condition_is_allowed_and_outside_it_refused(
    serve: Serve, authorization: AuthorizationManagementClient
) -> None:
    arm = serve(grant(RG, DELEGATOR, condition=condition_for(DATA_GRANTABLE, APP)))
    made = assign(authorization, RG, ACR_PULL)
    assert made.principal_id == OTHER
    for role, principal in ((READER, OTHER), (ACR_PULL, APP)):
        with pytest.raises(HttpResponseError) as error:
            assign(authorization, RG, role, principal)
        assert error.value.status_code == 403
        assert error.value.error is not None and error.value.error.code == "AuthorizationFailed"
        assert (
            "does not have authorization or an ABAC condition not fulfilled to perform action "
            "'Microsoft.Authorization/roleAssignments/write' over scope "
            f"'{RG}/providers/Microsoft.Authorization/roleAssignments/" in str(error.value)
        )
    assert len(arm.world.role_assignments) == 2  # the delegator's own grant and the AcrPull


def test_a_role_assignment_delete_is_held_to_the_assignment_it_removes(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(
        grant(SUB_SCOPE, DELEGATOR, condition=condition_for(CLUSTER_GRANTABLE, APP)),
        {**grant(AKS, READER, OTHER), "name": "11111111-0000-4000-8000-00000000000a"},
        {**grant(AKS, ACR_PULL, OTHER), "name": "11111111-0000-4000-8000-00000000000b"},
    )
    roles = f"{AKS}/providers/Microsoft.Authorization/roleAssignments"
    denied = call(
        arm, tls, "DELETE", f"{roles}/11111111-0000-4000-8000-00000000000b", api="2022-04-01"
    )
    assert refused(
        denied,
        "Microsoft.Authorization/roleAssignments/delete",
        f"{roles}/11111111-0000-4000-8000-00000000000b",
    )
    removed = call(
        arm, tls, "DELETE", f"{roles}/11111111-0000-4000-8000-00000000000a", api="2022-04-01"
    )
    assert removed.status_code == 200


def _clause(action: str) -> Callable[[str], str]:
    return lambda expression: f"(!(ActionMatches{{'{action}'}})) OR ({expression})"


WRITE_CLAUSE = _clause("Microsoft.Authorization/roleAssignments/write")
DELETE_CLAUSE = _clause("Microsoft.Authorization/roleAssignments/delete")
ROLE_ATTRIBUTE = "[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"
TYPE_ATTRIBUTE = "[Microsoft.Authorization/roleAssignments:PrincipalType]"


@pytest.mark.parametrize(
    "operator",
    [
        f"GuidEquals '{READER}'",
        f"GuidNotEquals '{READER}'",
        f"ForAnyOfAnyValues:GuidEquals {{{READER}, {ACR_PULL}}}",
        f"ForAnyOfAllValues:GuidNotEquals {{{READER}}}",
    ],
)
def test_every_documented_guid_operator_is_read_for_role_and_principal(operator: str) -> None:
    parse_condition(WRITE_CLAUSE(f"@Request{ROLE_ATTRIBUTE} {operator}"))
    parse_condition(DELETE_CLAUSE(f"@Resource{ROLE_ATTRIBUTE} {operator}"))


@pytest.mark.parametrize(
    "operator",
    [
        "StringEqualsIgnoreCase 'ServicePrincipal'",
        "StringNotEqualsIgnoreCase 'User'",
        "ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal', 'Group'}",
        "ForAnyOfAnyValues:StringNotEqualsIgnoreCase {'User'}",
    ],
)
def test_every_documented_principal_type_operator_is_read(operator: str) -> None:
    parse_condition(WRITE_CLAUSE(f"@Request{TYPE_ATTRIBUTE} {operator}"))


@pytest.mark.parametrize(
    "condition",
    [
        # an operator the attribute is not offered with
        WRITE_CLAUSE(f"@Request{ROLE_ATTRIBUTE} StringEquals '{READER}'"),
        WRITE_CLAUSE(f"@Request{ROLE_ATTRIBUTE} ForAllOfAnyValues:GuidEquals {{{READER}}}"),
        WRITE_CLAUSE(f"@Request{TYPE_ATTRIBUTE} StringEquals 'ServicePrincipal'"),
        WRITE_CLAUSE(f"@Request{TYPE_ATTRIBUTE} GuidEquals '{READER}'"),
        # the wrong source for the action: a write has no @Resource, a delete no @Request
        WRITE_CLAUSE(f"@Resource{ROLE_ATTRIBUTE} GuidEquals '{READER}'"),
        DELETE_CLAUSE(f"@Request{ROLE_ATTRIBUTE} GuidEquals '{READER}'"),
        # an attribute role assignments do not offer, an action they are not
        WRITE_CLAUSE("@Request[Microsoft.Authorization/roleAssignments:Scope] GuidEquals 'x'"),
        "(!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}))"
        f" OR (@Request{ROLE_ATTRIBUTE} GuidEquals '{READER}')",
    ],
)
def test_a_condition_azure_does_not_offer_for_role_assignments_is_refused(condition: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(condition)


def test_a_role_assignment_put_with_a_condition_azure_would_refuse_gets_400(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(RG, DELEGATOR))
    path = f"{RG}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    bad = WRITE_CLAUSE(f"@Resource{ROLE_ATTRIBUTE} GuidEquals '{READER}'")
    body = {
        "properties": {
            "roleDefinitionId": f"{ROLES}/{DELEGATOR}",
            "principalId": OTHER,
            "principalType": "ServicePrincipal",
            "condition": bad,
            "conditionVersion": "2.0",
        }
    }
    response = call(arm, tls, "PUT", path, body, api="2022-04-01")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The given role assignment condition is invalid."
    body["properties"]["condition"] = condition_for(DATA_GRANTABLE, APP)
    body["properties"]["conditionVersion"] = "1.0"
    assert call(arm, tls, "PUT", path, body, api="2022-04-01").status_code == 400
    assert not [a for a in arm.world.role_assignments.values() if a.principal_id == OTHER]


def test_a_condition_sent_with_a_role_assignment_is_kept_and_limits_what_it_grants(
    serve: Serve, tls: SandboxTls, authorization: AuthorizationManagementClient
) -> None:
    arm = serve(grant(RG, DELEGATOR))  # autoattach may delegate anything here, unconditionally
    condition = condition_for(DATA_GRANTABLE, OTHER)
    made = authorization.role_assignments.create(
        RG,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=f"{ROLES}/{DELEGATOR}",
            principal_id=OTHER,
            principal_type="ServicePrincipal",
            condition=condition,
            condition_version="2.0",
        ),
    )
    assert made.condition == condition
    stored = [a for a in arm.world.role_assignments.values() if a.principal_id == OTHER]
    assert [a.condition for a in stored] == [condition]
    arm.clock.advance_to(arm.clock.seconds() + 600)  # role propagation
    third = "9a9a9a9a-0000-4000-8000-000000000003"

    def assigned_by_other(role: str, principal: str) -> requests.Response:
        path = f"{RG}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        body = {
            "properties": {
                "roleDefinitionId": f"{ROLES}/{role}",
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }
        }
        return call(arm, tls, "PUT", path, body, api="2022-04-01", token=jwt_for(OTHER))

    assert assigned_by_other(ACR_PULL, third).status_code == 201
    assert assigned_by_other(READER, third).status_code == 403  # a role the condition leaves out
    assert assigned_by_other(ACR_PULL, OTHER).status_code == 403  # to itself


def test_an_unreadable_condition_grants_nothing(
    serve: Serve, authorization: AuthorizationManagementClient
) -> None:
    serve(grant(RG, DELEGATOR, condition="@Request[Microsoft.Foo:Bar] StringEquals 'x'"))
    with pytest.raises(HttpResponseError) as error:
        assign(authorization, RG, ACR_PULL)
    assert error.value.status_code == 403


# ---- long-running operation status reads -----------------------------------------------------


def test_an_ml_status_read_needs_the_location_read_at_the_resource_group_not_at_the_resource(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(WS, COMPUTE_OPERATOR))  # the compute operator, on the workspace only
    put = call(arm, tls, "PUT", f"{WS}/computes/k8s-rbac", compute_body())
    assert put.status_code == 201
    status_url = put.headers["Azure-AsyncOperation"]
    status_path = status_url.split("?")[0].removeprefix(arm.base_url)
    assert status_path.startswith(
        f"{SUB_SCOPE}/providers/Microsoft.MachineLearningServices/locations/westeurope"
        "/computeOperationsStatus/"
    )
    response = call(arm, tls, "GET", status_url)
    assert refused(
        response,
        "Microsoft.MachineLearningServices/locations/computeOperationsStatus/read",
        status_path,
    )
    assert arm.log[-1].kind == "polls"  # refused or not, a status read counts as a poll

    arm = serve(grant(RG, COMPUTE_OPERATOR))  # the same role at the workspace's resource group
    put = call(arm, tls, "PUT", f"{WS}/computes/k8s-rbac", compute_body())
    assert call(arm, tls, "GET", put.headers["Azure-AsyncOperation"]).status_code == 200


def test_an_extension_install_is_polled_at_the_extension_itself(
    serve: Serve, tls: SandboxTls
) -> None:
    arm = serve(grant(SUB_SCOPE, CLUSTER_OPERATOR))
    extension = f"{AKS_PLAIN}/providers/Microsoft.KubernetesConfiguration/extensions/azureml2"
    body = {
        "properties": {
            "extensionType": "Microsoft.AzureML.Kubernetes",
            "configurationSettings": {"enableTraining": "true"},
        },
        "identity": {"type": "SystemAssigned"},
    }
    put = call(arm, tls, "PUT", extension, body, api="2023-05-01")
    assert put.status_code in (200, 201), put.text
    status_url = put.headers["Azure-AsyncOperation"]
    assert (
        status_url.split("?")[0].removeprefix(arm.base_url).startswith(f"{extension}/operations/")
    )
    assert call(arm, tls, "GET", status_url).status_code == 200
    assert arm.log[-1].kind == "polls"


def test_an_aks_namespace_write_is_polled_at_container_services_location_operations(
    serve: Serve, tls: SandboxTls
) -> None:
    operator = {
        "id": f"{ROLES}/6d5c1e2a-0000-4000-8000-0000000000c5",
        "role_name": "namespaces",
        "actions": [
            "Microsoft.ContainerService/managedClusters/managedNamespaces/*",
            "Microsoft.ContainerService/locations/operations/read",
        ],
    }
    arm = serve(
        grant(RG, "6d5c1e2a-0000-4000-8000-0000000000c5"),
        role_definitions=[*CUSTOM_ROLES, operator],
    )
    body = {"location": "westeurope", "properties": {"adoptionPolicy": "IfIdentical"}}
    put = call(arm, tls, "PUT", f"{AKS}/managedNamespaces/team-y", body, api=AKS_API)
    assert put.status_code in (200, 201), put.text
    status_url = put.headers["Azure-AsyncOperation"]
    assert (
        status_url.split("?")[0]
        .removeprefix(arm.base_url)
        .startswith(
            f"{SUB_SCOPE}/providers/Microsoft.ContainerService/locations/westeurope/operations/"
        )
    )
    assert call(arm, tls, "GET", status_url).status_code == 200


# ---- the switch --------------------------------------------------------------------------------


def test_arm_authorization_is_off_unless_the_world_says_true() -> None:
    assert World.from_dict(copy.deepcopy(BASE_WORLD)).arm_authorization is False
    with pytest.raises(WorldError, match="arm_authorization must be true or false"):
        World.from_dict({**copy.deepcopy(BASE_WORLD), "arm_authorization": "yes"})
