"""The cluster and extension adapters against the ARM double, with the real SDK clients: which
relay belongs to an Arc cluster, how connected it is, and where the product will not install."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.arm_double import ArmDouble
from sandbox.arm_ids import cli_relay_name
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import World
from shared.adapters.arm import ArmConnection
from shared.adapters.clusters import ArmClusters
from shared.adapters.extensions import ClusterExtensions
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import PermanentError
from shared.decisions.model import ExtensionPolicy, WhenExtensionMissing

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
EDGE = SUB + "/resourceGroups/rg-edge"
ARC_1 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
ARC_2 = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-2"
ARC_BARE = EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-bare"
TEAM_RELAY = EDGE + "/providers/Microsoft.Relay/namespaces/team-owned-relay"
AZUREML = "Microsoft.AzureML.Kubernetes"


def relay_of(cluster_id: str) -> ResourceId:
    return ResourceId.parse(
        f"{EDGE}/providers/Microsoft.Relay/namespaces/{cli_relay_name(cluster_id)}"
    )


def arc(cluster_id: str, **extension: Any) -> dict[str, Any]:
    return {
        "id": cluster_id,
        "location": "westeurope",
        "extensions": [{"name": "azureml", "extension_type": AZUREML, **extension}],
    }


WORLD: dict[str, Any] = {
    "clusters": [
        arc(ARC_1, relay=True),
        {**arc(ARC_2, relay=True), "connectivity_status": "Offline"},
        arc(ARC_BARE),
    ],
    "relays": [{"id": TEAM_RELAY, "location": "westeurope"}],
}


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


@pytest.fixture(scope="module")
def arm(tls: SandboxTls) -> Iterator[ArmDouble]:
    double = ArmDouble(World(), VirtualClock(), tls).start()
    yield double
    double.stop()


@pytest.fixture
def connection(arm: ArmDouble, tls: SandboxTls, monkeypatch: pytest.MonkeyPatch) -> ArmConnection:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    arm.use(World.from_dict(WORLD), VirtualClock())
    return ArmConnection(SandboxCredential(), arm.base_url)


def test_the_extension_state_carries_the_relay_namespace_its_settings_name(
    connection: ArmConnection,
) -> None:
    extensions = ClusterExtensions(connection)
    first = extensions.find_azureml(ResourceId.parse(ARC_1))
    second = extensions.find_azureml(ResourceId.parse(ARC_2))
    assert first is not None and first.relay == relay_of(ARC_1)
    assert second is not None and second.relay == relay_of(ARC_2)


def test_an_extension_that_names_no_hybrid_connection_has_no_relay(
    connection: ArmConnection,
) -> None:
    found = ClusterExtensions(connection).find_azureml(ResourceId.parse(ARC_BARE))
    assert found is not None and found.relay is None


def test_the_connectivity_status_of_an_arc_cluster_is_read(connection: ArmConnection) -> None:
    clusters = ArmClusters(connection)
    assert clusters.get(ResourceId.parse(ARC_1)).connectivity_status == "Connected"
    assert clusters.get(ResourceId.parse(ARC_2)).connectivity_status == "Offline"


def test_installing_on_an_arc_cluster_is_refused_before_any_request(
    connection: ArmConnection, arm: ArmDouble
) -> None:
    policy = ExtensionPolicy(when_missing=WhenExtensionMissing.INSTALL)
    with pytest.raises(PermanentError) as raised:
        ClusterExtensions(connection).install(ResourceId.parse(ARC_BARE), policy)
    message = str(raised.value)
    assert "only on AKS" in message and "az k8s-extension create" in message
    assert "--cluster-name arc-bare --resource-group rg-edge" in message
    assert [r for r in arm.log if r.method == "PUT"] == []
