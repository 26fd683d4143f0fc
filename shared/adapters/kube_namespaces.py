"""Namespaces through the Kubernetes API, with a kubeconfig the platform team keeps in Key Vault.

Used for Arc-connected clusters (and AKS without Azure RBAC), where ARM cannot make namespaces.
The attach policy names a Key Vault secret URI, ``https://<vault>.vault.azure.net/secrets/<name>``
with an optional ``/<version>``; the secret's value is a kubeconfig (YAML or JSON). The secret is
read once per URI per process, with the Function's managed identity, and the resulting
``ApiClient`` is kept. A 401 (rotated token) reads the secret again once and retries; if the
cluster still refuses, that is transient (the secret may be updated soon). A 403 (RBAC) is
permanent and also drops the client so a fixed secret is read next time.

Only safe kubeconfigs are used: an ``https://`` server verified with the system CAs or embedded
``certificate-authority-data``, and embedded credentials (``token``, or ``client-certificate-data``
with ``client-key-data``). ``insecure-skip-tls-verify``, ``http://`` servers, file paths
(``certificate-authority``, ``client-certificate``, ``client-key``, ``tokenFile``),
username/password and exec/auth-provider plugins are refused as ``UnsafeKubeconfig``.

Before a kubeconfig is used for a cluster (once per secret and cluster per process, again after
the secret is read again), it is checked to reach that cluster, as far as Kubernetes and ARM
tell: for an Arc cluster, the Arc agents' ConfigMap ``azure-arc/azure-clusterconfig`` must name
the same subscription, resource group and cluster (compared case-insensitively, as the Azure
CLI's connectedk8s and IoT Operations extensions do); for AKS, a kubeconfig whose server is an
AKS API server (``*.azmk8s.io``) must name one of the FQDNs ARM gives for the cluster. One that
reaches another cluster, or an Arc cluster's kubeconfig that may not read that ConfigMap, is a
``PermanentError`` (``KubeconfigWrongCluster``, ``KubeconfigClusterUnverified``) and nothing is
read or written through it. An AKS kubeconfig whose server is not an AKS API server (a proxy)
cannot be checked this way and is used as it is (docs/kubernetes-access.md).

Kubeconfig contents are secrets: no message or log line here carries any part of them, and
parsing errors are raised ``from None`` so no traceback quotes the YAML.

The ``kubernetes`` client writes ``certificate-authority-data`` (and ``client-key-data``, if the
kubeconfig uses client certificates) to ``mkstemp`` files, mode 0600, removed at process exit.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import urllib3
import yaml
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from kubernetes import client as k8s
from kubernetes.config import new_client_from_config_dict
from kubernetes.config.config_exception import ConfigException

from shared.adapters.arm import retry_kwargs, transport_kwargs
from shared.decisions.arm_id import CONNECTED_CLUSTER, ResourceId
from shared.decisions.errors import PermanentError, TransientError, azure_call

log = logging.getLogger(__name__)

_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VERSION = re.compile(r"^[0-9A-Fa-f]{32}$")
_TIMEOUT = (10, 30)  # connect, read seconds for each Kubernetes API call
ARC_NAMESPACE = "azure-arc"
ARC_CONFIGMAP = "azure-clusterconfig"
AKS_API_SERVER_DOMAIN = ".azmk8s.io"
_T = TypeVar("_T")


class KubernetesApiNamespaces:
    """Get, create and delete namespaces on clusters whose kubeconfig lives in Key Vault."""

    def __init__(
        self, credential: TokenCredential, *, connection_verify: str | bool = True
    ) -> None:
        self._credential = credential
        self._verify = connection_verify
        self._lock = threading.Lock()
        self._vaults: dict[str, SecretClient] = {}
        self._clients: dict[str, k8s.ApiClient] = {}
        self._verified: set[tuple[str, str]] = set()  # (secret URI, cluster key) checked

    def exists(
        self,
        cluster: ResourceId,
        kubeconfig_secret_uri: str,
        namespace: str,
        *,
        api_server_hosts: tuple[str, ...] = (),
    ) -> bool:
        """True for an Active namespace; False when missing or still Terminating (being
        deleted: nothing can run in it, and it cannot be made again until it is gone)."""

        def read(api: k8s.CoreV1Api) -> bool:
            try:
                found = api.read_namespace(namespace, _request_timeout=_TIMEOUT)
            except k8s.ApiException as error:
                if error.status == 404:
                    return False
                raise
            return not _terminating(found)

        action = f"reading namespace {namespace!r}"
        return self._call(cluster, kubeconfig_secret_uri, action, read, api_server_hosts)

    def create(
        self,
        cluster: ResourceId,
        kubeconfig_secret_uri: str,
        namespace: str,
        labels: dict[str, str],
        *,
        api_server_hosts: tuple[str, ...] = (),
    ) -> None:
        body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace, labels=dict(labels)))
        action = f"creating namespace {namespace!r}"

        def create(api: k8s.CoreV1Api) -> None:
            try:
                api.create_namespace(body, _request_timeout=_TIMEOUT)
            except k8s.ApiException as error:
                if error.status != 409:
                    raise
                if "being deleted" in _status_message(error):
                    raise TransientError(
                        f"{action} through {kubeconfig_secret_uri}: a namespace of that name is "
                        "still Terminating (being deleted); it can be made again once it is gone",
                        reason="NamespaceTerminating",
                    ) from None
                return  # AlreadyExists: someone (maybe we, earlier) made it
            log.info("created namespace %s through %s", namespace, kubeconfig_secret_uri)

        self._call(cluster, kubeconfig_secret_uri, action, create, api_server_hosts)

    def delete(
        self,
        cluster: ResourceId,
        kubeconfig_secret_uri: str,
        namespace: str,
        *,
        api_server_hosts: tuple[str, ...] = (),
    ) -> None:
        def delete(api: k8s.CoreV1Api) -> None:
            try:
                api.delete_namespace(namespace, _request_timeout=_TIMEOUT)
            except k8s.ApiException as error:
                if error.status in (404, 409):
                    return  # gone, or already Terminating
                raise
            log.info("deleted namespace %s through %s", namespace, kubeconfig_secret_uri)

        action = f"deleting namespace {namespace!r}"
        self._call(cluster, kubeconfig_secret_uri, action, delete, api_server_hosts)

    def close(self) -> None:
        with self._lock:
            for api_client in self._clients.values():
                api_client.close()
            for secrets in self._vaults.values():
                secrets.close()
            self._clients.clear()
            self._vaults.clear()

    # -- calls -----------------------------------------------------------------------------

    def _call(
        self,
        cluster: ResourceId,
        uri: str,
        action: str,
        call: Callable[[k8s.CoreV1Api], _T],
        api_server_hosts: tuple[str, ...],
    ) -> _T:
        """Run ``call`` with the cached client, once it is known to reach ``cluster``; on 401
        read the secret again once (it may have been rotated) and retry, and if the cluster
        still refuses it, fail transiently."""
        reread = False
        while True:
            api = self._core(uri)
            try:
                self._check_reaches(cluster, uri, api, api_server_hosts)
                return call(api)
            except k8s.ApiException as error:
                if error.status == 401 and not reread:
                    self._forget(uri)
                    reread = True
                    log.info("kubeconfig in %s was rejected; reading the secret again", uri)
                    continue
                self._fail(uri, action, error)
            except urllib3.exceptions.HTTPError as error:
                self._unreachable(uri, action, error)

    def _forget(self, uri: str) -> None:
        with self._lock:
            stale = self._clients.pop(uri, None)
            self._verified = {v for v in self._verified if v[0] != uri}
        if stale is not None:
            stale.close()

    # -- which cluster a kubeconfig reaches --------------------------------------------------

    def _check_reaches(
        self, cluster: ResourceId, uri: str, api: k8s.CoreV1Api, api_server_hosts: tuple[str, ...]
    ) -> None:
        with self._lock:
            if (uri, cluster.key) in self._verified:
                return
        if cluster.resource_type == CONNECTED_CLUSTER:
            self._verify_arc(cluster, uri, api)
        else:
            _verify_aks(cluster, uri, api, api_server_hosts)
        with self._lock:
            self._verified.add((uri, cluster.key))

    def _verify_arc(self, cluster: ResourceId, uri: str, api: k8s.CoreV1Api) -> None:
        where = f"ConfigMap {ARC_NAMESPACE}/{ARC_CONFIGMAP}"
        try:
            found = api.read_namespaced_config_map(
                ARC_CONFIGMAP, ARC_NAMESPACE, _request_timeout=_TIMEOUT
            )
        except k8s.ApiException as error:
            if error.status == 404:
                raise _wrong_cluster(
                    cluster, uri, f"a cluster that is not Arc-connected (it has no {where})"
                ) from None
            if error.status == 403:
                self._forget(uri)  # read the secret again next time: it may be fixed
                raise PermanentError(
                    f"the kubeconfig in {uri} may not read {where}, which says which Arc "
                    f"cluster it reaches, so it is not used for cluster {cluster}: nothing was "
                    f"written. Let it get that ConfigMap (docs/kubernetes-access.md)",
                    reason="KubeconfigClusterUnverified",
                ) from None
            raise
        data = found.data or {}
        reached = [
            str(data.get(key) or "")
            for key in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_RESOURCE_NAME")
        ]
        expected = [cluster.subscription, cluster.resource_group, cluster.name]
        if [r.lower() for r in reached] != [e.lower() for e in expected]:
            sub, group, name = (r or "?" for r in reached)
            raise _wrong_cluster(
                cluster,
                uri,
                f"Arc cluster {name} in resource group {group} of subscription {sub} "
                f"(its {where} says so)",
            )

    # -- clients ---------------------------------------------------------------------------

    def _core(self, uri: str) -> k8s.CoreV1Api:
        with self._lock:
            api_client = self._clients.get(uri)
        if api_client is None:
            api_client = self._load(uri)
            with self._lock:
                api_client = self._clients.setdefault(uri, api_client)
        return k8s.CoreV1Api(api_client)

    def _load(self, uri: str) -> k8s.ApiClient:
        vault_url, name, version = parse_secret_uri(uri)
        with self._lock:
            secrets = self._vaults.get(vault_url)
            if secrets is None:
                # the product's transport; a CA bundle given here is its (else the environment's)
                tls = {} if self._verify is True else {"connection_verify": self._verify}
                secrets = SecretClient(
                    vault_url,
                    self._credential,
                    connection_verify=self._verify,  # used by the requests transport (proxy)
                    **retry_kwargs(),
                    **transport_kwargs(**tls),
                )
                self._vaults[vault_url] = secrets
        with azure_call(f"reading kubeconfig secret {uri}"):
            try:
                value = secrets.get_secret(name, version).value
            except ResourceNotFoundError:
                raise PermanentError(
                    f"kubeconfig secret {uri} does not exist (or that version does not)",
                    reason="KubeconfigSecretNotFound",
                ) from None
        log.info("read kubeconfig secret %s", uri)
        return _api_client(uri, value)

    # -- failures --------------------------------------------------------------------------

    def _fail(self, uri: str, action: str, error: k8s.ApiException) -> NoReturn:
        status = error.status or 0
        if status == 401:
            self._forget(uri)  # read the secret again next time: it may be rotated by then
            raise TransientError(
                f"{action}: the cluster rejected the credentials of the kubeconfig in {uri} "
                "(HTTP 401 Unauthorized), also after reading the secret again; if the token was "
                "rotated, update the secret",
                reason="KubernetesUnauthorized",
            ) from None
        if status == 403:
            self._forget(uri)  # read the secret again next time: it may be fixed
            raise PermanentError(
                f"{action}: the kubeconfig in {uri} is not allowed to manage namespaces on that "
                "cluster (HTTP 403 Forbidden)",
                reason="KubernetesForbidden",
            ) from None
        if status in (408, 429) or status >= 500:
            raise TransientError(
                f"{action} through {uri}: Kubernetes API answered HTTP {status}",
                reason=f"HTTP{status}",
                retry_after=_retry_after(error),
            ) from None
        raise PermanentError(
            f"{action} through {uri}: Kubernetes API answered HTTP {status} {error.reason}",
            reason=f"Kubernetes{_status_reason(error) or f'HTTP{status}'}",
        ) from None

    def _unreachable(self, uri: str, action: str, error: Exception) -> NoReturn:
        raise TransientError(
            f"{action} through {uri}: the cluster's API server is unreachable "
            f"({error.__class__.__name__})",
            reason="Unreachable",
        ) from None


def _verify_aks(
    cluster: ResourceId, uri: str, api: k8s.CoreV1Api, api_server_hosts: tuple[str, ...]
) -> None:
    """An AKS API server's FQDN in the kubeconfig must be one ARM gives for this cluster; a
    server elsewhere (a proxy) cannot be told apart and is taken as it is."""
    host = (urlsplit(str(api.api_client.configuration.host)).hostname or "").lower()
    known = {h.lower().rstrip(".") for h in api_server_hosts if h}
    if known and host.endswith(AKS_API_SERVER_DOMAIN) and host not in known:
        raise _wrong_cluster(
            cluster,
            uri,
            f"the AKS API server {host}, which ARM does not give for this cluster "
            f"({', '.join(sorted(known))})",
        )


def _wrong_cluster(cluster: ResourceId, uri: str, reached: str) -> PermanentError:
    return PermanentError(
        f"the kubeconfig in {uri} reaches {reached}, not cluster {cluster}: nothing was "
        "read or written through it. Store this cluster's own kubeconfig in the secret the "
        "policy names for it (one secret per cluster: {cluster_id_hash} in kubeconfig_secret)",
        reason="KubeconfigWrongCluster",
    )


def parse_secret_uri(uri: str) -> tuple[str, str, str | None]:
    """``https://<vault>/secrets/<name>[/<version>]`` -> (vault URL, name, version or None)."""
    invalid = PermanentError(
        f"{uri!r} is not a Key Vault secret URI "
        "(expected https://<vault>.vault.azure.net/secrets/<name>[/<version>])",
        reason="KubeconfigSecretUriInvalid",
    )
    try:
        split = urlsplit(uri.strip())
        port = split.port
    except (ValueError, AttributeError):
        raise invalid from None
    parts = split.path.strip("/").split("/")
    if (
        split.scheme != "https"
        or not split.hostname
        or split.username is not None
        or split.query
        or split.fragment
        or len(parts) not in (2, 3)
        or parts[0] != "secrets"
        or not _SECRET_NAME.match(parts[1])
        or (len(parts) == 3 and not _VERSION.match(parts[2]))
    ):
        raise invalid
    vault_url = f"https://{split.hostname}" + (f":{port}" if port else "")
    return vault_url, parts[1], parts[2] if len(parts) == 3 else None


