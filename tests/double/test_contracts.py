"""Every ARM request is checked against the published Bicep types (sandbox/azure_types), both ways.

A request body that does not fit is refused as ARM refuses it (400, ARM's error envelope naming
the property); an api-version the data does not know is 400 NoRegisteredProviderFound; a response
body of the double that does not fit is recorded as the double's own violation.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension, Identity
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.contracts import (
    REQUEST,
    RESPONSE,
    ArmContracts,
    TypeIndex,
    target_of,
    validate,
)
from sandbox.tls import SandboxTls
from tests.double.arm_world import ACR, AKS, SUB, UAI_PRINCIPAL, WS

ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
ACR_PULL = f"{ROLES}/7f951dda-4ed3-4680-a7ca-43fe172d538d"
ASSIGNMENTS = "Microsoft.Authorization/roleAssignments@2022-04-01"
COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes@2024-10-01"


@pytest.fixture(scope="module")
def index() -> TypeIndex:
    return TypeIndex.default()


def _assignment_url(arm: ArmDouble, name: str | None = None) -> str:
    name = name or str(uuid.uuid4())
    return (
        f"{arm.base_url}{ACR}/providers/Microsoft.Authorization/roleAssignments/{name}"
        "?api-version=2022-04-01"
    )


def _put(arm: ArmDouble, tls: SandboxTls, url: str, body: Any) -> requests.Response:
    return requests.put(
        url,
        data=json.dumps(body),
        headers={"Authorization": "Bearer sandbox", "Content-Type": "application/json"},
        verify=str(tls.ca_bundle),
        timeout=10,
    )


def _properties(**extra: Any) -> dict[str, Any]:
    return {
        "roleDefinitionId": ACR_PULL,
        "principalId": UAI_PRINCIPAL,
        "principalType": "ServicePrincipal",
        **extra,
    }


# ---- the type data --------------------------------------------------------------------------


def test_the_index_finds_resource_types_and_child_types_case_insensitively(
    index: TypeIndex,
) -> None:
    namespaces = index.resource(
        "microsoft.containerservice/MANAGEDCLUSTERS/managedNamespaces", "2026-05-01"
    )
    assert namespaces is not None
    assert namespaces.name == "Microsoft.ContainerService/managedClusters/managedNamespaces"
    assert namespaces.body["$type"] == "ObjectType"
    assert index.resource("Microsoft.KubernetesConfiguration/extensions@2023-05-01") is not None
    assert index.resource("Microsoft.ContainerService/managedClusters", "2019-01-01") is None
    assert "2026-05-01" in index.versions("Microsoft.ContainerService/managedClusters")


def test_a_path_names_its_resource_type_with_the_last_provider_segment() -> None:
    assignment = target_of(f"{ACR}/providers/Microsoft.Authorization/roleAssignments/x")
    assert assignment is not None
    assert assignment.type_name == "Microsoft.Authorization/roleAssignments"
    assert assignment.item
    computes = target_of(f"{WS}/computes")
    assert computes is not None
    assert computes.type_name == "Microsoft.MachineLearningServices/workspaces/computes"
    assert not computes.item
    assert target_of(f"/subscriptions/{SUB}/resources") is None


def test_a_valid_role_assignment_body_has_no_problems_and_read_only_properties_are_ignored(
    index: TypeIndex,
) -> None:
    resource = index.resource(ASSIGNMENTS)
    assert resource is not None
    body = {
        "id": "/x",
        "name": "n",
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": _properties(scope="/x", createdOn="2026-01-01T00:00:00Z"),
    }
    assert validate(resource, body, REQUEST) == []


def test_property_names_match_case_insensitively(index: TypeIndex) -> None:
    resource = index.resource(ASSIGNMENTS)
    assert resource is not None
    body = {"Properties": {"ROLEDEFINITIONID": ACR_PULL, "principalid": UAI_PRINCIPAL}}
    assert validate(resource, body, REQUEST) == []


def test_the_validator_names_unknown_wrong_enum_wrong_type_and_missing_properties(
    index: TypeIndex,
) -> None:
    extensions = index.resource("Microsoft.KubernetesConfiguration/extensions@2023-05-01")
    assert extensions is not None
    body = {
        "identity": {"type": "Robot"},
        "properties": {"autoUpgradeMinorVersion": "yes", "colour": "blue"},
    }
    found = {(p.path, p.kind) for p in validate(extensions, body, REQUEST)}
    assert found == {
        ("identity.type", "invalid-value"),
        ("properties.autoUpgradeMinorVersion", "wrong-type"),
        ("properties.colour", "unknown-property"),
    }
    assignments = index.resource(ASSIGNMENTS)
    assert assignments is not None
    found = {(p.path, p.kind) for p in validate(assignments, {"properties": {}}, REQUEST)}
    assert found == {
        ("properties.roleDefinitionId", "missing-required"),
        ("properties.principalId", "missing-required"),
    }


def test_an_open_enum_takes_any_string_and_a_closed_one_only_its_values_in_any_casing(
    index: TypeIndex,
) -> None:
    assignments = index.resource(ASSIGNMENTS)
    extensions = index.resource("Microsoft.KubernetesConfiguration/extensions@2023-05-01")
    assert assignments is not None and extensions is not None
    # principalType is a union of literals *and* string in the data (an extensible enum)
    assert validate(assignments, {"properties": _properties(principalType="Robot")}, REQUEST) == []
    closed = {"properties": {"aksAssignedIdentity": {"type": "userassigned"}}}
    assert validate(extensions, closed, REQUEST) == []
    closed = {"properties": {"aksAssignedIdentity": {"type": "Robot"}}}
    found = validate(extensions, closed, REQUEST)
    assert [(p.path, p.kind) for p in found] == [
        ("properties.aksAssignedIdentity.type", "invalid-value")
    ]
    assert "'SystemAssigned', 'UserAssigned'" in found[0].message


def test_a_patch_body_need_not_repeat_required_properties(index: TypeIndex) -> None:
    resource = index.resource(ASSIGNMENTS)
    assert resource is not None
    assert validate(resource, {"properties": {"description": "d"}}, REQUEST, partial=True) == []


def test_a_response_may_carry_read_only_properties_but_not_write_only_ones(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo" / "microsoft.demo" / "2024-01-01"
    folder.mkdir(parents=True)
    nodes = [
        {"$type": "StringType"},
        {
            "$type": "ObjectType",
            "name": "Microsoft.Demo/things",
            "properties": {
                "name": {"type": {"$ref": "#/0"}, "flags": 9},
                "state": {"type": {"$ref": "#/0"}, "flags": 2},
                "secret": {"type": {"$ref": "#/0"}, "flags": 4},
            },
        },
        {
            "$type": "ResourceType",
            "name": "Microsoft.Demo/things@2024-01-01",
            "body": {"$ref": "#/1"},
        },
    ]
    (folder / "types.json").write_text(json.dumps(nodes))
    things = TypeIndex(tmp_path).resource("microsoft.demo/THINGS", "2024-01-01")
    assert things is not None
    assert validate(things, {"state": "Ready", "secret": "s"}, REQUEST) == []
    found = validate(things, {"name": "a", "state": "Ready", "secret": "s"}, RESPONSE)
    assert [(p.path, p.kind) for p in found] == [("secret", "write-only-returned")]
    assert [(p.path, p.kind) for p in validate(things, {}, RESPONSE)] == [
        ("name", "missing-required")
    ]


def test_a_discriminated_compute_is_checked_against_the_element_its_compute_type_names(
    index: TypeIndex,
) -> None:
    computes = index.resource(COMPUTES)
    assert computes is not None
    kubernetes = {
        "computeType": "Kubernetes",
        "resourceId": AKS,
        "properties": {"namespace": "team-a"},
    }
    assert validate(computes, {"properties": kubernetes}, REQUEST) == []
    aks_only = {**kubernetes, "properties": {"agentCount": 3}}
    found = [(p.path, p.kind) for p in validate(computes, {"properties": aks_only}, REQUEST)]
    assert found == [("properties.properties.agentCount", "unknown-property")]
    bogus = {**kubernetes, "computeType": "Mainframe"}
    found = [(p.path, p.kind) for p in validate(computes, {"properties": bogus}, REQUEST)]
    assert found == [("properties.computeType", "invalid-value")]


def test_a_response_violation_is_recorded_as_the_doubles_own(index: TypeIndex) -> None:
    contracts = ArmContracts(index)
    path = f"{ACR}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    bad = {
        "id": path,
        "name": "x",
        "type": ASSIGNMENTS.split("@")[0],
        "properties": {"principalId": 7, "odd": True},
    }
    contracts.check_response("GET", path, "2022-04-01", 200, bad)
    listing = {"value": [bad], "count": 1}
    contracts.check_response("GET", path.rsplit("/", 1)[0], "2022-04-01", 200, listing)
    summary = contracts.summary()
    assert summary["checked"] == 2
    assert summary["typed"] == 2
    assert {(v["side"], v["direction"], v["property"]) for v in summary["violations"]} == {
        ("double", RESPONSE, "properties.principalId"),
        ("double", RESPONSE, "properties.odd"),
        ("double", RESPONSE, "properties.roleDefinitionId"),
        ("double", RESPONSE, "count"),
        ("double", RESPONSE, "value[0].properties.principalId"),
        ("double", RESPONSE, "value[0].properties.odd"),
        ("double", RESPONSE, "value[0].properties.roleDefinitionId"),
    }
    violation = summary["violations"][0]
    assert violation["method"] == "GET"
    assert violation["api_version"] == "2022-04-01"


def test_an_error_response_must_have_arms_envelope(index: TypeIndex) -> None:
    contracts = ArmContracts(index)
    contracts.check_response("GET", "/subscriptions/s/resources", "2025-04-01", 500, {"oops": 1})
    contracts.check_response("GET", "/subscriptions/s/resources", "2025-04-01", 404, None)
    summary = contracts.summary()
    assert summary["checked"] == 2
    assert summary["not_applicable"] == 2
    assert [v["property"] for v in summary["violations"]] == ["error"]


# ---- through the double, with the real SDK where it can send the mistake ----------------------


def test_an_unknown_property_in_a_put_body_is_refused_naming_it(
    arm: ArmDouble, tls: SandboxTls
) -> None:
    response = _put(arm, tls, _assignment_url(arm), {"properties": _properties(colour="blue")})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidRequestContent"
    assert "'colour'" in error["message"]
    assert "properties.colour" in error["message"]
    assert arm.world.role_assignments == {}
    assert [(v["side"], v["property"]) for v in arm.contracts["violations"]] == [
        ("product", "properties.colour")
    ]


def test_a_wrong_enum_value_sent_by_the_sdk_is_refused(
    arm: ArmDouble, extensions_client: SourceControlConfigurationClient
) -> None:
    extension = Extension(
        identity=Identity(type="Robot"), extension_type="Microsoft.AzureML.Kubernetes"
    )
    with pytest.raises(HttpResponseError) as raised:
        extensions_client.extensions.begin_create(
            "rg-ml", "Microsoft.ContainerService", "managedClusters", "aks-ml", "aml2", extension
        )
    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidRequestContent"
    assert "identity.type" in raised.value.error.message
    assert "aml2" not in {e.lower() for e in arm.world.cluster(AKS).extensions}  # type: ignore[union-attr]


def test_a_wrong_type_is_refused(arm: ArmDouble, tls: SandboxTls) -> None:
    response = _put(arm, tls, _assignment_url(arm), {"properties": _properties(principalId=42)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequestContent"
    assert "properties.principalId" in response.json()["error"]["message"]


def test_a_missing_required_property_is_refused(arm: ArmDouble, tls: SandboxTls) -> None:
    properties = _properties()
    del properties["roleDefinitionId"]
    response = _put(arm, tls, _assignment_url(arm), {"properties": properties})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "Required property 'roleDefinitionId' not found" in message


def test_read_only_properties_in_a_put_body_are_accepted_as_arm_ignores_them(
    arm: ArmDouble, tls: SandboxTls
) -> None:
    name = str(uuid.uuid4())
    body = {
        "id": "/ignored",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": _properties(createdOn="2020-01-01T00:00:00Z", scope=ACR),
    }
    response = _put(arm, tls, _assignment_url(arm, name), body)
    assert response.status_code == 201
    assert arm.contracts["violations"] == []


def test_an_api_version_the_types_do_not_know_is_refused_listing_the_supported_ones(
    arm: ArmDouble, resources: ResourceManagementClient
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        resources.resources.get_by_id(AKS, api_version="2019-01-01")
    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "NoRegisteredProviderFound"
    assert "'2019-01-01'" in raised.value.error.message
    assert "2026-05-01" in raised.value.error.message
    assert "'managedClusters'" in raised.value.error.message


def test_every_request_is_counted_as_checked_and_the_doubles_answers_fit_their_types(
    arm: ArmDouble, resources: ResourceManagementClient
) -> None:
    resources.resources.get_by_id(AKS, api_version="2026-05-01")
    list(resources.resources.list(filter="tagName eq 'azureml-attach'"))
    contracts = arm.contracts
    assert contracts["checked"] == 2
    assert contracts["typed"] == 1  # the generic resource list has no type in the data
    assert contracts["violations"] == []
