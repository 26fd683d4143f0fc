"""Arc connectedClusters: ``properties.connectivityStatus`` (hybridkubernetes 2024-01-01), which
says whether the cluster's agents reach Azure: Connecting, Connected, Offline or Expired."""

from __future__ import annotations

import copy

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, ARC, BASE_WORLD

ARC_API = "2024-01-01"


def test_an_arc_cluster_is_connected_unless_the_world_says_otherwise(
    resources: ResourceManagementClient,
) -> None:
    cluster = resources.resources.get_by_id(ARC, api_version=ARC_API)
    assert cluster.properties["connectivityStatus"] == "Connected"


@pytest.mark.parametrize("status", ["Connecting", "Offline", "Expired"])
def test_the_world_sets_an_arc_clusters_connectivity_status(
    status: str, arm: ArmDouble, clock: VirtualClock, resources: ResourceManagementClient
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][2]["connectivity_status"] = status
    arm.use(World.from_dict(data), clock)
    cluster = resources.resources.get_by_id(ARC, api_version=ARC_API)
    assert cluster.properties["connectivityStatus"] == status


def test_a_scenario_step_takes_an_arc_cluster_offline_and_back(
    world: World, resources: ResourceManagementClient
) -> None:
    world.apply_change(
        {"op": "set_connectivity_status", "cluster": ARC, "connectivity_status": "Offline"}
    )
    status = resources.resources.get_by_id(ARC, api_version=ARC_API).properties
    assert status["connectivityStatus"] == "Offline"
    world.apply_change(
        {"op": "set_connectivity_status", "cluster": ARC, "connectivity_status": "Connected"}
    )
    status = resources.resources.get_by_id(ARC, api_version=ARC_API).properties
    assert status["connectivityStatus"] == "Connected"


def test_aks_clusters_carry_no_connectivity_status(resources: ResourceManagementClient) -> None:
    cluster = resources.resources.get_by_id(AKS, api_version="2026-05-01")
    assert "connectivityStatus" not in cluster.properties


@pytest.mark.parametrize(
    ("cluster", "status", "message"),
    [
        (2, "Sleeping", "connectivity_status 'Sleeping' is not one of"),
        (0, "Offline", "connectivity_status applies only to Microsoft.Kubernetes/connected"),
    ],
)
def test_a_bad_connectivity_status_is_named_in_the_error(
    cluster: int, status: str, message: str
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][cluster]["connectivity_status"] = status
    with pytest.raises(WorldError, match=rf"clusters\[{cluster}\] .*{message}"):
        World.from_dict(data)
