"""Installing the AzureML extension through the SDK, as the product does: begin_create, no wait.

The PUT answers ``Creating``; the extension stays ``Creating`` for the world's
``extension_install_seconds`` of virtual time (default 120), then ends ``Succeeded`` -- or
``Failed`` after ``fail_next_lro`` or with ``extension_install_outcome: "Failed"``.
"""

from __future__ import annotations

import copy
import time

import pytest
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension, Scope, ScopeCluster

from sandbox.arm_double import ArmDouble, LoggedRequest
from sandbox.clock import VirtualClock
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, AZUREML, BASE_WORLD

AKS_RP = ("Microsoft.ContainerService", "managedClusters")
SETTINGS = {
    "enableTraining": "True",
    "enableInference": "False",
    "allowInsecureConnections": "True",
}


def _azureml() -> Extension:
    """The extension body the product sends."""
    return Extension(
        extension_type=AZUREML,
        auto_upgrade_minor_version=True,
        release_train="stable",
        scope=Scope(cluster=ScopeCluster(release_namespace="azureml")),
        configuration_settings=dict(SETTINGS),
    )


def _state(client: SourceControlConfigurationClient, name: str) -> str:
    return str(client.extensions.get("rg-ml", *AKS_RP, "aks-plain", name).provisioning_state)


def _first_status_poll(arm: ArmDouble) -> LoggedRequest:
    """azure-core's poller thread GETs the operation status right after the PUT; wait for it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        polls = [r for r in arm.log if r.kind == "polls"]
        if polls:
            return polls[0]
        time.sleep(0.01)
    raise AssertionError("the poller never asked for the operation status")


def test_the_put_response_itself_reports_creating(
    extensions_client: SourceControlConfigurationClient, arm: ArmDouble
) -> None:
    initial = extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml(), polling=False
    ).result()
    assert initial.provisioning_state == "Creating"
    assert initial.configuration_settings == SETTINGS
    put = arm.log[0]
    assert (put.method, put.status) == ("PUT", 201)
    assert put.body["properties"]["scope"] == {"cluster": {"releaseNamespace": "azureml"}}


def test_an_installed_extension_stays_creating_for_120_virtual_seconds_then_succeeds(
    extensions_client: SourceControlConfigurationClient, clock: VirtualClock
) -> None:
    clock.advance(30)
    extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml(), polling=False
    )
    assert _state(extensions_client, "azureml") == "Creating"
    clock.advance(119)
    assert _state(extensions_client, "azureml") == "Creating"
    clock.advance(1)
    assert _state(extensions_client, "azureml") == "Succeeded"


def test_configuration_settings_are_visible_in_get_and_the_list_shows_the_extension(
    extensions_client: SourceControlConfigurationClient,
) -> None:
    extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml(), polling=False
    )
    fetched = extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-plain", "azureml")
    assert fetched.configuration_settings == SETTINGS
    assert fetched.release_train == "stable" and fetched.auto_upgrade_minor_version is True
    assert fetched.scope is not None and fetched.scope.cluster is not None
    assert fetched.scope.cluster.release_namespace == "azureml"
    listed = extensions_client.extensions.list("rg-ml", *AKS_RP, "aks-plain")
    assert sorted((e.name, e.provisioning_state) for e in listed) == [
        ("aml", "Creating"),
        ("azureml", "Creating"),
    ]


def test_a_poller_nobody_waits_on_sees_in_progress_and_is_told_to_come_back_later(
    extensions_client: SourceControlConfigurationClient, arm: ArmDouble, world: World
) -> None:
    # Long delay: the poller thread sleeps the Retry-After in real time, so it stays quiet.
    world.extension_install_seconds = 3600
    world.lro_retry_after_seconds = 3600
    poller = extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml()
    )
    poll = _first_status_poll(arm)
    assert poll.status == 200
    assert poller.status() == "InProgress" and not poller.done()
    assert _state(extensions_client, "azureml") == "Creating"
    writes = [r for r in arm.log if r.method != "GET"]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in writes] == [("PUT", "azureml")]


def test_installs_end_failed_when_the_world_says_so(
    extensions_client: SourceControlConfigurationClient, arm: ArmDouble, clock: VirtualClock
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data.update(extension_install_seconds=45, extension_install_outcome="Failed")
    world = World.from_dict(data)
    assert (world.extension_install_seconds, world.extension_install_outcome) == (45.0, "Failed")
    arm.use(world, clock)
    extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml(), polling=False
    )
    assert _state(extensions_client, "azureml") == "Creating"
    clock.advance(45)
    failed = extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-plain", "azureml")
    assert failed.provisioning_state == "Failed"
    assert failed.error_info is not None and failed.error_info.code == "ExtensionOperationFailed"


def test_an_injected_lro_failure_ends_the_install_failed_after_the_install_seconds(
    extensions_client: SourceControlConfigurationClient, arm: ArmDouble, clock: VirtualClock
) -> None:
    arm.fail_next_lro("/extensions/azureml")
    extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml(), polling=False
    )
    assert _state(extensions_client, "azureml") == "Creating"
    clock.advance(120)
    assert _state(extensions_client, "azureml") == "Failed"
    # A retry (PUT again) is an update of the existing extension; the spent fault is gone.
    extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml(), polling=False
    )
    assert _state(extensions_client, "azureml") == "Updating"
    clock.advance(120)
    assert _state(extensions_client, "azureml") == "Succeeded"


def test_a_waiting_poller_finishes_once_the_install_is_done(
    extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.extension_install_seconds = 0
    created = extensions_client.extensions.begin_create(
        "rg-ml", *AKS_RP, "aks-plain", "azureml", _azureml()
    ).result(timeout=5)
    assert created.provisioning_state == "Succeeded"
    assert created.configuration_settings == SETTINGS
    cluster = world.cluster(AKS.replace("aks-ml", "aks-plain"))
    assert cluster is not None and cluster.extensions["azureml"].configuration_settings == SETTINGS


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"extension_install_seconds": -1}, "extension_install_seconds must be a number >= 0"),
        ({"extension_install_seconds": True}, "extension_install_seconds must be a number >= 0"),
        ({"extension_install_outcome": "Maybe"}, "extension_install_outcome 'Maybe' is not one"),
    ],
)
def test_bad_install_options_are_named_in_the_error(
    option: dict[str, object], message: str
) -> None:
    data = copy.deepcopy(BASE_WORLD)
    data.update(option)
    with pytest.raises(WorldError, match=message):
        World.from_dict(data)


def test_install_options_default_to_120_seconds_and_success() -> None:
    world = World.from_dict(copy.deepcopy(BASE_WORLD))
    assert (world.extension_install_seconds, world.extension_install_outcome) == (
        120.0,
        "Succeeded",
    )
