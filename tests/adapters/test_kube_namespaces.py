"""The Kubernetes-API namespace adapter: kubeconfig from the Key Vault double, the cluster from the
Kubernetes API double, real SecretClient and real kubernetes client over TLS."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from sandbox.credential import SandboxCredential
from sandbox.keyvault_double import KeyVaultDouble
from sandbox.kubernetes_double import KubernetesApiDouble
from sandbox.tls import SandboxTls
from shared.adapters.arm import IN_CALL_RETRIES
from shared.adapters.kube_namespaces import KubernetesApiNamespaces, parse_secret_uri
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import PermanentError, TransientError

LABELS = {"app.kubernetes.io/managed-by": "autoattach"}


@dataclass
class Sandbox:
    """Doubles shared by the module (stopping one costs half a second); a fresh cluster, secret
    and adapter per test, so counts are read as differences from ``reads_before``."""

    vault: KeyVaultDouble
    kube: KubernetesApiDouble
    adapter: KubernetesApiNamespaces
    cluster: str
    secret: str
    uri: str
    kubeconfig: str
    reads_before: int

    def namespaces(self) -> list[str]:
        return self.kube.namespaces(self.cluster)

    @property
    def arc(self) -> ResourceId:
        return ResourceId.parse(self.cluster)

    @property
    def secret_reads(self) -> int:
        return self.vault.counts["reads"] - self.reads_before


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


@pytest.fixture(scope="module")
def vault(tls: SandboxTls) -> Iterator[KeyVaultDouble]:
    server = KeyVaultDouble(tls).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kube(tls: SandboxTls) -> Iterator[KubernetesApiDouble]:
    server = KubernetesApiDouble(tls).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(tls: SandboxTls, vault: KeyVaultDouble, kube: KubernetesApiDouble) -> Iterator[Sandbox]:
    name = f"arc-{uuid.uuid4().hex[:8]}"
    cluster = (
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml"
        f"/providers/Microsoft.Kubernetes/connectedClusters/{name}"
    )
    kubeconfig = kube.add_cluster(cluster)
    secret = f"kubeconfig-{name}"
    vault.set_secret(secret, kubeconfig)
    adapter = KubernetesApiNamespaces(SandboxCredential(), connection_verify=str(tls.ca_bundle))
    uri = vault.secret_uri(secret)
    yield Sandbox(vault, kube, adapter, cluster, secret, uri, kubeconfig, vault.counts["reads"])
    adapter.close()


def token_of(kubeconfig: str) -> str:
    return str(yaml.safe_load(kubeconfig)["users"][0]["user"]["token"])


def test_namespace_created_through_a_kubeconfig_from_key_vault_exists_on_the_cluster(
    sandbox: Sandbox,
) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert "team-a" in sandbox.namespaces()
    assert (
        sandbox.kube.labels(sandbox.cluster, "team-a")["app.kubernetes.io/managed-by"]
        == "autoattach"
    )
    assert sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")


def test_creating_a_namespace_that_already_exists_succeeds(sandbox: Sandbox) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert sandbox.namespaces() == ["default", "team-a"]


def test_a_missing_namespace_does_not_exist(sandbox: Sandbox) -> None:
    assert not sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")


def test_deleting_leaves_the_namespace_terminating_and_deleting_again_succeeds(
    sandbox: Sandbox,
) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    sandbox.adapter.delete(sandbox.arc, sandbox.uri, "team-a")
    sandbox.adapter.delete(sandbox.arc, sandbox.uri, "team-a")

    assert sandbox.kube.phase(sandbox.cluster, "team-a") == "Terminating"


def test_a_terminating_namespace_does_not_exist_yet(sandbox: Sandbox) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)
    sandbox.adapter.delete(sandbox.arc, sandbox.uri, "team-a")

    assert not sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")


def test_creating_a_namespace_that_is_still_terminating_is_transient(sandbox: Sandbox) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)
    sandbox.adapter.delete(sandbox.arc, sandbox.uri, "team-a")

    with pytest.raises(TransientError) as raised:
        sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert raised.value.reason == "NamespaceTerminating"
    assert "team-a" in str(raised.value) and "Terminating" in str(raised.value)


def test_the_secret_is_read_once_for_many_calls_on_one_cluster(sandbox: Sandbox) -> None:
    sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)
    sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    assert sandbox.secret_reads == 1


def test_a_versioned_secret_uri_reads_that_version(sandbox: Sandbox) -> None:
    version = sandbox.vault.set_secret("kubeconfig-pinned", sandbox.kubeconfig)
    sandbox.vault.set_secret("kubeconfig-pinned", "not: a kubeconfig")

    sandbox.adapter.create(
        sandbox.arc, sandbox.vault.secret_uri("kubeconfig-pinned", version), "team-a", {}
    )

    assert "team-a" in sandbox.namespaces()


def test_a_stale_token_is_transient_after_one_re_read_naming_the_secret_but_not_the_token(
    sandbox: Sandbox,
) -> None:
    sandbox.kube.rotate_token(sandbox.cluster)  # the kubeconfig in Key Vault is now stale

    with pytest.raises(TransientError) as raised:
        sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert raised.value.reason == "KubernetesUnauthorized"
    assert sandbox.uri in str(raised.value)
    assert "rejected" in str(raised.value)
    assert token_of(sandbox.kubeconfig) not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert sandbox.secret_reads == 2  # the first read and one re-read, no more


def test_a_correctly_rotated_kubeconfig_works_on_the_next_call_after_one_re_read(
    sandbox: Sandbox,
) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)  # the client is cached now

    sandbox.vault.set_secret(sandbox.secret, sandbox.kube.rotate_token(sandbox.cluster))

    assert sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-b", LABELS)
    assert sandbox.secret_reads == 2
    assert "team-b" in sandbox.namespaces()


def test_rbac_that_denies_namespaces_is_kubernetes_forbidden(sandbox: Sandbox) -> None:
    sandbox.kube.set_forbidden(sandbox.cluster, True)

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    assert raised.value.reason == "KubernetesForbidden"


def test_a_fixed_secret_is_read_again_after_a_stale_one_was_rejected(sandbox: Sandbox) -> None:
    fresh = sandbox.kube.rotate_token(sandbox.cluster)
    with pytest.raises(TransientError):
        sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    sandbox.vault.set_secret(sandbox.secret, fresh)
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert "team-a" in sandbox.namespaces()
    assert sandbox.secret_reads == 3


def test_a_fixed_secret_is_read_again_after_a_forbidden_answer(sandbox: Sandbox) -> None:
    sandbox.kube.set_forbidden(sandbox.cluster, True)
    with pytest.raises(PermanentError):
        sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    sandbox.kube.set_forbidden(sandbox.cluster, False)
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert "team-a" in sandbox.namespaces()
    assert sandbox.secret_reads == 2


def test_a_missing_secret_is_kubeconfig_secret_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.create(
            sandbox.arc, sandbox.vault.secret_uri("no-such-secret"), "team-a", LABELS
        )

    assert raised.value.reason == "KubeconfigSecretNotFound"


def test_a_503_from_the_api_server_is_transient(sandbox: Sandbox) -> None:
    sandbox.kube.fail_next(sandbox.cluster, 503)

    with pytest.raises(TransientError) as raised:
        sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)

    assert raised.value.reason == "HTTP503"
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)
    assert "team-a" in sandbox.namespaces()


def test_an_unreachable_api_server_is_transient(
    tls: SandboxTls, vault: KeyVaultDouble, sandbox: Sandbox
) -> None:
    gone = KubernetesApiDouble(tls).start()
    vault.set_secret("kubeconfig-gone", gone.add_cluster(sandbox.cluster))
    gone.stop()

    with pytest.raises(TransientError) as raised:
        sandbox.adapter.exists(sandbox.arc, vault.secret_uri("kubeconfig-gone"), "team-a")

    assert raised.value.reason == "Unreachable"


def test_key_vault_throttling_that_outlasts_the_sdk_retries_is_transient(
    sandbox: Sandbox,
) -> None:
    faults_before = sandbox.vault.counts["faults"]
    tries = 1 + IN_CALL_RETRIES  # the product's bounded in-call retries (shared.adapters.arm)
    sandbox.vault.fail_next(429, times=tries, retry_after="0.01")
    started = time.monotonic()

    with pytest.raises(TransientError) as raised:
        sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    assert raised.value.reason == "Throttled"
    assert sandbox.vault.counts["faults"] - faults_before == tries
    assert time.monotonic() - started < 5


def test_a_secret_that_is_not_a_kubeconfig_is_invalid_and_not_echoed(sandbox: Sandbox) -> None:
    sandbox.vault.set_secret("broken", "token: [hunter2-very-secret")

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.exists(sandbox.arc, sandbox.vault.secret_uri("broken"), "team-a")

    assert raised.value.reason == "KubeconfigInvalid"
    assert "hunter2" not in str(raised.value)
    assert raised.value.__suppress_context__


def test_a_kubeconfig_without_its_current_context_is_invalid(sandbox: Sandbox) -> None:
    config = yaml.safe_load(sandbox.kubeconfig)
    config["current-context"] = "elsewhere"
    sandbox.vault.set_secret("no-context", yaml.safe_dump(config))

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.exists(sandbox.arc, sandbox.vault.secret_uri("no-context"), "team-a")

    assert raised.value.reason == "KubeconfigInvalid"
    assert token_of(sandbox.kubeconfig) not in str(raised.value)


UNSAFE = {
    "insecure-skip-tls-verify": ("cluster", {"insecure-skip-tls-verify": True}),
    "http-server": ("cluster", {"server": "http://127.0.0.1:1/clusters/x"}),
    "ca-file": ("cluster", {"certificate-authority": "/etc/ssl/hunter2-ca.pem"}),
    "token-file": ("user", {"tokenFile": "/var/run/secrets/hunter2-token"}),
    "client-cert-files": (
        "user",
        {"client-certificate": "/tmp/hunter2.crt", "client-key": "/tmp/hunter2.key"},
    ),
    "basic-auth": ("user", {"username": "admin", "password": "hunter2"}),
    "exec": ("user", {"exec": {"command": "touch", "args": ["/tmp/hunter2-pwned"]}}),
    "auth-provider": ("user", {"auth-provider": {"name": "oidc", "config": {"x": "hunter2"}}}),
    "no-credential": ("user", {}),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_an_unsafe_kubeconfig_is_refused_naming_the_secret_and_not_its_content(
    sandbox: Sandbox, case: str
) -> None:
    where, change = UNSAFE[case]
    config = yaml.safe_load(sandbox.kubeconfig)
    if where == "cluster":
        config["clusters"][0]["cluster"].update(change)
    else:
        config["users"][0]["user"] = change
    sandbox.vault.set_secret(f"unsafe-{case}", yaml.safe_dump(config))
    uri = sandbox.vault.secret_uri(f"unsafe-{case}")
    writes_before = sandbox.kube.counts["writes"]

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.create(sandbox.arc, uri, "team-a", LABELS)

    assert raised.value.reason == "UnsafeKubeconfig"
    assert uri in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert token_of(sandbox.kubeconfig) not in str(raised.value)
    assert sandbox.kube.counts["writes"] == writes_before


@pytest.mark.parametrize(
    "uri",
    [
        "kubeconfig-arc-one",
        "http://vault.vault.azure.net/secrets/kubeconfig",
        "https://vault.vault.azure.net/keys/kubeconfig",
        "https://vault.vault.azure.net/secrets/",
        "https://vault.vault.azure.net/secrets/a/not-a-version",
        "https://vault.vault.azure.net/secrets/a_b",
        "https://vault.vault.azure.net/secrets/a?x=1",
    ],
)
def test_a_malformed_secret_uri_is_permanent(sandbox: Sandbox, uri: str) -> None:
    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.exists(sandbox.arc, uri, "team-a")

    assert raised.value.reason == "KubeconfigSecretUriInvalid"
    assert sandbox.secret_reads == 0


def test_secret_uris_parse_into_vault_name_and_version() -> None:
    version = "4387e9f3d6e14c459867679a90fd0f79"

    assert parse_secret_uri("https://kv.vault.azure.net/secrets/kc") == (
        "https://kv.vault.azure.net",
        "kc",
        None,
    )
    assert parse_secret_uri(f"https://127.0.0.1:8443/secrets/kc/{version}/") == (
        "https://127.0.0.1:8443",
        "kc",
        version,
    )


def test_no_log_line_carries_the_kubeconfig_or_its_token(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)
    sandbox.kube.rotate_token(sandbox.cluster)
    with pytest.raises(TransientError):
        sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    assert caplog.records
    assert token_of(sandbox.kubeconfig) not in caplog.text
    assert "certificate-authority-data" not in caplog.text


def test_the_kubeconfig_is_read_from_key_vault_through_the_products_transport_not_requests(
    sandbox: Sandbox, no_proxy: None, requests_sends: list[str]
) -> None:
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-t", LABELS)

    assert sandbox.secret_reads == 1
    assert requests_sends == []


def test_an_arc_kubeconfig_that_reaches_another_arc_cluster_is_refused_and_nothing_written(
    sandbox: Sandbox,
) -> None:
    twin = ResourceId.parse(sandbox.cluster.replace("/rg-ml/", "/rg-lab/"))

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.create(twin, sandbox.uri, "team-a", LABELS)

    assert raised.value.reason == "KubeconfigWrongCluster"
    message = str(raised.value)
    assert f"reaches Arc cluster {sandbox.arc.name} in resource group rg-ml" in message
    assert "nothing was read or written" in message
    assert "team-a" not in sandbox.namespaces()
    sandbox.adapter.create(sandbox.arc, sandbox.uri, "team-a", LABELS)  # its own cluster: fine
    assert "team-a" in sandbox.namespaces()


def test_an_arc_kubeconfig_that_may_not_read_the_arc_agents_configmap_is_not_used(
    sandbox: Sandbox,
) -> None:
    sandbox.kube.set_configmaps_forbidden(sandbox.cluster)

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.exists(sandbox.arc, sandbox.uri, "team-a")

    assert raised.value.reason == "KubeconfigClusterUnverified"
    assert "azure-arc/azure-clusterconfig" in str(raised.value)


def test_an_aks_kubeconfig_for_an_api_server_arm_does_not_give_for_the_cluster_is_refused(
    sandbox: Sandbox,
) -> None:
    config = yaml.safe_load(sandbox.kubeconfig)
    config["clusters"][0]["cluster"]["server"] = "https://aks-b-dns-1.hcp.westeurope.azmk8s.io"
    sandbox.vault.set_secret("kubeconfig-aks-b", yaml.safe_dump(config))
    aks = ResourceId.parse(
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml"
        "/providers/Microsoft.ContainerService/managedClusters/aks-a"
    )

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.create(
            aks,
            sandbox.vault.secret_uri("kubeconfig-aks-b"),
            "team-a",
            LABELS,
            api_server_hosts=("aks-a-dns-2.hcp.westeurope.azmk8s.io",),
        )

    assert raised.value.reason == "KubeconfigWrongCluster"
    assert "the AKS API server aks-b-dns-1.hcp.westeurope.azmk8s.io" in str(raised.value)
