"""The two Blob services the ledger adapter's tests run against: the Blob double (TLS, bearer
token, virtual clock) and Azurite, Microsoft's storage emulator (plain HTTP, its well-known
account's key, its clock moved by ``tests/azurite/clock.cjs``).

A test sees one ``BlobBackend``: ledgers pointed at it (each its own client, as Function instances
are), a client that reads what is stored, a clock to move, and the log of every request the
ledgers sent with its answer. The log is kept by the clients (azure-storage-blob's
``raw_response_hook``), so it reads the same whichever service answered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from sandbox.blob_double import BlobStorageDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from shared.adapters.ledger import CONTAINER, BlobClusterLedger, ledger_blob_name
from shared.decisions.arm_id import ResourceId
from tests.azurite.launcher import Azurite

BACKENDS = ("double", "azurite")


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    operation: str
    status: int
    code: str


@dataclass
class RequestLog:
    """Every request the ledgers sent, named as the Blob double names operations
    (``lease_acquire``, ``put_blob``, ``get_blob``, ...), refusals with their error code."""

    entries: list[LoggedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, response: Any) -> None:
        request, answer = response.http_request, response.http_response
        split = urlsplit(request.url)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        entry = LoggedRequest(
            path=unquote(split.path),
            operation=_operation(request.method, query, request.headers),
            status=answer.status_code,
            code=answer.headers.get("x-ms-error-code", "") if answer.status_code >= 400 else "",
        )
        with self._lock:
            self.entries.append(entry)

    def __len__(self) -> int:
        with self._lock:
            return len(self.entries)

    def since(self, start: int) -> list[LoggedRequest]:
        with self._lock:
            return list(self.entries[start:])

    def count(self, operation: str) -> int:
        return sum(1 for entry in self.since(0) if entry.operation == operation)

    def for_cluster(self, cluster: ResourceId, since: int) -> list[str]:
        """The operations on the cluster's ledger blob (refusals as ``operation->code``)."""
        name = ledger_blob_name(cluster)
        return [
            e.operation + (f"->{e.code}" if e.code else "")
            for e in self.since(since)
            if e.path.endswith(name)
        ]


def _operation(method: str, query: dict[str, str], headers: Any) -> str:
    if method == "PUT" and query.get("restype") == "container" and "comp" not in query:
        return "create_container"
    if method == "PUT" and query.get("comp") == "lease":
        return "lease_" + str(headers.get("x-ms-lease-action", "")).lower()
    if method == "PUT" and not query.get("comp"):
        return "put_blob"
    if method == "GET" and not query.get("comp") and not query.get("restype"):
        return "get_blob"
    if method == "HEAD" and not query.get("comp"):
        return "get_properties"
    return f"other:{method}"


@dataclass
class BlobBackend:
    name: str
    endpoint: str
    credential: Any
    advance: Callable[[float], None]
    options: dict[str, Any] = field(default_factory=dict)
    log: RequestLog = field(default_factory=RequestLog)

    def ledger(self, renew_every: float | None = None, **options: Any) -> BlobClusterLedger:
        """One Function instance's ledger (its own client)."""
        return BlobClusterLedger(
            self.endpoint,
            self.credential,
            renew_every=renew_every,
            raw_response_hook=self.log.hook,
            **self.options,
            **options,
        )

    def service(self) -> BlobServiceClient:
        """A client of the same account, not logged (someone else, or the test looking)."""
        return BlobServiceClient(self.endpoint, credential=self.credential, **self.options)

    def stored(self, cluster: ResourceId) -> dict[str, Any]:
        blob = self.service().get_blob_client(CONTAINER, ledger_blob_name(cluster))
        return dict(json.loads(blob.download_blob().readall()))

    def lease_state(self, cluster: ResourceId) -> str:
        blob = self.service().get_blob_client(CONTAINER, ledger_blob_name(cluster))
        return str(blob.get_blob_properties().lease.state)


@contextmanager
def double_backend(tls: SandboxTls) -> Iterator[BlobBackend]:
    double = BlobStorageDouble(tls, VirtualClock()).start()
    try:
        yield BlobBackend(
            "double",
            double.endpoint,
            SandboxCredential(),
            double.clock.advance,
            {"connection_verify": str(tls.ca_bundle)},
        )
    finally:
        double.stop()


@contextmanager
def azurite_backend(azurite: Azurite) -> Iterator[BlobBackend]:
    yield BlobBackend("azurite", azurite.endpoint, azurite.credential, azurite.advance)


@contextmanager
def without_ledger_container(backend: BlobBackend, tls: SandboxTls) -> Iterator[BlobBackend]:
    """A backend whose account has no ledger container yet: a new double, or the same Azurite
    with the container deleted (Azurite deletes at once; Azure takes a while)."""
    if backend.name == "double":
        with double_backend(tls) as fresh:
            yield fresh
        return
    with suppress(ResourceNotFoundError):
        backend.service().delete_container(CONTAINER)
    yield backend
