"""How the double sorts ARM requests for the sandbox report: reads, polls and writes."""

from __future__ import annotations

from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension

from sandbox.arm_double import ArmDouble
from sandbox.world import World
from tests.double.arm_world import AZUREML


def test_a_long_running_write_is_one_write_one_poll_and_one_read(
    arm: ArmDouble, extensions_client: SourceControlConfigurationClient, world: World
) -> None:
    world.extension_install_seconds = 0
    extensions_client.extensions.begin_create(
        "rg-ml",
        "Microsoft.Kubernetes",
        "connectedClusters",
        "arc-edge",
        "second",
        Extension(
            extension_type=AZUREML,
            configuration_settings={"enableTraining": "True"},
            release_train="stable",
            auto_upgrade_minor_version=True,
        ),
    ).result(timeout=5)
    assert [r.kind for r in arm.log] == ["writes", "polls", "reads"]  # PUT, status, final GET
    assert arm.split_counts == {"reads": 1, "polls": 1, "writes": 1, "throttled": 0}
    assert arm.counts == {"reads": 2, "writes": 1}  # ``counts`` still has polls among reads


def test_a_delete_is_a_write(arm: ArmDouble, extensions_client: SourceControlConfigurationClient):
    extensions_client.extensions.begin_delete(
        "rg-ml", "Microsoft.Kubernetes", "connectedClusters", "arc-edge", "missing", polling=False
    )
    assert arm.split_counts["writes"] == 1
