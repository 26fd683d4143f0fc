"""Azure Relay namespaces the AzureML extension makes on Arc clusters, read through
ResourceManagementClient (list_by_resource_group with a resourceType filter, get_by_id)."""

from __future__ import annotations

import copy

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.arm_ids import RELAY_NAME, default_relay_name
from sandbox.clock import VirtualClock
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, ARC, AZUREML, BASE_WORLD, RG, SUB, UAI, WS, WS_UAI

RELAY_API = "2021-11-01"
RELAYS = "resourceType eq 'Microsoft.Relay/namespaces'"
ARC_RELAY = f"{RG}/providers/Microsoft.Relay/namespaces/azureml-arc-edge-relay"
ARC_RP = ("Microsoft.Kubernetes", "connectedClusters")
EDGE_RG = f"/subscriptions/{SUB}/resourceGroups/rg-edge"
ARC_2 = f"{EDGE_RG}/providers/Microsoft.Kubernetes/connectedClusters/Arc_Two"


def test_an_arc_cluster_with_the_azureml_extension_has_a_relay_in_its_resource_group(
    resources: ResourceManagementClient,
) -> None:
    found = list(resources.resources.list_by_resource_group("rg-ml", filter=RELAYS))
    assert [(r.id, r.name, r.type, r.location) for r in found] == [
        (ARC_RELAY, "azureml-arc-edge-relay", "Microsoft.Relay/namespaces", "northeurope")
    ]
    assert found[0].tags == {"azureml-cluster": ARC}


def test_an_aks_cluster_with_the_azureml_extension_has_no_relay(world: World) -> None:
    assert world.snapshot()["relays"] == [{"id": ARC_RELAY, "cluster": ARC}]
    assert all(r.cluster != AKS for r in world.relays())


def test_relay_get_by_id_returns_the_namespace(resources: ResourceManagementClient) -> None:
    relay = resources.resources.get_by_id(ARC_RELAY, api_version=RELAY_API)
    assert (relay.id, relay.type, relay.location) == (
        ARC_RELAY,
        "Microsoft.Relay/namespaces",
        "northeurope",
    )
    assert relay.tags == {"azureml-cluster": ARC}
    assert relay.sku is not None and relay.sku.name == "Standard"
    assert relay.properties["provisioningState"] == "Succeeded"
    assert relay.properties["serviceBusEndpoint"].startswith("https://azureml-arc-edge-relay.")
    lowered = resources.resources.get_by_id(ARC_RELAY.lower(), api_version=RELAY_API)
    assert lowered.id == ARC_RELAY


def test_the_resource_type_filter_is_case_insensitive_and_the_sdk_sends_it_as_dollar_filter(
    resources: ResourceManagementClient, arm: ArmDouble
) -> None:
    shouted = "RESOURCETYPE eq 'microsoft.relay/NAMESPACES'"
    found = list(resources.resources.list_by_resource_group("rg-ml", filter=shouted))
    assert [r.id for r in found] == [ARC_RELAY]
    request = arm.log[0]
    assert request.path == f"/subscriptions/{SUB}/resourcegroups/rg-ml/resources"
    assert request.query["$filter"] == shouted


def test_list_by_resource_group_without_a_filter_lists_everything_in_that_group_only(
    resources: ResourceManagementClient, world: World
) -> None:
    world.apply_change({"op": "create_cluster", "cluster": {"id": ARC_2, "location": "westeurope"}})
    found = sorted(r.id for r in resources.resources.list_by_resource_group("rg-ml"))
    expected = [
        AKS,
        AKS.replace("aks-ml", "aks-plain"),
        ARC,
        UAI,
        WS,
        WS_UAI,
        ARC_RELAY,
    ]
    assert found == sorted(expected)
    assert [r.id for r in resources.resources.list_by_resource_group("rg-edge")] == [ARC_2]
    assert list(resources.resources.list_by_resource_group("rg-empty")) == []


