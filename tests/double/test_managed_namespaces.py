"""AKS managed namespaces (ARM) are not Kubernetes namespaces: adoptionPolicy and deletePolicy,
driven by the real ContainerServiceClient."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedNamespace, NamespaceProperties

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import World
from shared.adapters.namespaces import API_VERSION
from tests.double.arm_world import AKS, AKS_PLAIN, SUB


@pytest.fixture
def aks_client(arm: ArmDouble, tls: SandboxTls, world: World) -> ContainerServiceClient:
    """Pinned to the api-version the product sends; namespace writes finish at once here (one
    test below gives them time)."""
    world.namespace_create_seconds = 0
    return ContainerServiceClient(
        SandboxCredential(),
        SUB,
        base_url=arm.base_url,
        connection_verify=str(tls.ca_bundle),
        api_version=API_VERSION,
    )


def put(
    client: ContainerServiceClient,
    name: str,
    adoption: str | None = "IfIdentical",
    labels: dict[str, str] | None = None,
    delete_policy: str = "Keep",
    cluster: str = "aks-ml",
) -> ManagedNamespace:
    properties = NamespaceProperties(
        labels=labels, adoption_policy=adoption, delete_policy=delete_policy
    )
    return client.managed_namespaces.begin_create_or_update(
        "rg-ml", cluster, name, ManagedNamespace(location="westeurope", properties=properties)
    ).result(timeout=5)


def kubernetes_names(world: World, cluster_id: str = AKS) -> set[str]:
    return {n["name"] for n in world.snapshot()["namespaces"] if n["cluster"] == cluster_id}


def managed(world: World, name: str) -> dict[str, str]:
    return next(m for m in world.snapshot()["managed_namespaces"] if m["name"] == name)


def test_a_namespace_only_in_kubernetes_is_not_an_arm_managed_namespace(
    aks_client: ContainerServiceClient, world: World
) -> None:
    assert "default" in kubernetes_names(world)

    with pytest.raises(ResourceNotFoundError):
        aks_client.managed_namespaces.get("rg-ml", "aks-ml", "default")
    assert list(aks_client.managed_namespaces.list_by_managed_cluster("rg-ml", "aks-ml")) == []


def test_the_azureml_extension_makes_its_namespace_in_kubernetes_not_in_arm(
    aks_client: ContainerServiceClient, world: World
) -> None:
    assert kubernetes_names(world) == {"default", "azureml"}

    with pytest.raises(ResourceNotFoundError):
        aks_client.managed_namespaces.get("rg-ml", "aks-ml", "azureml")


def test_the_extension_namespace_appears_once_the_install_has_succeeded(
    aks_client: ContainerServiceClient, world: World, clock: VirtualClock
) -> None:
    list(aks_client.managed_namespaces.list_by_managed_cluster("rg-ml", "aks-plain"))
    assert "azureml" not in kubernetes_names(world, AKS_PLAIN)

    clock.advance(120)
    list(aks_client.managed_namespaces.list_by_managed_cluster("rg-ml", "aks-plain"))

    assert "azureml" in kubernetes_names(world, AKS_PLAIN)


def test_a_new_namespace_is_made_in_kubernetes_and_managed_in_arm(
    aks_client: ContainerServiceClient, world: World
) -> None:
    created = put(aks_client, "team-y", "Never", {"managed-by": "autoattach"})

    assert created.properties is not None
    assert created.properties.provisioning_state == "Succeeded"
    assert created.properties.adoption_policy == "Never"
    assert created.properties.delete_policy == "Keep"
    assert "team-y" in kubernetes_names(world)
    assert managed(world, "team-y")["provisioning_state"] == "Succeeded"


def test_with_never_a_namespace_that_exists_in_kubernetes_fails_and_is_left_failed(
    aks_client: ContainerServiceClient, world: World
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        put(aks_client, "azureml", "Never")

    assert raised.value.error is not None
    assert raised.value.error.code == "NamespaceAlreadyExists"
    assert "adoptionPolicy" in str(raised.value)
    fetched = aks_client.managed_namespaces.get("rg-ml", "aks-ml", "azureml")
    assert fetched.properties is not None and fetched.properties.provisioning_state == "Failed"
    assert managed(world, "azureml")["provisioning_state"] == "Failed"
    assert "azureml" in kubernetes_names(world)  # the Kubernetes namespace is left alone


def test_an_absent_adoption_policy_refuses_an_existing_namespace_as_never_does(
    aks_client: ContainerServiceClient,
) -> None:
    with pytest.raises(HttpResponseError):
        put(aks_client, "default", None)


def test_with_if_identical_a_namespace_with_no_difference_is_adopted(
    aks_client: ContainerServiceClient, world: World
) -> None:
    adopted = put(aks_client, "azureml", "IfIdentical")

    assert adopted.properties is not None
    assert adopted.properties.provisioning_state == "Succeeded"
    assert adopted.properties.adoption_policy == "IfIdentical"
    assert managed(world, "azureml")["provisioning_state"] == "Succeeded"


def test_with_if_identical_a_namespace_whose_labels_differ_is_not_adopted(
    aks_client: ContainerServiceClient, world: World
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        put(aks_client, "azureml", "IfIdentical", {"managed-by": "autoattach"})

    assert raised.value.error is not None
    assert raised.value.error.code == "NamespaceNotIdentical"
    assert managed(world, "azureml")["provisioning_state"] == "Failed"


def test_with_always_a_namespace_is_adopted_and_the_labels_asked_for_are_set(
    aks_client: ContainerServiceClient, world: World
) -> None:
    put(aks_client, "azureml", "Always", {"managed-by": "autoattach"})

    cluster = world.cluster(AKS)
    assert cluster is not None
    assert cluster.namespaces["azureml"].labels["managed-by"] == "autoattach"
    assert managed(world, "azureml")["adoption_policy"] == "Always"


def test_a_failed_namespace_succeeds_when_put_again_with_a_policy_that_allows_it(
    aks_client: ContainerServiceClient,
) -> None:
    with pytest.raises(HttpResponseError):
        put(aks_client, "azureml", "Never")

    again = put(aks_client, "azureml", "IfIdentical")

    assert again.properties is not None and again.properties.provisioning_state == "Succeeded"


def test_an_injected_long_running_failure_leaves_the_namespace_failed(
    aks_client: ContainerServiceClient, arm: ArmDouble, world: World
) -> None:
    arm.fail_next_lro("/managedNamespaces/team-z")

    with pytest.raises(HttpResponseError):
        put(aks_client, "team-z")

    fetched = aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-z")
    assert fetched.properties is not None and fetched.properties.provisioning_state == "Failed"
    assert "team-z" not in kubernetes_names(world)


@pytest.mark.parametrize(("delete_policy", "kept"), [("Keep", True), ("Delete", False)])
def test_deleting_a_managed_namespace_follows_its_delete_policy(
    aks_client: ContainerServiceClient, world: World, delete_policy: str, kept: bool
) -> None:
    put(aks_client, "team-y", delete_policy=delete_policy)

    aks_client.managed_namespaces.begin_delete("rg-ml", "aks-ml", "team-y").result(timeout=5)

    with pytest.raises(ResourceNotFoundError):
        aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-y")
    assert ("team-y" in kubernetes_names(world)) is kept


@pytest.mark.parametrize("name", ["kube-system", "gatekeeper-system"])
def test_a_system_namespace_cannot_be_managed(
    aks_client: ContainerServiceClient, name: str
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        put(aks_client, name)

    assert raised.value.status_code == 400


def test_an_unknown_adoption_policy_is_a_bad_request(aks_client: ContainerServiceClient) -> None:
    with pytest.raises(HttpResponseError) as raised:
        put(aks_client, "team-y", "Sometimes")

    assert raised.value.status_code == 400


def test_a_namespace_write_takes_time_and_another_write_meanwhile_is_refused(
    aks_client: ContainerServiceClient, world: World, clock: VirtualClock
) -> None:
    world.namespace_create_seconds = 20
    body = ManagedNamespace(location="westeurope", properties=NamespaceProperties())
    first = aks_client.managed_namespaces.begin_create_or_update(
        "rg-ml", "aks-ml", "team-y", body, polling=False
    ).result()
    assert first.properties is not None and first.properties.provisioning_state == "Creating"

    with pytest.raises(HttpResponseError) as raised:
        aks_client.managed_namespaces.begin_create_or_update(
            "rg-ml", "aks-ml", "team-y", body, polling=False
        ).result()

    assert raised.value.status_code == 409
    clock.advance(20)
    fetched = aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-y")
    assert fetched.properties is not None and fetched.properties.provisioning_state == "Succeeded"


@pytest.mark.parametrize("api_version", ["2025-09-01", "2025-10-01", "2026-08-01"])
def test_managed_namespaces_are_served_at_the_stable_and_the_sdks_default_api_versions(
    arm: ArmDouble, tls: SandboxTls, world: World, api_version: str
) -> None:
    world.namespace_create_seconds = 0
    client = ContainerServiceClient(
        SandboxCredential(),
        SUB,
        base_url=arm.base_url,
        connection_verify=str(tls.ca_bundle),
        api_version=api_version,
    )
    put(client, "team-stable")
    assert client.managed_namespaces.get("rg-ml", "aks-ml", "team-stable").name == "team-stable"
    assert arm.contracts["violations"] == []


def test_a_managed_namespace_shows_deleting_while_its_delete_runs_then_is_gone(
    aks_client: ContainerServiceClient, world: World, clock: VirtualClock
) -> None:
    put(aks_client, "team-going")
    world.namespace_create_seconds = 20
    aks_client.managed_namespaces.begin_delete("rg-ml", "aks-ml", "team-going", polling=False)
    shown = aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-going")
    assert shown.properties.provisioning_state == "Deleting"
    clock.advance(20)
    with pytest.raises(ResourceNotFoundError):
        aks_client.managed_namespaces.get("rg-ml", "aks-ml", "team-going")
