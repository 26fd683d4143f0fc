"""Resource groups and tags in the ARM double (what `az group show` and `az tag update` reach),
through the real ResourceManagementClient, and Event Grid's system topic turning the writes the
deployed app listens for into events on its queues."""

from __future__ import annotations

import copy
import json

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import Tags, TagsResource

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.servicebus_double import ServiceBusDouble
from sandbox.system_topic import SystemTopic
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, BASE_WORLD, RG, SUB

TAGS_API = "2024-03-01"  # the version the published types here hold
SMOKE_GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-smoke"


@pytest.fixture
def world() -> World:
    document = copy.deepcopy(BASE_WORLD)
    document["resource_groups"] = [
        {"id": SMOKE_GROUP, "location": "westeurope", "tags": {"autoattach-smoke": "yes"}}
    ]
    return World.from_dict(document)


@pytest.fixture
def resources(arm: ArmDouble, tls, credential) -> ResourceManagementClient:
    return ResourceManagementClient(
        credential,
        SUB,
        base_url=arm.base_url,
        connection_verify=str(tls.ca_bundle),
        api_version=TAGS_API,
    )


def test_a_declared_resource_group_is_read_with_its_tags(resources):
    group = resources.resource_groups.get("rg-smoke")
    assert group.id == SMOKE_GROUP
    assert group.tags == {"autoattach-smoke": "yes"}
    assert group.properties.provisioning_state == "Succeeded"


def test_a_group_holding_resources_is_read_without_tags_and_an_unknown_one_is_not_found(
    resources,
):
    assert resources.resource_groups.get(RG.rsplit("/", 1)[-1]).tags in ({}, None)
    with pytest.raises(ResourceNotFoundError) as raised:
        resources.resource_groups.get("rg-nowhere")
    assert raised.value.error.code == "ResourceGroupNotFound"


def test_writing_a_clusters_tags_replaces_them_and_reads_them_back(resources, world):
    written = resources.tags.begin_create_or_update_at_scope(
        AKS, TagsResource(properties=Tags(tags={"azureml-attach": "ws-a", "team": "x"}))
    ).result()
    assert written.properties.tags == {"azureml-attach": "ws-a", "team": "x"}
    assert resources.tags.get_at_scope(AKS).properties.tags == written.properties.tags
    assert world.cluster(AKS).tags == {"azureml-attach": "ws-a", "team": "x"}


def test_a_resource_group_entry_without_a_location_is_refused():
    with pytest.raises(WorldError, match=r"resource_groups\[0\]"):
        World.from_dict({"resource_groups": [{"id": SMOKE_GROUP}]})


def test_the_system_topic_delivers_cluster_tag_writes_and_extension_writes_only(
    arm: ArmDouble, resources
):
    bus = ServiceBusDouble(VirtualClock(), ["cluster-events", "extension-events"])
    topic = SystemTopic(bus)
    arm.write_listeners.append(topic.heard)
    try:
        resources.tags.begin_create_or_update_at_scope(
            AKS, TagsResource(properties=Tags(tags={"azureml-attach": "ws-a"}))
        ).result()
        resources.tags.begin_create_or_update_at_scope(
            SMOKE_GROUP, TagsResource(properties=Tags(tags={"x": "y"}))
        ).result()
    finally:
        arm.write_listeners.remove(topic.heard)
    (message,) = bus.queues["cluster-events"].active
    event = json.loads(message.body)
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert event["data"]["operationName"] == "Microsoft.Resources/tags/write"
    assert event["subject"] == event["data"]["resourceUri"] == AKS
    assert bus.queues["extension-events"].active == []
    topic.heard("PUT", f"{AKS}/providers/Microsoft.KubernetesConfiguration/extensions/ml")
    topic.heard("DELETE", f"{AKS}/providers/Microsoft.KubernetesConfiguration/extensions/ml")
    operations = [
        json.loads(m.body)["data"]["operationName"] for m in bus.queues["extension-events"].active
    ]
    assert operations == [
        "Microsoft.KubernetesConfiguration/extensions/write",
        "Microsoft.KubernetesConfiguration/extensions/delete",
    ]


def test_the_callers_permissions_list_a_new_role_only_once_it_has_propagated(
    arm: ArmDouble, world: World, clock: VirtualClock, resources
):
    from azure.core.rest import HttpRequest

    from sandbox.arm_rbac import principal_of
    from sandbox.credential import SANDBOX_TOKEN
    from sandbox.world import RoleAssignment

    reader = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
    reader += "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    url = f"{arm.base_url}{SMOKE_GROUP}/providers/Microsoft.Authorization/permissions"
    url += "?api-version=2022-04-01"
    caller = principal_of(world, f"Bearer {SANDBOX_TOKEN}")  # who the sandbox token is
    assignment = RoleAssignment(
        scope=SMOKE_GROUP,
        role_definition_id=reader,
        principal_id=caller,
        name="a1",
        effective_at=clock.seconds() + 300,  # as a PUT made now would be
    )
    world.role_assignments[assignment.id.lower()] = assignment

    def listed() -> list:
        return resources.send_request(HttpRequest("GET", url)).json()["value"]

    assert listed() == []
    clock.advance(300)
    assert listed() == [
        {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}
    ]