def _api_client(uri: str, kubeconfig: str | None) -> k8s.ApiClient:
    def invalid(why: str) -> PermanentError:
        return PermanentError(f"kubeconfig in {uri} is invalid: {why}", reason="KubeconfigInvalid")

    try:
        config: Any = yaml.safe_load(kubeconfig or "")
    except yaml.YAMLError:
        raise invalid("not YAML or JSON") from None
    if not isinstance(config, dict):
        raise invalid("not a kubeconfig mapping")
    unsafe = unsafe_kubeconfig_fields(config)
    if unsafe:
        raise PermanentError(
            f"kubeconfig in {uri} is refused as unsafe: {'; '.join(unsafe)}. Use an https:// "
            "server with TLS verification (certificate-authority-data or a public CA) and "
            "embedded credentials: a token, or client-certificate-data with client-key-data",
            reason="UnsafeKubeconfig",
        )
    try:
        return new_client_from_config_dict(config, persist_config=False)
    except (ConfigException, KeyError, TypeError, ValueError, AttributeError) as error:
        raise invalid(f"{error.__class__.__name__} while loading it") from None


# Fields that read files or run programs inside the Function, or weaken TLS: never used.
_UNSAFE_CLUSTER_FIELDS = {
    "insecure-skip-tls-verify": "skips TLS verification",
    "certificate-authority": "names a certificate authority file path",
}
_UNSAFE_USER_FIELDS = {
    "tokenFile": "reads its token from a file path",
    "client-certificate": "names a client certificate file path",
    "client-key": "names a client key file path",
    "username": "uses username/password",
    "password": "uses username/password",
    "exec": "runs an exec credential plugin",
    "auth-provider": "uses an auth-provider plugin",
}