def test_list_by_resource_group_pages_with_next_link(
    resources: ResourceManagementClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.arm_resources.LIST_PAGE_SIZE", 2)
    assert len(list(resources.resources.list_by_resource_group("rg-ml"))) == 7


def test_a_filter_the_double_does_not_understand_is_400_invalid_filter(
    resources: ResourceManagementClient,
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        list(resources.resources.list_by_resource_group("rg-ml", filter="location eq 'x'"))
    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidFilterInQueryString"


def test_subscription_list_by_tag_is_unchanged_and_lists_relays_by_type(
    resources: ResourceManagementClient,
) -> None:
    tagged = list(resources.resources.list(filter="tagName eq 'azureml-attach'"))
    assert sorted(r.id for r in tagged) == sorted([AKS, ARC])
    relays = list(resources.resources.list(filter=RELAYS))
    assert [r.id for r in relays] == [ARC_RELAY]
    by_cluster_tag = list(
        resources.resources.list(filter=f"tagName eq 'azureml-cluster' and tagValue eq '{ARC}'")
    )
    assert [r.id for r in by_cluster_tag] == [ARC_RELAY]


def test_installing_the_extension_on_an_arc_cluster_creates_its_relay_at_once(
    resources: ResourceManagementClient,
    extensions_client: SourceControlConfigurationClient,
    world: World,
) -> None:
    world.apply_change({"op": "create_cluster", "cluster": {"id": ARC_2, "location": "westeurope"}})
    assert list(resources.resources.list_by_resource_group("rg-edge", filter=RELAYS)) == []
    extensions_client.extensions.begin_create(
        "rg-edge", *ARC_RP, "Arc_Two", "azureml", Extension(extension_type=AZUREML), polling=False
    )
    found = list(resources.resources.list_by_resource_group("rg-edge", filter=RELAYS))
    expected = f"{EDGE_RG}/providers/Microsoft.Relay/namespaces/azureml-arc-two-relay"
    assert [(r.id, r.tags) for r in found] == [(expected, {"azureml-cluster": ARC_2})]
    assert {"id": expected, "cluster": ARC_2} in world.snapshot()["relays"]


def test_deleting_the_cluster_removes_its_relay(
    resources: ResourceManagementClient, world: World
) -> None:
    world.apply_change({"op": "delete_cluster", "resource": ARC})
    assert world.snapshot()["relays"] == []
    assert list(resources.resources.list_by_resource_group("rg-ml", filter=RELAYS)) == []
    with pytest.raises(ResourceNotFoundError):
        resources.resources.get_by_id(ARC_RELAY, api_version=RELAY_API)


def test_deleting_the_extension_removes_its_relay(
    extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    extensions_client.extensions.begin_delete("rg-ml", *ARC_RP, "arc-edge", "ml-ext").result(
        timeout=5
    )
    assert world.snapshot()["relays"] == []


def test_the_relay_name_comes_from_the_world_extension_entry_when_given(
    arm: ArmDouble, resources: ResourceManagementClient, clock: VirtualClock
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][2]["extensions"][0]["relay_name"] = "team-edge-relay-01"
    arm.use(World.from_dict(data), clock)
    found = list(resources.resources.list_by_resource_group("rg-ml", filter=RELAYS))
    assert [r.name for r in found] == ["team-edge-relay-01"]
    assert arm.world.snapshot()["relays"] == [
        {"id": f"{RG}/providers/Microsoft.Relay/namespaces/team-edge-relay-01", "cluster": ARC}
    ]


@pytest.mark.parametrize(
    ("cluster", "relay_name", "message"),
    [
        (2, "x", "relay_name must be 6-50 letters"),
        (2, "1relay-name", "relay_name must be 6-50 letters"),
        (0, "aks-relay-name", "relay_name applies only to a Microsoft.AzureML.Kubernetes"),
    ],
)
def test_a_bad_relay_name_in_the_world_is_named_in_the_error(
    cluster: int, relay_name: str, message: str
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][cluster]["extensions"][0]["relay_name"] = relay_name
    with pytest.raises(WorldError, match=rf"clusters\[{cluster}\] .*extensions\[0\]: {message}"):
        World.from_dict(data)


def test_default_relay_names_are_valid_and_long_cluster_names_are_shortened_with_a_hash() -> None:
    assert default_relay_name(ARC) == "azureml-arc-edge-relay"
    assert default_relay_name(ARC_2) == "azureml-arc-two-relay"
    long_a = f"{EDGE_RG}/providers/Microsoft.Kubernetes/connectedClusters/{'edge-site-' * 6}a"
    long_b = long_a[:-1] + "b"
    name_a, name_b = default_relay_name(long_a), default_relay_name(long_b)
    assert name_a != name_b
    for name in (name_a, name_b, default_relay_name(ARC)):
        assert RELAY_NAME.match(name) and len(name) <= 50
    assert name_a.startswith("azureml-edge-site-edge-site-") and name_a.endswith("-relay")
    assert default_relay_name(long_a) == name_a  # deterministic
