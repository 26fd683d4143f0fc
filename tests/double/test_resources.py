"""Cluster and identity reads, and the list-by-tag sweep, through ResourceManagementClient."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.tls import SandboxTls
from sandbox.world import World
from tests.double.arm_world import AKS, AKS_PLAIN, ARC, SUB, UAI, UAI_CLIENT, UAI_PRINCIPAL

AKS_API = "2026-05-01"
ARC_API = "2024-01-01"


def test_aks_cluster_get_returns_tags_state_and_azure_rbac(
    resources: ResourceManagementClient,
) -> None:
    cluster = resources.resources.get_by_id(AKS, api_version=AKS_API)
    assert cluster.id == AKS
    assert cluster.name == "aks-ml"
    assert cluster.type == "Microsoft.ContainerService/managedClusters"
    assert cluster.location == "westeurope"
    assert cluster.tags == {"azureml-attach": "ws-research,ws-prod"}
    assert cluster.properties["provisioningState"] == "Succeeded"
    assert cluster.properties["aadProfile"]["enableAzureRBAC"] is True
    plain = resources.resources.get_by_id(AKS_PLAIN, api_version=AKS_API)
    assert plain.properties["aadProfile"]["enableAzureRBAC"] is False


def test_ids_are_case_insensitive_and_keep_their_original_casing(
    resources: ResourceManagementClient,
) -> None:
    lowered = AKS.lower().replace("resourcegroups", "resourcegroups")
    cluster = resources.resources.get_by_id(lowered, api_version=AKS_API)
    assert cluster.id == AKS


def test_arc_cluster_reports_creating_until_the_clock_passes_its_delay(
    resources: ResourceManagementClient, clock: VirtualClock
) -> None:
    assert resources.resources.get_by_id(ARC, api_version=ARC_API).properties[
        "provisioningState"
    ] == ("Creating")
    clock.advance(60)
    cluster = resources.resources.get_by_id(ARC, api_version=ARC_API)
    assert cluster.type == "Microsoft.Kubernetes/connectedClusters"
    assert cluster.properties["provisioningState"] == "Succeeded"


def test_user_assigned_identity_get_returns_principal_and_client_ids(
    resources: ResourceManagementClient,
) -> None:
    identity = resources.resources.get_by_id(UAI, api_version="2023-01-31")
    assert identity.properties["principalId"] == UAI_PRINCIPAL
    assert identity.properties["clientId"] == UAI_CLIENT
    assert identity.properties["tenantId"]


def test_deleted_cluster_is_404_resource_not_found(
    resources: ResourceManagementClient, world: World
) -> None:
    world.apply_change({"op": "delete_cluster", "resource": AKS})
    with pytest.raises(ResourceNotFoundError) as raised:
        resources.resources.get_by_id(AKS, api_version=AKS_API)
    assert raised.value.error is not None
    assert raised.value.error.code == "ResourceNotFound"


def test_list_by_tag_name_returns_only_tagged_existing_resources(
    resources: ResourceManagementClient, world: World
) -> None:
    found = list(resources.resources.list(filter="tagName eq 'azureml-attach'"))
    assert sorted(r.id for r in found) == sorted([AKS, ARC])
    world.apply_change({"op": "set_tags", "resource": ARC, "tags": {}})
    world.apply_change({"op": "delete_cluster", "resource": AKS})
    assert list(resources.resources.list(filter="tagName eq 'azureml-attach'")) == []


def test_list_pages_with_next_link(
    resources: ResourceManagementClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.arm_resources.LIST_PAGE_SIZE", 1)
    found = list(resources.resources.list(filter="tagName eq 'azureml-attach'"))
    assert sorted(r.id for r in found) == sorted([AKS, ARC])


def test_request_without_bearer_token_is_401_and_counted(arm: ArmDouble, tls: SandboxTls) -> None:
    response = requests.get(
        f"{arm.base_url}{AKS}?api-version={AKS_API}", verify=str(tls.ca_bundle), timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert arm.counts == {"reads": 1, "writes": 0}


def test_reads_are_counted_logged_and_carry_rate_limit_headers(
    arm: ArmDouble, resources: ResourceManagementClient
) -> None:
    seen: dict[str, str] = {}
    resources.resources.get_by_id(
        AKS,
        api_version=AKS_API,
        cls=lambda response, body, headers: seen.update(response.http_response.headers),
    )
    assert arm.counts == {"reads": 1, "writes": 0}
    assert [(r.method, r.path) for r in arm.log] == [("GET", AKS)]
    lowered = {k.lower(): v for k, v in seen.items()}
    assert int(lowered["x-ms-ratelimit-remaining-subscription-reads"]) > 0
    arm.reset_counts()
    assert arm.counts == {"reads": 0, "writes": 0}
    assert arm.log == []


def test_subscription_in_list_path_scopes_the_results(
    arm: ArmDouble, tls: SandboxTls, mgmt: object
) -> None:
    other = ResourceManagementClient(
        __import__("sandbox.credential", fromlist=["x"]).SandboxCredential(),
        SUB.replace("aa", "bb"),
        base_url=arm.base_url,
        connection_verify=str(tls.ca_bundle),
    )
    assert list(other.resources.list(filter="tagName eq 'azureml-attach'")) == []
