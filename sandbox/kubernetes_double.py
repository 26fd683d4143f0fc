"""A Kubernetes API server double for clusters reached through the Kubernetes API (namespaces only).

One HTTPS server holds many clusters. Each cluster lives under its own path prefix,
``/clusters/<key>``, and its kubeconfig's ``server:`` includes that prefix (the official
``kubernetes`` client appends ``/api/v1/...`` to ``server`` verbatim, so a prefix works the same way
it does behind a real reverse proxy such as Rancher's or an API gateway).

Responses follow the real API server's shapes: ``Namespace``, ``NamespaceList`` and ``Status``
objects with the reasons the client and kubectl look at (``NotFound``, ``AlreadyExists``,
``Unauthorized``, ``Forbidden``, ``Invalid``, ``Conflict``).

A deleted namespace is not gone at once: as on a real cluster it stays, with a
``deletionTimestamp`` and ``status.phase: Terminating``, while its finalizers run (here
``terminating_seconds`` of the clock's virtual time). Creating it again meanwhile answers 409
``AlreadyExists`` with the API server's message ``object is being deleted: namespaces "x" already
exists``; deleting it again answers 409 ``Conflict``.

An Arc-connected cluster (a ``Microsoft.Kubernetes/connectedClusters`` id) also holds what the
Arc agents' Helm chart makes: namespace ``azure-arc`` with ConfigMap ``azure-clusterconfig``,
whose ``AZURE_SUBSCRIPTION_ID``, ``AZURE_RESOURCE_GROUP`` and ``AZURE_RESOURCE_NAME`` name the
connectedClusters resource it was connected as (read by ``GET
/api/v1/namespaces/azure-arc/configmaps/azure-clusterconfig``; the Azure CLI's connectedk8s and
Azure IoT Operations extensions compare the same three keys, case-insensitively, before acting on
a cluster). ``set_configmaps_forbidden`` makes that read answer 403, as when the kubeconfig's
identity may manage namespaces but not read ConfigMaps there.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from sandbox.clock import VirtualClock
from sandbox.https import HttpsDouble, Request, Response
from sandbox.tls import SandboxTls
from shared.decisions.arm_id import CONNECTED_CLUSTER, ResourceId

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PREFIX = re.compile(r"^/clusters/(?P<key>[0-9a-f]+)(?P<rest>/.*)?$")
# How long a deleted namespace stays Terminating (virtual seconds). Real clusters take from a few
# seconds to minutes (finalizers, content to remove); a guess, configurable per double.
DEFAULT_TERMINATING_SECONDS = 30.0
ARC_NAMESPACE = "azure-arc"
ARC_CONFIGMAP = "azure-clusterconfig"


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: str | None


@dataclass
class _Cluster:
    cluster_id: str
    key: str
    token: str
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    purge_at: dict[str, float] = field(default_factory=dict)  # Terminating name -> gone at
    forbidden: bool = False
    configmaps_forbidden: bool = False
    faults: list[_Fault] = field(default_factory=list)
    configmaps: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class KubernetesApiDouble:
    """Serves ``/clusters/<key>/api/v1/namespaces[...]`` for each cluster from ``add_cluster``.

    ``counts`` is a Counter of ``reads`` (GET) and ``writes`` (POST/DELETE) that reached a cluster,
    plus ``unauthorized`` and ``forbidden`` for rejected requests and ``faults`` for injected ones.
    """

    def __init__(
        self,
        tls: SandboxTls,
        *,
        clock: VirtualClock | None = None,
        terminating_seconds: float = DEFAULT_TERMINATING_SECONDS,
    ) -> None:
        self._tls = tls
        self._seconds: Callable[[], float] = (clock or VirtualClock()).seconds
        self.terminating_seconds = terminating_seconds
        self._server = HttpsDouble(tls, self._handle)
        self._lock = threading.Lock()
        self._clusters: dict[str, _Cluster] = {}
        self._resource_version = 1
        self.counts: Counter[str] = Counter()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> KubernetesApiDouble:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    # -- test and sandbox API --------------------------------------------------------------

    def add_cluster(self, cluster_id: str, namespaces: list[str] | None = None) -> str:
        """Register a cluster (an ARM id, case-insensitive) and return a kubeconfig for it."""
        arm_id = ResourceId.parse(cluster_id)
        key = hashlib.sha256(arm_id.key.encode()).hexdigest()[:16]
        cluster = _Cluster(cluster_id=arm_id.raw, key=key, token=secrets.token_urlsafe(32))
        with self._lock:
            for name in ["default"] if namespaces is None else namespaces:
                cluster.namespaces[name] = self._namespace_object(name, {})
            if arm_id.resource_type == CONNECTED_CLUSTER:
                # (the azure-arc namespace itself is not listed: ``namespaces`` shows the ones
                # the world and autoattach made)
                cluster.configmaps[(ARC_NAMESPACE, ARC_CONFIGMAP)] = self._configmap(
                    ARC_NAMESPACE, ARC_CONFIGMAP, _arc_cluster_config(arm_id)
                )
            self._clusters[arm_id.key] = cluster
        return self._kubeconfig(cluster, arm_id.name)

    def rotate_token(self, cluster_id: str) -> str:
        """Invalidate the cluster's bearer token (old kubeconfigs now get 401); new kubeconfig."""
        with self._lock:
            cluster = self._cluster(cluster_id)
            cluster.token = secrets.token_urlsafe(32)
        return self._kubeconfig(cluster, ResourceId.parse(cluster_id).name)

    def namespaces(self, cluster_id: str) -> list[str]:
        """Every namespace the cluster lists, Terminating ones included (as kubectl shows)."""
        with self._lock:
            cluster = self._cluster(cluster_id)
            self._purge(cluster)
            return sorted(cluster.namespaces)

    def phase(self, cluster_id: str, namespace: str) -> str | None:
        """``Active`` or ``Terminating``; None when the namespace is not there."""
        with self._lock:
            cluster = self._cluster(cluster_id)
            self._purge(cluster)
            found = cluster.namespaces.get(namespace)
            return str(found["status"]["phase"]) if found else None

    def labels(self, cluster_id: str, namespace: str) -> dict[str, str]:
        with self._lock:
            labels = self._cluster(cluster_id).namespaces[namespace]["metadata"]["labels"]
            return dict(labels)

    def add_namespace(
        self, cluster_id: str, namespace: str, labels: dict[str, str] | None = None
    ) -> None:
        """Make a namespace as something else in the cluster would (a Helm chart, a person):
        the AzureML extension makes its release namespace (``azureml``) when it installs."""
        with self._lock:
            cluster = self._cluster(cluster_id)
            self._purge(cluster)
            if namespace not in cluster.namespaces:
                cluster.namespaces[namespace] = self._namespace_object(namespace, labels or {})

    def set_configmaps_forbidden(self, cluster_id: str, forbidden: bool = True) -> None:
        """While set, reading a ConfigMap of the cluster answers 403 (RBAC allows namespaces
        only)."""
        with self._lock:
            self._cluster(cluster_id).configmaps_forbidden = forbidden

    def set_forbidden(self, cluster_id: str, forbidden: bool = True) -> None:
        """While set, namespace requests to the cluster get 403 Forbidden (RBAC denies)."""
        with self._lock:
            self._cluster(cluster_id).forbidden = forbidden

    def fail_next(
        self, cluster_id: str, status: int = 503, times: int = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next ``times`` requests to the cluster with ``status`` (a Status object)."""
        with self._lock:
            self._cluster(cluster_id).faults.append(_Fault(status, times, retry_after))

    # -- HTTP ------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        match = _PREFIX.match(request.path)
        with self._lock:
            cluster = next(
                (c for c in self._clusters.values() if match and c.key == match["key"]), None
            )
            if match is None or cluster is None:
                return _status(404, "NotFound", "the server could not find the requested resource")
            return self._serve(cluster, request, match["rest"] or "/")

    def _serve(self, cluster: _Cluster, request: Request, path: str) -> Response:
        self._purge(cluster)
        if request.headers.get("authorization") != f"Bearer {cluster.token}":
            self.counts["unauthorized"] += 1
            return _status(401, "Unauthorized", "Unauthorized")
        if cluster.faults:
            fault = cluster.faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                cluster.faults.pop(0)
            self.counts["faults"] += 1
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            reason = "TooManyRequests" if fault.status == 429 else "InternalError"
            response = _status(fault.status, reason, "injected fault")
            response.headers.update(headers)
            return response
        parts = [p for p in path.split("/") if p]
        if parts in (["api"], ["api", "v1"], ["version"]):
            self.counts["reads"] += 1
            return self._discovery(parts)
        if len(parts) == 6 and parts[:3] + parts[4:5] == ["api", "v1", "namespaces", "configmaps"]:
            return self._configmap_read(cluster, request, parts[3], parts[5])
        if parts[:3] != ["api", "v1", "namespaces"] or len(parts) > 4:
            return _status(404, "NotFound", "the server could not find the requested resource")
        name = parts[3] if len(parts) == 4 else None
        verb = {"GET": "get" if name else "list", "POST": "create", "DELETE": "delete"}.get(
            request.method
        )
        if verb is None or (verb == "create" and name) or (verb == "delete" and not name):
            return _status(405, "MethodNotAllowed", "the server does not allow this method")
        self.counts["reads" if request.method == "GET" else "writes"] += 1
        if cluster.forbidden:
            self.counts["forbidden"] += 1
            return _forbidden(verb, name)
        if verb == "list":
            items = [cluster.namespaces[n] for n in sorted(cluster.namespaces)]
            meta = {"resourceVersion": str(self._resource_version)}
            return Response(
                200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": meta, "items": items}
            )
        if verb == "create":
            return self._create(cluster, request)
        assert name is not None
        if name not in cluster.namespaces:
            return _status(404, "NotFound", f'namespaces "{name}" not found', name=name)
        if verb == "get":
            return Response(200, cluster.namespaces[name])
        return self._delete(cluster, name)

    def _configmap_read(
        self, cluster: _Cluster, request: Request, namespace: str, name: str
    ) -> Response:
        if request.method != "GET":
            return _status(405, "MethodNotAllowed", "the server does not allow this method")
        self.counts["reads"] += 1
        if cluster.configmaps_forbidden:
            self.counts["forbidden"] += 1
            user = "system:serviceaccount:autoattach:namespace-creator"
            message = (
                f'configmaps "{name}" is forbidden: User "{user}" cannot get resource '
                f'"configmaps" in API group "" in the namespace "{namespace}"'
            )
            return _status(403, "Forbidden", message)
        found = cluster.configmaps.get((namespace, name))
        if found is None:
            return _status(404, "NotFound", f'configmaps "{name}" not found', name=name)
        return Response(200, found)

    def _configmap(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
        self._resource_version += 1
        return {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(self._resource_version),
                "creationTimestamp": _now(),
            },
            "data": dict(data),
        }

    def _delete(self, cluster: _Cluster, name: str) -> Response:
        if name in cluster.purge_at:
            message = (
                f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring '
                "all content is removed from this namespace.  Upon completion, this namespace "
                "will automatically be purged by the system."
            )
            return _status(409, "Conflict", message, name=name)
        deleted = cluster.namespaces[name]
        deleted["metadata"]["deletionTimestamp"] = _now()
        deleted["status"] = {"phase": "Terminating"}
        cluster.purge_at[name] = self._seconds() + self.terminating_seconds
        self._purge(cluster)
        return Response(200, deleted)

    def _purge(self, cluster: _Cluster) -> None:
        """Remove the Terminating namespaces whose time has come."""
        now = self._seconds()
        for name, at in list(cluster.purge_at.items()):
            if now >= at:
                cluster.namespaces.pop(name, None)
                del cluster.purge_at[name]

    def _create(self, cluster: _Cluster, request: Request) -> Response:
        try:
            body = request.json()
            metadata = body["metadata"]
            name = metadata["name"]
        except (ValueError, KeyError, TypeError):
            return _status(400, "BadRequest", "the body of the request was in an unknown format")
        if body.get("kind", "Namespace") != "Namespace":
            return _status(400, "BadRequest", "the body must be a Namespace")
        if not isinstance(name, str) or len(name) > 63 or not _NAME.match(name):
            message = (
                f'Namespace "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character"
            )
            return _status(422, "Invalid", message, name=str(name))
        if name in cluster.namespaces:
            message = f'namespaces "{name}" already exists'
            if name in cluster.purge_at:
                message = f"object is being deleted: {message}"
            return _status(409, "AlreadyExists", message, name=name)
        created = self._namespace_object(name, dict(metadata.get("labels") or {}))
        cluster.namespaces[name] = created
        return Response(201, created)

    def _discovery(self, parts: list[str]) -> Response:
        if parts == ["version"]:
            version = {
                "major": "1",
                "minor": "31",
                "gitVersion": "v1.31.0-sandbox",
                "gitCommit": "0" * 40,
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.22.0",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
            return Response(200, version)
        if parts == ["api"]:
            return Response(200, {"kind": "APIVersions", "versions": ["v1"]})
        resource = {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["create", "delete", "get", "list"],
            "shortNames": ["ns"],
        }
        return Response(
            200,
            {"kind": "APIResourceList", "groupVersion": "v1", "resources": [resource]},
        )

    # -- helpers ---------------------------------------------------------------------------

    def _cluster(self, cluster_id: str) -> _Cluster:
        key = ResourceId.parse(cluster_id).key
        if key not in self._clusters:
            raise KeyError(f"no cluster {cluster_id!r} in the Kubernetes API double")
        return self._clusters[key]

    def _namespace_object(self, name: str, labels: dict[str, str]) -> dict[str, Any]:
        self._resource_version += 1
        return {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(self._resource_version),
                "creationTimestamp": _now(),
                "labels": {**labels, "kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def _kubeconfig(self, cluster: _Cluster, name: str) -> str:
        ca_data = base64.b64encode(self._tls.ca_bundle.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": f"{self.base_url}/clusters/{cluster.key}",
                        "certificate-authority-data": ca_data,
                    },
                }
            ],
            "users": [{"name": "autoattach", "user": {"token": cluster.token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "autoattach"}}],
            "current-context": name,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)


def _arc_cluster_config(arm_id: ResourceId) -> dict[str, str]:
    """What the Arc agents' chart writes (the keys autoattach and the Azure CLI compare, and a
    few others it holds)."""
    return {
        "AZURE_SUBSCRIPTION_ID": arm_id.subscription,
        "AZURE_RESOURCE_GROUP": arm_id.resource_group,
        "AZURE_RESOURCE_NAME": arm_id.name,
        "AZURE_REGION": "eastus",
        "AZURE_ENVIRONMENT": "AZUREPUBLICCLOUD",
        "AZURE_ARC_AGENT_VERSION": "1.21.10",
        "ARC_AGENT_HELM_CHART_NAME": "azure-arc",
    }


def _status(status: int, reason: str, message: str, *, name: str | None = None) -> Response:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": status,
    }
    if name is not None:
        body["details"] = {"name": name, "kind": "namespaces"}
    return Response(status, body)


def _forbidden(verb: str, name: str | None) -> Response:
    user = "system:serviceaccount:autoattach:namespace-creator"
    subject = f'namespaces "{name}"' if name else "namespaces"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "namespaces" '
        'in API group "" at the cluster scope'
    )
    response = _status(403, "Forbidden", message)
    response.body["details"] = {"kind": "namespaces", **({"name": name} if name else {})}
    return response


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
