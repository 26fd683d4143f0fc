"""The Kubernetes API double, driven by the official ``kubernetes`` client over TLS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.config import new_client_from_config_dict

from sandbox.clock import VirtualClock
from sandbox.kubernetes_double import DEFAULT_TERMINATING_SECONDS, KubernetesApiDouble
from sandbox.tls import SandboxTls

ARC = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml"
    "/providers/Microsoft.Kubernetes/connectedClusters/arc-one"
)
AKS = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml"
    "/providers/Microsoft.ContainerService/managedClusters/aks-two"
)


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


CLOCK = VirtualClock()


@pytest.fixture(scope="module")
def double(tls: SandboxTls) -> Iterator[KubernetesApiDouble]:
    # One server for the module (stopping costs half a second); add_cluster resets a cluster.
    server = KubernetesApiDouble(tls, clock=CLOCK).start()
    yield server
    server.stop()


def core(kubeconfig: str) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(new_client_from_config_dict(yaml.safe_load(kubeconfig)))


def names(api: k8s.CoreV1Api) -> list[str]:
    return [str(item.metadata.name) for item in api.list_namespace().items if item.metadata]


def status_of(error: pytest.ExceptionInfo[k8s.ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.value.body or "{}")
    return body


def namespace(name: str, labels: dict[str, str] | None = None) -> k8s.V1Namespace:
    return k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=labels))


def test_a_new_cluster_lists_its_initial_namespaces_to_the_real_client(
    double: KubernetesApiDouble,
) -> None:
    api = core(double.add_cluster(ARC, ["default", "kube-system"]))

    assert names(api) == ["default", "kube-system"]


def test_the_kubeconfig_server_carries_a_per_cluster_path_prefix_the_client_honours(
    double: KubernetesApiDouble,
) -> None:
    arc = double.add_cluster(ARC)
    double.add_cluster(AKS, ["default", "only-on-aks"])
    server = yaml.safe_load(arc)["clusters"][0]["cluster"]["server"]

    assert server.startswith(double.base_url + "/clusters/")
    assert names(core(arc)) == ["default"]


def test_a_created_namespace_keeps_its_labels_and_shows_in_the_double(
    double: KubernetesApiDouble,
) -> None:
    api = core(double.add_cluster(ARC))

    api.create_namespace(namespace("team-a", {"app.kubernetes.io/managed-by": "autoattach"}))

    assert double.namespaces(ARC) == ["default", "team-a"]
    assert double.labels(ARC, "team-a")["app.kubernetes.io/managed-by"] == "autoattach"
    status = api.read_namespace("team-a").status
    assert status is not None and status.phase == "Active"


def test_cluster_ids_are_case_insensitive(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC.upper()))

    api.create_namespace(namespace("team-a"))

    assert "team-a" in double.namespaces(ARC.lower())


def test_reading_a_missing_namespace_gets_a_not_found_status(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC))

    with pytest.raises(k8s.ApiException) as raised:
        api.read_namespace("missing")

    status = status_of(raised)
    assert raised.value.status == 404
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["message"] == 'namespaces "missing" not found'


def test_creating_an_existing_namespace_gets_already_exists(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC))

    with pytest.raises(k8s.ApiException) as raised:
        api.create_namespace(namespace("default"))

    assert raised.value.status == 409
    assert status_of(raised)["reason"] == "AlreadyExists"


def test_a_name_that_is_not_an_rfc_1123_label_is_invalid(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC))

    with pytest.raises(k8s.ApiException) as raised:
        api.create_namespace(namespace("Team_A"))

    assert raised.value.status == 422
    assert status_of(raised)["reason"] == "Invalid"


def test_a_deleted_namespace_stays_terminating_until_its_time_has_passed(
    double: KubernetesApiDouble,
) -> None:
    api = core(double.add_cluster(ARC, ["default", "team-a"]))

    api.delete_namespace("team-a")

    terminating = api.read_namespace("team-a")
    assert terminating.status is not None and terminating.status.phase == "Terminating"
    assert terminating.metadata is not None and terminating.metadata.deletion_timestamp
    assert double.namespaces(ARC) == ["default", "team-a"]
    CLOCK.advance(DEFAULT_TERMINATING_SECONDS)
    assert double.namespaces(ARC) == ["default"]
    with pytest.raises(k8s.ApiException) as raised:
        api.read_namespace("team-a")
    assert raised.value.status == 404


def test_creating_a_namespace_that_is_still_terminating_gets_already_exists_being_deleted(
    double: KubernetesApiDouble,
) -> None:
    api = core(double.add_cluster(ARC, ["default", "team-a"]))
    api.delete_namespace("team-a")

    with pytest.raises(k8s.ApiException) as raised:
        api.create_namespace(namespace("team-a"))

    status = status_of(raised)
    assert raised.value.status == 409
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'object is being deleted: namespaces "team-a" already exists'
    CLOCK.advance(DEFAULT_TERMINATING_SECONDS)
    api.create_namespace(namespace("team-a"))
    status_after = api.read_namespace("team-a").status
    assert status_after is not None and status_after.phase == "Active"


def test_deleting_a_terminating_namespace_again_is_a_conflict(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC, ["default", "team-a"]))
    api.delete_namespace("team-a")

    with pytest.raises(k8s.ApiException) as raised:
        api.delete_namespace("team-a")

    assert raised.value.status == 409
    assert status_of(raised)["reason"] == "Conflict"


def test_a_double_without_terminating_time_removes_namespaces_at_once(tls: SandboxTls) -> None:
    server = KubernetesApiDouble(tls, terminating_seconds=0).start()
    try:
        api = core(server.add_cluster(ARC, ["default", "team-a"]))
        api.delete_namespace("team-a")
        assert server.namespaces(ARC) == ["default"]
    finally:
        server.stop()


def test_a_namespace_can_be_added_as_something_else_in_the_cluster_made_it(
    double: KubernetesApiDouble,
) -> None:
    api = core(double.add_cluster(ARC))

    double.add_namespace(ARC, "azureml", {"app.kubernetes.io/managed-by": "Helm"})

    assert names(api) == ["azureml", "default"]
    assert double.labels(ARC, "azureml")["app.kubernetes.io/managed-by"] == "Helm"


def test_a_token_from_another_cluster_is_unauthorized(double: KubernetesApiDouble) -> None:
    double.add_cluster(ARC)
    aks = yaml.safe_load(double.add_cluster(AKS))
    arc_server = yaml.safe_load(double.add_cluster(ARC))["clusters"][0]["cluster"]["server"]
    aks["clusters"][0]["cluster"]["server"] = arc_server
    before = double.counts["unauthorized"]

    with pytest.raises(k8s.ApiException) as raised:
        k8s.CoreV1Api(new_client_from_config_dict(aks)).list_namespace()

    assert raised.value.status == 401
    assert status_of(raised)["reason"] == "Unauthorized"
    assert double.counts["unauthorized"] - before == 1


def test_a_rotated_token_makes_the_old_kubeconfig_unauthorized(
    double: KubernetesApiDouble,
) -> None:
    old = core(double.add_cluster(ARC))
    new = core(double.rotate_token(ARC))

    with pytest.raises(k8s.ApiException) as raised:
        old.list_namespace()

    assert raised.value.status == 401
    assert len(new.list_namespace().items) == 1


def test_a_forbidden_cluster_answers_403_with_the_rbac_message(
    double: KubernetesApiDouble,
) -> None:
    api = core(double.add_cluster(ARC))
    double.set_forbidden(ARC, True)

    with pytest.raises(k8s.ApiException) as raised:
        api.create_namespace(namespace("team-a"))

    status = status_of(raised)
    assert raised.value.status == 403
    assert status["reason"] == "Forbidden"
    assert 'cannot create resource "namespaces"' in status["message"]
    assert double.namespaces(ARC) == ["default"]


def test_injected_faults_answer_the_next_requests_then_clear(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC))
    double.fail_next(ARC, 503)

    with pytest.raises(k8s.ApiException) as raised:
        api.list_namespace()

    assert raised.value.status == 503
    assert len(api.list_namespace().items) == 1


def test_discovery_and_version_are_served(double: KubernetesApiDouble) -> None:
    api_client = new_client_from_config_dict(yaml.safe_load(double.add_cluster(ARC)))

    resources = k8s.CoreV1Api(api_client).get_api_resources().resources
    version = k8s.VersionApi(api_client).get_code()

    assert [r.name for r in resources] == ["namespaces"]
    assert version.major == "1"


def test_reads_and_writes_are_counted(double: KubernetesApiDouble) -> None:
    api = core(double.add_cluster(ARC))
    before = dict(double.counts)

    api.create_namespace(namespace("team-a"))
    api.read_namespace("team-a")
    api.list_namespace()
    api.delete_namespace("team-a")
    with pytest.raises(k8s.ApiException):
        api.read_namespace("missing")  # a 404 is still a read

    delta = {k: v - before.get(k, 0) for k, v in double.counts.items()}
    assert (delta["reads"], delta["writes"]) == (3, 2)
