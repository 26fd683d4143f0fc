"""Azure Relay namespaces beside Arc clusters, as `az k8s-extension create` leaves them.

The Azure CLI's AzureML partner extension (not the extension itself, not ARM) creates the Relay
namespace, its hybrid connection and rule before it PUTs the extension, and names the hybrid
connection in the extension's settings. The double makes a relay only where the world says an
extension was installed that way; an extension PUT makes none.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.arm_ids import RELAY_NAME, cli_relay_name
from sandbox.clock import VirtualClock
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, ARC, AZUREML, BASE_WORLD, RG, SUB, UAI, WS, WS_UAI

RELAY_API = "2024-01-01"
RELAYS = "resourceType eq 'Microsoft.Relay/namespaces'"
CLI_NAME = "arcedge000000000000000000000000000000aargmlrelay"  # arc-edge, SUB, rg-ml, per the CLI
ARC_RELAY = f"{RG}/providers/Microsoft.Relay/namespaces/{CLI_NAME}"
ARC_HC = f"{ARC_RELAY}/hybridConnections/arc-edge"
ARC_RP = ("Microsoft.Kubernetes", "connectedClusters")
EDGE_RG = f"/subscriptions/{SUB}/resourceGroups/rg-edge"
ARC_2 = f"{EDGE_RG}/providers/Microsoft.Kubernetes/connectedClusters/Arc_Two"
TEAM_RELAY = f"{RG}/providers/Microsoft.Relay/namespaces/team-owned-relay"
CLI_TAGS = {"created_by": "Azure Arc-enabled ML"}


def relay_world(**extension: Any) -> dict[str, Any]:
    """BASE_WORLD whose Arc cluster's AzureML extension was installed with the CLI."""
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][2]["extensions"][0].update({"relay": True, **extension})
    return data


@pytest.fixture
def cli_installed(arm: ArmDouble, clock: VirtualClock) -> World:
    world = World.from_dict(relay_world())
    arm.use(world, clock)
    return world


def test_an_extension_installed_with_the_cli_has_the_relay_namespace_the_cli_names(
    cli_installed: World, resources: ResourceManagementClient
) -> None:
    found = list(resources.resources.list_by_resource_group("rg-ml", filter=RELAYS))
    assert [(r.id, r.name, r.type, r.location) for r in found] == [
        (ARC_RELAY, CLI_NAME, "Microsoft.Relay/namespaces", "northeurope")
    ]
    assert found[0].tags == CLI_TAGS  # the CLI's tag: nothing names the cluster


def test_the_extension_names_its_hybrid_connection_in_its_settings_and_hides_the_key(
    cli_installed: World, extensions_client: SourceControlConfigurationClient
) -> None:
    extension = extensions_client.extensions.get("rg-ml", *ARC_RP, "arc-edge", "ml-ext")
    settings = extension.configuration_settings or {}
    assert settings["relayserver.enabled"] == "true"
    assert settings["relayserver.hybridConnectionResourceID"] == ARC_HC
    assert settings["relayserver.hybridConnectionName"] == "arc-edge"
    assert not extension.configuration_protected_settings
    stored = cli_installed.cluster(ARC).extensions["ml-ext"]  # type: ignore[union-attr]
    assert "relayserver.relayConnectionString" in stored.configuration_protected_settings
    assert stored.linked_relay == ARC_RELAY


def test_the_hybrid_connection_and_its_rule_are_readable_by_id(
    cli_installed: World, resources: ResourceManagementClient
) -> None:
    connection = resources.resources.get_by_id(ARC_HC, api_version=RELAY_API)
    assert (connection.id, connection.type) == (
        ARC_HC,
        "Microsoft.Relay/namespaces/hybridConnections",
    )
    assert connection.properties["requiresClientAuthorization"] is True
    rule = resources.resources.get_by_id(
        f"{ARC_HC}/authorizationRules/azureml_rw", api_version=RELAY_API
    )
    assert sorted(rule.properties["rights"]) == ["Listen", "Manage", "Send"]
    with pytest.raises(ResourceNotFoundError):
        resources.resources.get_by_id(f"{ARC_RELAY}/hybridConnections/other", api_version=RELAY_API)


def test_relay_get_by_id_returns_the_namespace(
    cli_installed: World, resources: ResourceManagementClient
) -> None:
    relay = resources.resources.get_by_id(ARC_RELAY, api_version=RELAY_API)
    assert (relay.id, relay.type, relay.location) == (
        ARC_RELAY,
        "Microsoft.Relay/namespaces",
        "northeurope",
    )
    assert relay.tags == CLI_TAGS
    assert relay.sku is not None and relay.sku.name == "Standard"
    assert relay.properties["provisioningState"] == "Succeeded"
    assert (
        relay.properties["serviceBusEndpoint"] == f"https://{CLI_NAME}.servicebus.windows.net:443/"
    )
    lowered = resources.resources.get_by_id(ARC_RELAY.lower(), api_version=RELAY_API)
    assert lowered.id == ARC_RELAY