def unsafe_kubeconfig_fields(config: dict[str, Any]) -> list[str]:
    """Pure: why a kubeconfig may not be used, naming entries (by index) and fields, never
    values: even entry names are part of the secret."""
    found: list[str] = []
    for index, entry in enumerate(config.get("clusters") or []):
        name = f"clusters[{index}]"
        spec = entry.get("cluster") if isinstance(entry, dict) else None
        if not isinstance(spec, dict):
            continue
        for key, why in _UNSAFE_CLUSTER_FIELDS.items():
            if spec.get(key) not in (None, False, ""):
                found.append(f"cluster {name} {why} ({key})")
        server = spec.get("server")
        if not isinstance(server, str) or not server.lower().startswith("https://"):
            found.append(f"cluster {name} server is not https://")
    for index, entry in enumerate(config.get("users") or []):
        name = f"users[{index}]"
        spec = entry.get("user") if isinstance(entry, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        reasons = dict.fromkeys(why for key, why in _UNSAFE_USER_FIELDS.items() if key in spec)
        found += [f"user {name} {why}" for why in reasons]
        has_token = bool(spec.get("token"))
        has_certificate = bool(spec.get("client-certificate-data")) and bool(
            spec.get("client-key-data")
        )
        if not reasons and not (has_token or has_certificate):
            found.append(f"user {name} has no embedded token or client certificate data")
    return found


def _terminating(namespace: k8s.V1Namespace) -> bool:
    metadata = namespace.metadata
    status = namespace.status
    if metadata is not None and metadata.deletion_timestamp is not None:
        return True
    return status is not None and status.phase == "Terminating"


def _status_message(error: k8s.ApiException) -> str:
    try:
        body = json.loads(error.body or "null")
    except (ValueError, TypeError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else ""


def _retry_after(error: k8s.ApiException) -> float | None:
    value = (error.headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_reason(error: k8s.ApiException) -> str:
    try:
        body = json.loads(error.body or "null")
    except (ValueError, TypeError):
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else ""
