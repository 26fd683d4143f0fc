"""Cluster extensions (SourceControlConfigurationClient) and AKS managed namespaces."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedNamespace, NamespaceProperties
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.world import World
from tests.double.arm_world import AKS, AKS_PLAIN, ARC, AZUREML

AKS_RP = ("Microsoft.ContainerService", "managedClusters")
ARC_RP = ("Microsoft.Kubernetes", "connectedClusters")


def test_extensions_list_finds_the_azureml_extension_by_type(
    extensions_client: SourceControlConfigurationClient,
) -> None:
    found = list(extensions_client.extensions.list("rg-ml", *AKS_RP, "aks-ml"))
    assert [(e.name, e.extension_type, e.provisioning_state) for e in found] == [
        ("azureml", AZUREML, "Succeeded")
    ]
    arc = list(extensions_client.extensions.list("rg-ml", *ARC_RP, "arc-edge"))
    assert [e.name for e in arc] == ["ml-ext"]


def test_extension_flips_from_creating_to_succeeded_after_clock_advance(
    extensions_client: SourceControlConfigurationClient, clock: VirtualClock
) -> None:
    extension = extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-plain", "aml")
    assert extension.provisioning_state == "Creating"
    clock.advance(119)
    assert (
        extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-plain", "aml").provisioning_state
        == "Creating"
    )
    clock.advance(1)
    assert (
        extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-plain", "aml").provisioning_state
        == "Succeeded"
    )


def test_extension_begin_create_completes_at_once_when_the_world_has_no_install_delay(
    arm: ArmDouble, extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.extension_install_seconds = 0
    poller = extensions_client.extensions.begin_create(
        "rg-ml",
        *ARC_RP,
        "arc-edge",
        "second",
        Extension(
            extension_type=AZUREML,
            configuration_settings={"enableTraining": "True"},
            release_train="stable",
            auto_upgrade_minor_version=True,
        ),
    )
    created = poller.result(timeout=5)
    assert created.provisioning_state == "Succeeded"
    assert created.configuration_settings == {"enableTraining": "True"}
    assert arm.counts == {"reads": 2, "writes": 1}  # PUT, operation status, final GET
    cluster = world.cluster(ARC)
    assert cluster is not None and "second" in cluster.extensions


def test_extension_lro_fails_when_a_failure_is_injected(
    arm: ArmDouble, extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.extension_install_seconds = 0
    arm.fail_next_lro("/extensions/broken")
    with pytest.raises(HttpResponseError):
        extensions_client.extensions.begin_create(
            "rg-ml", *AKS_RP, "aks-ml", "broken", Extension(extension_type=AZUREML)
        ).result(timeout=5)
    extension = extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-ml", "broken")
    assert extension.provisioning_state == "Failed"


def test_extension_of_a_missing_cluster_is_404(
    extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.apply_change({"op": "delete_cluster", "resource": AKS})
    with pytest.raises(ResourceNotFoundError):
        list(extensions_client.extensions.list("rg-ml", *AKS_RP, "aks-ml"))
    with pytest.raises(ResourceNotFoundError):
        extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-ml", "azureml")


def test_set_extension_state_change_is_reported(
    extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.apply_change(
        {
            "op": "set_extension_state",
            "cluster": AKS,
            "name": "azureml",
            "provisioning_state": "Failed",
        }
    )
    assert (
        extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-ml", "azureml").provisioning_state
        == "Failed"
    )


def test_managed_namespace_create_then_get_and_snapshot(
    aks_client: ContainerServiceClient, world: World, arm: ArmDouble
) -> None:
    world.namespace_create_seconds = 0  # finish at once: this test waits on the poller
    with pytest.raises(ResourceNotFoundError):
        aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-y")
    created = aks_client.managed_namespaces.begin_create_or_update(
        "rg-ml",
        "aks-ml",
        "team-y",
        ManagedNamespace(
            location="westeurope",
            properties=NamespaceProperties(labels={"owner": "autoattach"}),
        ),
    ).result(timeout=5)
    assert created.properties is not None
    assert created.properties.provisioning_state == "Succeeded"
    fetched = aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-y")
    assert fetched.name == "team-y"
    assert fetched.properties is not None and fetched.properties.labels == {"owner": "autoattach"}
    assert {"cluster": AKS, "name": "team-y"} in world.snapshot()["namespaces"]
    assert any("/managedNamespaces/team-y" in r.path for r in arm.log)


def test_managed_namespace_needs_azure_rbac_on_the_cluster(
    aks_client: ContainerServiceClient, world: World
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        aks_client.managed_namespaces.begin_create_or_update(
            "rg-ml",
            "aks-plain",
            "team-y",
            ManagedNamespace(location="westeurope", properties=NamespaceProperties()),
        ).result(timeout=5)
    assert raised.value.status_code == 400
    assert "team-y" not in {n["name"] for n in world.snapshot()["namespaces"]}
    assert AKS_PLAIN


def test_extension_begin_delete_removes_it(
    extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    extensions_client.extensions.begin_delete("rg-ml", *AKS_RP, "aks-ml", "azureml").result(
        timeout=5
    )
    with pytest.raises(ResourceNotFoundError):
        extensions_client.extensions.get("rg-ml", *AKS_RP, "aks-ml", "azureml")
    cluster = world.cluster(AKS)
    assert cluster is not None and cluster.extensions == {}