def test_an_extension_the_world_does_not_say_was_installed_with_the_cli_has_no_relay(
    world: World, resources: ResourceManagementClient
) -> None:
    assert world.snapshot()["relays"] == []
    assert list(resources.resources.list(filter=RELAYS)) == []


def test_the_double_creates_no_relay_for_a_put_extension(
    resources: ResourceManagementClient,
    extensions_client: SourceControlConfigurationClient,
    world: World,
) -> None:
    world.apply_change({"op": "create_cluster", "cluster": {"id": ARC_2, "location": "westeurope"}})
    extensions_client.extensions.begin_create(
        "rg-edge", *ARC_RP, "Arc_Two", "azureml", Extension(extension_type=AZUREML), polling=False
    )
    assert list(resources.resources.list_by_resource_group("rg-edge", filter=RELAYS)) == []
    assert world.snapshot()["relays"] == []
    put = extensions_client.extensions.get("rg-edge", *ARC_RP, "Arc_Two", "azureml")
    assert "relayserver.hybridConnectionResourceID" not in (put.configuration_settings or {})


def test_a_put_keeps_the_relay_settings_it_is_sent_and_never_returns_protected_ones(
    extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.apply_change({"op": "create_cluster", "cluster": {"id": ARC_2, "location": "westeurope"}})
    hc = f"{EDGE_RG}/providers/Microsoft.Relay/namespaces/teamrelay01/hybridConnections/Arc_Two"
    extension = Extension(
        extension_type=AZUREML,
        configuration_settings={"relayserver.hybridConnectionResourceID": hc},
        configuration_protected_settings={"relayserver.relayConnectionString": "sandbox-only"},
    )
    extensions_client.extensions.begin_create(
        "rg-edge", *ARC_RP, "Arc_Two", "azureml", extension, polling=False
    )
    read = extensions_client.extensions.get("rg-edge", *ARC_RP, "Arc_Two", "azureml")
    assert (read.configuration_settings or {})["relayserver.hybridConnectionResourceID"] == hc
    assert not read.configuration_protected_settings


def test_relays_outlive_the_extension_and_the_cluster(
    cli_installed: World,
    resources: ResourceManagementClient,
    extensions_client: SourceControlConfigurationClient,
) -> None:
    extensions_client.extensions.begin_delete("rg-ml", *ARC_RP, "arc-edge", "ml-ext").result(
        timeout=5
    )
    cli_installed.apply_change({"op": "delete_cluster", "resource": ARC})
    assert [r["id"] for r in cli_installed.snapshot()["relays"]] == [ARC_RELAY]
    assert resources.resources.get_by_id(ARC_RELAY, api_version=RELAY_API).id == ARC_RELAY


def test_a_relay_of_the_relays_section_is_listed_and_named_by_no_extension(
    arm: ArmDouble, clock: VirtualClock, resources: ResourceManagementClient
) -> None:
    data = relay_world()
    data["relays"] = [
        {"id": TEAM_RELAY, "location": "westeurope", "tags": {"team": "edge"}},
    ]
    arm.use(World.from_dict(data), clock)
    found = sorted(r.id for r in resources.resources.list_by_resource_group("rg-ml", filter=RELAYS))
    assert found == sorted([ARC_RELAY, TEAM_RELAY])
    team = resources.resources.get_by_id(TEAM_RELAY, api_version=RELAY_API)
    assert team.tags == {"team": "edge"}


def test_the_resource_type_filter_is_case_insensitive_and_the_sdk_sends_it_as_dollar_filter(
    cli_installed: World, resources: ResourceManagementClient, arm: ArmDouble
) -> None:
    shouted = "RESOURCETYPE eq 'microsoft.relay/NAMESPACES'"
    found = list(resources.resources.list_by_resource_group("rg-ml", filter=shouted))
    assert [r.id for r in found] == [ARC_RELAY]
    request = arm.log[0]
    assert request.path == f"/subscriptions/{SUB}/resourcegroups/rg-ml/resources"
    assert request.query["$filter"] == shouted


def test_list_by_resource_group_without_a_filter_lists_everything_in_that_group_only(
    cli_installed: World, resources: ResourceManagementClient
) -> None:
    cli_installed.apply_change(
        {"op": "create_cluster", "cluster": {"id": ARC_2, "location": "westeurope"}}
    )
    found = sorted(r.id for r in resources.resources.list_by_resource_group("rg-ml"))
    expected = [AKS, AKS.replace("aks-ml", "aks-plain"), ARC, UAI, WS, WS_UAI, ARC_RELAY]
    assert found == sorted(expected)
    assert [r.id for r in resources.resources.list_by_resource_group("rg-edge")] == [ARC_2]
    assert list(resources.resources.list_by_resource_group("rg-empty")) == []


def test_list_by_resource_group_pages_with_next_link(
    cli_installed: World, resources: ResourceManagementClient, monkeypatch: pytest.MonkeyPatch
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


def test_subscription_list_by_tag_lists_relays_by_type_and_by_the_clis_tag(
    cli_installed: World, resources: ResourceManagementClient
) -> None:
    tagged = list(resources.resources.list(filter="tagName eq 'azureml-attach'"))
    assert sorted(r.id for r in tagged) == sorted([AKS, ARC])
    assert [r.id for r in resources.resources.list(filter=RELAYS)] == [ARC_RELAY]
    by_cli_tag = list(
        resources.resources.list(
            filter="tagName eq 'created_by' and tagValue eq 'Azure Arc-enabled ML'"
        )
    )
    assert [r.id for r in by_cli_tag] == [ARC_RELAY]


def test_the_relay_name_comes_from_the_world_extension_entry_when_given(
    arm: ArmDouble, resources: ResourceManagementClient, clock: VirtualClock
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][2]["extensions"][0]["relay_name"] = "team-edge-relay-01"
    arm.use(World.from_dict(data), clock)
    found = list(resources.resources.list_by_resource_group("rg-ml", filter=RELAYS))
    assert [r.name for r in found] == ["team-edge-relay-01"]
    relay = f"{RG}/providers/Microsoft.Relay/namespaces/team-edge-relay-01"
    assert arm.world.snapshot()["relays"] == [{"id": relay, "hybrid_connections": ["arc-edge"]}]
    extension = arm.world.cluster(ARC).extensions["ml-ext"]  # type: ignore[union-attr]
    hc = extension.configuration_settings["relayserver.hybridConnectionResourceID"]
    assert hc == f"{relay}/hybridConnections/arc-edge"


@pytest.mark.parametrize(
    ("cluster", "field", "value", "message"),
    [
        (2, "relay_name", "x", "relay_name must be 6-50 letters"),
        (2, "relay_name", "1relay-name", "relay_name must be 6-50 letters"),
        (0, "relay_name", "aks-relay-name", "relay applies only to a Microsoft.AzureML.Kubernetes"),
        (0, "relay", True, "relay applies only to a Microsoft.AzureML.Kubernetes"),
        (2, "relay", "yes", "relay must be true or false"),
    ],
)
def test_a_bad_relay_in_the_world_is_named_in_the_error(
    cluster: int, field: str, value: Any, message: str
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][cluster]["extensions"][0][field] = value
    with pytest.raises(WorldError, match=rf"clusters\[{cluster}\] .*extensions\[0\]: {message}"):
        World.from_dict(data)


def test_a_relay_in_the_relays_section_must_be_a_relay_namespace_id() -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["relays"] = [{"id": WS, "location": "westeurope"}]
    with pytest.raises(WorldError, match=r"relays\[0\].*Microsoft.Relay/namespaces"):
        World.from_dict(data)


def test_cli_relay_names_keep_letters_and_digits_and_long_ones_end_in_an_md5_suffix() -> None:
    assert cli_relay_name(ARC) == CLI_NAME
    assert cli_relay_name(ARC_2) == "ArcTwo000000000000000000000000000000aargedgerelay"
    long_name = "edge-site-" * 3 + "a"
    long_id = f"{EDGE_RG}/providers/Microsoft.Kubernetes/connectedClusters/{long_name}"
    raw = f"{long_name}-{SUB}-rg-edge-relay"
    digest = hashlib.md5(raw.encode()).hexdigest()[:6]
    kept = "".join(c for c in raw if c.isalnum())[:44]
    assert cli_relay_name(long_id) == kept + digest
    assert len(cli_relay_name(long_id)) == 50
    for name in (cli_relay_name(ARC), cli_relay_name(ARC_2), cli_relay_name(long_id)):
        assert RELAY_NAME.match(name)


def test_a_cluster_whose_cli_relay_name_azure_would_refuse_must_state_relay_name() -> None:
    data = relay_world()
    data["clusters"][2]["id"] = ARC.replace("arc-edge", "7-edge")
    with pytest.raises(WorldError, match="relay_name"):
        World.from_dict(data)
