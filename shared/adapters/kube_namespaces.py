"""Namespaces through the Kubernetes API, with a kubeconfig the platform team keeps in Key Vault.

Used for Arc-connected clusters (and AKS without Azure RBAC), where ARM cannot make namespaces.
The attach policy names a Key Vault secret URI, ``https://<vault>.vault.azure.net/secrets/<name>``
with an optional ``/<version>``; the secret's value is a kubeconfig (YAML or JSON). The secret is
read once per URI per process, with the Function's managed identity, and the resulting
``ApiClient`` is kept; a 401/403 from the cluster drops it so a fixed secret is read next time.

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
from typing import Any, NoReturn
from urllib.parse import urlsplit

import urllib3
import yaml
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from kubernetes import client as k8s
from kubernetes.config import new_client_from_config_dict
from kubernetes.config.config_exception import ConfigException

from shared.errors import PermanentError, TransientError, azure_call

log = logging.getLogger(__name__)

_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VERSION = re.compile(r"^[0-9A-Fa-f]{32}$")
_TIMEOUT = (10, 30)  # connect, read seconds for each Kubernetes API call


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

    def exists(self, kubeconfig_secret_uri: str, namespace: str) -> bool:
        api = self._core(kubeconfig_secret_uri)
        try:
            api.read_namespace(namespace, _request_timeout=_TIMEOUT)
        except k8s.ApiException as error:
            if error.status == 404:
                return False
            self._fail(kubeconfig_secret_uri, f"reading namespace {namespace!r}", error)
        except urllib3.exceptions.HTTPError as error:
            self._unreachable(kubeconfig_secret_uri, f"reading namespace {namespace!r}", error)
        return True

    def create(self, kubeconfig_secret_uri: str, namespace: str, labels: dict[str, str]) -> None:
        api = self._core(kubeconfig_secret_uri)
        body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace, labels=dict(labels)))
        try:
            api.create_namespace(body, _request_timeout=_TIMEOUT)
            log.info("created namespace %s through %s", namespace, kubeconfig_secret_uri)
        except k8s.ApiException as error:
            if error.status == 409:
                return  # AlreadyExists: someone (maybe we, earlier) made it
            self._fail(kubeconfig_secret_uri, f"creating namespace {namespace!r}", error)
        except urllib3.exceptions.HTTPError as error:
            self._unreachable(kubeconfig_secret_uri, f"creating namespace {namespace!r}", error)

    def delete(self, kubeconfig_secret_uri: str, namespace: str) -> None:
        api = self._core(kubeconfig_secret_uri)
        try:
            api.delete_namespace(namespace, _request_timeout=_TIMEOUT)
            log.info("deleted namespace %s through %s", namespace, kubeconfig_secret_uri)
        except k8s.ApiException as error:
            if error.status == 404:
                return
            self._fail(kubeconfig_secret_uri, f"deleting namespace {namespace!r}", error)
        except urllib3.exceptions.HTTPError as error:
            self._unreachable(kubeconfig_secret_uri, f"deleting namespace {namespace!r}", error)

    def close(self) -> None:
        with self._lock:
            for api_client in self._clients.values():
                api_client.close()
            for secrets in self._vaults.values():
                secrets.close()
            self._clients.clear()
            self._vaults.clear()

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
                secrets = SecretClient(vault_url, self._credential, connection_verify=self._verify)
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
        if status in (401, 403):
            with self._lock:
                self._clients.pop(uri, None)  # read the secret again next time: it may be fixed
            raise PermanentError(
                f"{action}: the kubeconfig in {uri} is not allowed to manage namespaces on that "
                f"cluster (HTTP {status} {'Unauthorized' if status == 401 else 'Forbidden'})",
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
    for user in config.get("users") or []:
        spec = user.get("user") if isinstance(user, dict) else None
        if isinstance(spec, dict) and ("exec" in spec or "auth-provider" in spec):
            # An exec plugin would run a command inside the Function; only static credentials.
            raise invalid("users must use a token or client certificate, not exec/auth-provider")
    try:
        return new_client_from_config_dict(config, persist_config=False)
    except (ConfigException, KeyError, TypeError, ValueError, AttributeError) as error:
        raise invalid(f"{error.__class__.__name__} while loading it") from None


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
