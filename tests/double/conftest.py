"""Fixtures for the double's own tests: a world, a started ARM double and real SDK clients."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.ai.ml import MLClient
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.eventgrid_double import EventGridDouble
from sandbox.tls import SandboxTls
from sandbox.world import World
from shared.adapters.namespaces import container_service_client
from tests.double.arm_world import BASE_WORLD, SUB


@pytest.fixture(scope="session")
def tls() -> SandboxTls:
    return SandboxTls.create()


@pytest.fixture
def world() -> World:
    return World.from_dict(copy.deepcopy(BASE_WORLD))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(scope="session")
def arm_server(tls: SandboxTls) -> Iterator[ArmDouble]:
    """One running double for the session (stopping one costs ~0.5 s); each test swaps its world."""
    double = ArmDouble(World(), VirtualClock(), tls).start()
    yield double
    double.stop()


@pytest.fixture
def arm(arm_server: ArmDouble, world: World, clock: VirtualClock) -> ArmDouble:
    arm_server.use(world, clock)
    return arm_server


@pytest.fixture
def topic(tls: SandboxTls) -> Iterator[EventGridDouble]:
    double = EventGridDouble(tls).start()
    yield double
    double.stop()


@pytest.fixture
def credential() -> SandboxCredential:
    return SandboxCredential()


MgmtFactory = Callable[[type], Any]


@pytest.fixture
def mgmt(arm: ArmDouble, tls: SandboxTls, credential: SandboxCredential) -> MgmtFactory:
    """``mgmt(ResourceManagementClient)`` builds a real mgmt client pointed at the double."""

    def build(client_class: type) -> Any:
        return client_class(
            credential, SUB, base_url=arm.base_url, connection_verify=str(tls.ca_bundle)
        )

    return build


@pytest.fixture
def resources(mgmt: MgmtFactory) -> ResourceManagementClient:
    return mgmt(ResourceManagementClient)  # type: ignore[no-any-return]


@pytest.fixture
def extensions_client(mgmt: MgmtFactory) -> SourceControlConfigurationClient:
    return mgmt(SourceControlConfigurationClient)  # type: ignore[no-any-return]


@pytest.fixture
def aks_client(mgmt: MgmtFactory) -> ContainerServiceClient:
    # Pinned to the api-version the product uses (one the published type data has).
    return mgmt(container_service_client)  # type: ignore[no-any-return]


@pytest.fixture
def authorization(mgmt: MgmtFactory) -> AuthorizationManagementClient:
    return mgmt(AuthorizationManagementClient)  # type: ignore[no-any-return]


MlFactory = Callable[[str], MLClient]


@pytest.fixture
def ml_for(
    arm: ArmDouble, tls: SandboxTls, credential: SandboxCredential, monkeypatch: pytest.MonkeyPatch
) -> MlFactory:
    """``ml_for("ws-research")`` builds an MLClient for that workspace, pointed at the double."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    url = arm.base_url

    def build(workspace: str) -> MLClient:
        return MLClient(
            credential,
            SUB,
            "rg-ml",
            workspace,
            # azure-ai-ml registers clouds process-wide and never overwrites one: a second
            # double on another port needs its own cloud name.
            cloud=f"AutoattachSandbox-{url.rsplit(':', 1)[-1]}",
            cloud_metadata={
                "azure_portal": url,
                "resource_manager": url + "/",
                "active_directory": url + "/",
                "aml_resource_id": url + "/",
                "storage_endpoint": "core.windows.net",
                "registry_discovery_endpoint": url + "/",
            },
        )

    return build


@pytest.fixture
def ml(ml_for: MlFactory) -> MLClient:
    return ml_for("ws-research")
