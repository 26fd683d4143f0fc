"""The per-cluster ledger: a blob lease that serializes work on one cluster, and the notices
already announced for it, in the Function app's own storage account (azure-storage-blob).

One blob per cluster, ``autoattach-ledger/clusters/<sha256 of the lowercased cluster id>.json``
(ARM ids are case-insensitive and longer than some names allow). ``lease`` acquires a 60-second
blob lease, renewed in the background while the work runs and released on exit; another holder
makes it raise ``ClusterBusy``. ``announced`` and ``record`` read and replace the blob's JSON
under that lease, so a lease lost meanwhile (expired, broken, taken) fails them as transient.

A renewal that fails is tried again with backoff (1 s, 2 s, 4 s, ...) while the lease is still
certainly held: until ``LEASE_MARGIN_SECONDS`` before it would run out, counted from the last
acquire or renewal that succeeded. When storage says the lease is gone, when renewals failed
until then, or when another handler of this process acquired the same blob (Azure granted it
anew, so this one's lapsed), the lease is lost for good: ``check`` and every ledger call raise
``LeaseLost`` (a transient error: the message is re-checked), nothing more is written to the
blob, and reconcile makes no further write (it calls ``check`` before each). Each handler's
lease is its own (kept per thread): a late holder never reads or writes through a newer one.

The blob also keeps the cluster's last outcome (``record_outcome``, under the lease: what became
of the last message about it), and ``view`` reads both without a lease, for people
(``autoattach status``): ``{"cluster", "announced": {...}, "last_outcome": {...}}``.

Blob requests per message (each costs ~2 ms of client CPU): acquire, release, and the write only
when something changed. The download is skipped when this process already holds the blob's exact
content: it remembers, per ledger blob, the ETag and bytes it last downloaded or uploaded itself
(a bounded LRU, ``remembered`` blobs, default ``REMEMBERED_LEDGERS``), and Lease Blob (acquire)
answers the blob's current ETag (Blob REST reference, "Lease Blob", response headers; kept as
``BlobLeaseClient.etag``). The remembered bytes are used only when that ETag equals the
remembered one. Every write to a blob, by any client, gives it a new ETag and lease operations
leave it as it is, so an equal ETag means the blob still holds those bytes: a ledger another
instance (or anyone) wrote is downloaded again, and the lease then keeps it from changing until
this holder writes or lets go. A write refused (lease lost) remembers nothing new.
A new cluster's blob is created empty (that upload's ETag remembered too, so it is not
downloaded either); the container is created only when the acquire said ``ContainerNotFound``,
so a process creates it once, not once per new cluster (``ContainerAlreadyExists`` still fine).

In Azure the ledger signs in with the app's identity (a token credential, over HTTPS). On a
developer's machine, ``AzureWebJobsStorage=UseDevelopmentStorage=true`` gives Azurite's endpoint
(``shared.adapters.development_storage.BLOB_ENDPOINT``, plain HTTP on loopback), where no token
is sent: for that endpoint alone, requests are signed with the emulator's published account key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from shared.adapters import development_storage
from shared.adapters.arm import transport_kwargs
from shared.adapters.deferred_aiohttp import deferred
from shared.adapters.http_transport import BLOB_CLIENT_CONNECTION
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import (
    AutoattachError,
    ClusterBusy,
    LeaseLost,
    PermanentError,
    azure_call,
    classify,
)

with deferred():  # azure-storage-blob would import aiohttp, unused (cold start)
    from azure.storage.blob import (
        BlobClient,
        BlobLeaseClient,
        BlobServiceClient,
        ContentSettings,
        LinearRetry,
    )

log = logging.getLogger("autoattach.ledger")

CONTAINER = "autoattach-ledger"
LEASE_SECONDS = 60
# A lease counts as held until this long before it would run out: room for a write in flight
# and for the storage service's clock to differ from ours.
LEASE_MARGIN_SECONDS = 10.0
RENEW_RETRY_SECONDS = 1.0
BUSY_RETRY_SECONDS = 5.0
# Ledger blobs whose last known content one process remembers (about 3 KB each for a cluster in
# three workspaces: some 12 MB at most).
REMEMBERED_LEDGERS = 4096
ROLE_NEEDED = "Storage Blob Data Contributor on the app's storage account"

_BUSY_CODES = frozenset({"LeaseAlreadyPresent", "LeaseIsBreakingAndCannotBeAcquired"})
_LOST_CODES = frozenset(
    {
        "LeaseLost",
        "LeaseIdMissing",
        "LeaseIdMismatchWithBlobOperation",
        "LeaseNotPresentWithBlobOperation",
        "LeaseIdMismatchWithLeaseOperation",
        "LeaseNotPresentWithLeaseOperation",
        "LeaseIsBrokenAndCannotBeRenewed",
    }
)


def ledger_blob_name(cluster_id: ResourceId) -> str:
    return f"clusters/{hashlib.sha256(cluster_id.key.encode()).hexdigest()}.json"


@dataclass(frozen=True)
class LedgerView:
    """One cluster's ledger as last written: the notices announced (id -> small record) and the
    outcome of the last message handled for it (None: none recorded yet)."""

    announced: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_outcome: dict[str, Any] | None = None


class HeldLease:
    """A lease this process holds on one cluster's ledger blob, and until when it surely does:
    ``held_until`` (on the ledger's clock) is the last successful acquire or renewal's start
    plus the lease's duration; ``lost`` says why it is gone for good (None: not known lost)."""

    def __init__(
        self,
        lease: BlobLeaseClient,
        cluster_id: ResourceId,
        *,
        acquired_at: float,
        lease_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._lease = lease
        self.cluster_id = cluster_id
        self._clock = clock
        self._seconds = lease_seconds
        self.held_until = acquired_at + lease_seconds
        self.lost: str | None = None
        # the blob's document as this holder last read or changed it (None: not read yet), and
        # whether it holds changes not written yet (written once, when the work is done)
        self.document: dict[str, Any] | None = None
        self.changed = False

    def lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
            log.warning("cluster %s: ledger lease lost: %s", self.cluster_id.name, why)

    def check(self) -> None:
        """Raise ``LeaseLost`` unless the lease is surely still this holder's."""
        if self.lost is None and self._clock() >= self.held_until - LEASE_MARGIN_SECONDS:
            self.lose("it could not be renewed before running out")
        if self.lost is not None:
            raise LeaseLost(
                f"the ledger lease of cluster {self.cluster_id.name} was lost ({self.lost}); "
                "nothing more is written, the cluster is re-checked"
            )

    @property
    def lease_id(self) -> str:
        return str(self._lease.id)

    @property
    def client(self) -> BlobLeaseClient:
        return self._lease

    @property
    def etag(self) -> str | None:
        """The blob's ETag as the acquire answered it."""
        return self._lease.etag

    def renew(self) -> None:
        if self.lost is not None:
            self.check()
        started = self._clock()
        with _storage_call(f"renew the ledger lease of cluster {self.cluster_id.name}"):
            self._lease.renew()
        self.held_until = started + self._seconds

    def release(self) -> None:
        with _storage_call(f"release the ledger lease of cluster {self.cluster_id.name}"):
            self._lease.release()


class BlobClusterLedger:
    """``ClusterLedger`` on Blob Storage. ``renew_every`` (seconds, wall clock) paces the
    background renewal; None turns it off (then call ``renew()`` on the held lease). A failed
    renewal is tried again after ``renew_retry`` seconds, doubling, while the lease surely
    holds. ``clock`` (seconds) tells when the lease runs out; the sandbox passes its own.
    ``credential``: the app's identity; a named key only for a storage emulator (the development
    storage endpoint takes Azurite's own, whatever is given)."""

    def __init__(
        self,
        blob_endpoint: str,
        credential: TokenCredential | AzureNamedKeyCredential,
        *,
        lease_seconds: int = LEASE_SECONDS,
        renew_every: float | None = LEASE_SECONDS / 3,
        renew_retry: float = RENEW_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        remembered: int = REMEMBERED_LEDGERS,
        **client_options: Any,
    ) -> None:
        client_options.setdefault(
            "retry_policy", LinearRetry(backoff=1, random_jitter_range=1, retry_total=2)
        )
        for name, value in transport_kwargs(**(BLOB_CLIENT_CONNECTION | client_options)).items():
            client_options.setdefault(name, value)
        if blob_endpoint.rstrip("/") == development_storage.BLOB_ENDPOINT:
            credential = development_storage.credential()
        service = BlobServiceClient(blob_endpoint, credential=credential, **client_options)
        self._container = service.get_container_client(CONTAINER)
        self._lease_seconds = lease_seconds
        self._renew_every = renew_every
        self._renew_retry = renew_retry
        self._clock = clock
        # the newest holder of each blob in this process, and each thread's own leases
        self._held: dict[str, HeldLease] = {}
        self._mine = threading.local()
        self._lock = threading.Lock()
        self._known = _KnownContents(remembered)

    # ---- the lease -------------------------------------------------------------------------

    @contextmanager
    def lease(self, cluster_id: ResourceId) -> Iterator[HeldLease]:
        name = ledger_blob_name(cluster_id)
        started = self._clock()
        held = HeldLease(
            self._acquire(self._container.get_blob_client(name), cluster_id),
            cluster_id,
            acquired_at=started,
            lease_seconds=self._lease_seconds,
            clock=self._clock,
        )
        with self._lock:
            earlier = self._held.get(name)
            self._held[name] = held
        if earlier is not None:  # Azure granted the blob anew: the earlier holder's lapsed
            earlier.lose("another handler acquired it after it lapsed")
        mine = self._my_leases()
        mine[name] = held
        stop = threading.Event()
        renewer = self._start_renewer(held, stop)
        try:
            try:
                yield held
            except BaseException:
                self._write_quietly(held)  # what was announced stays recorded, if it can
                raise
            self._write_changes(held)  # lost lease or storage refusing: typed, the caller retries
        finally:
            stop.set()
            if renewer is not None:
                renewer.join()
            with self._lock:
                if self._held.get(name) is held:
                    del self._held[name]
            mine.pop(name, None)
            try:
                held.release()
            except AutoattachError as error:
                # It expires on its own within a minute; a lost one is already someone else's.
                log.warning("cluster %s: %s", cluster_id.name, error)

    def _acquire(self, blob: BlobClient, cluster_id: ResourceId) -> BlobLeaseClient:
        action = f"lease the ledger of cluster {cluster_id.name}"
        for first in (True, False):
            try:
                with _storage_call(action, raw_codes={"BlobNotFound", "ContainerNotFound"}):
                    return blob.acquire_lease(lease_duration=self._lease_seconds)
            except _Missing as missing:
                if not first:
                    raise LeaseLost(f"{action}: the ledger blob vanished") from missing
                self._create(blob, cluster_id, container=missing.code == "ContainerNotFound")
        raise AssertionError("unreachable")

    def _create(self, blob: BlobClient, cluster_id: ResourceId, *, container: bool) -> None:
        """An empty ledger blob (and the container, when the acquire said it is missing),
        tolerating whoever created them first."""
        if container:
            try:
                with _storage_call(
                    f"create the ledger container {CONTAINER}", raw_codes={"ContainerAlreadyExists"}
                ):
                    self._container.create_container()
            except _Missing:
                pass
        data = _document(cluster_id, {})
        try:
            with _storage_call(
                f"create the ledger of cluster {cluster_id.name}",
                # ContainerNotFound: deleted meanwhile; the next acquire says so and creates it
                raw_codes={"BlobAlreadyExists", "ContainerNotFound"},
            ):
                created = blob.upload_blob(data, overwrite=False, **_json())
        except _Missing:
            return
        self._known.keep(blob.blob_name, created.get("etag"), data)

    def check(self, cluster_id: ResourceId) -> None:
        """Raise ``LeaseLost`` unless this handler still surely holds the cluster's lease (called
        before each write reconcile makes)."""
        self._holding(cluster_id)

    def _my_leases(self) -> dict[str, HeldLease]:
        mine: dict[str, HeldLease] | None = getattr(self._mine, "leases", None)
        if mine is None:
            mine = self._mine.leases = {}
        return mine

    def _start_renewer(self, held: HeldLease, stop: threading.Event) -> threading.Thread | None:
        if self._renew_every is None:
            return None
        every = self._renew_every

        def renew_until_stopped() -> None:
            while not stop.wait(every):
                if not self._renewed_in_time(held, stop):
                    return

        thread = threading.Thread(
            target=renew_until_stopped, name=f"ledger-renew-{held.cluster_id.name}", daemon=True
        )
        thread.start()
        return thread

    def _renewed_in_time(self, held: HeldLease, stop: threading.Event) -> bool:
        """Renew, trying again with backoff while the lease surely holds; False once it is lost
        (or the work is done)."""
        delay = self._renew_retry
        while True:
            try:
                held.renew()
                return True
            except LeaseLost as error:
                held.lose(str(error))
                return False
            except AutoattachError as error:
                if self._clock() + delay >= held.held_until - LEASE_MARGIN_SECONDS:
                    held.lose(f"renewals failed until it was about to run out: {error}")
                    return False
                log.warning(
                    "cluster %s: %s; renewing again in %.0f s", held.cluster_id.name, error, delay
                )
            if stop.wait(delay):
                return False
            delay *= 2

    # ---- what was announced ----------------------------------------------------------------

    def announced(self, cluster_id: ResourceId) -> dict[str, dict[str, Any]]:
        """Read once per lease: under it, only this holder changes the document."""
        name, held = self._holding(cluster_id)
        if held.document is not None:
            return _view(held.document).announced
        text = self._known.content(name, held.etag)
        if text is None:
            with _storage_call(f"read the ledger of cluster {cluster_id.name}"):
                download = self._container.get_blob_client(name).download_blob(lease=held.lease_id)
                text = download.readall()
            self._known.keep(name, download.properties.etag, text)
        held.document = _parsed(text, cluster_id)
        return _view(held.document).announced

    def record(self, cluster_id: ResourceId, entries: dict[str, dict[str, Any]]) -> None:
        self._write(cluster_id, announced=entries)

    def continuation(self, cluster_id: ResourceId) -> dict[str, Any] | None:
        """What the last reconcile left for its re-check (read with ``announced``), or None."""
        return self._section(cluster_id, "continuation")

    def keep_continuation(self, cluster_id: ResourceId, state: dict[str, Any] | None) -> None:
        """Replace it (None: clear it); nothing is written when it is already so."""
        if self.continuation(cluster_id) == state:
            return
        self._write(cluster_id, continuation=state)

    def chain(self, cluster_id: ResourceId) -> dict[str, Any] | None:
        """The cluster's live re-check chain as last kept (``{"id", "due"}``), or None."""
        return self._section(cluster_id, "chain")

    def keep_chain(self, cluster_id: ResourceId, chain: dict[str, Any] | None) -> None:
        """Replace it (None: no chain waits); nothing is written when it is already so."""
        if self.chain(cluster_id) == chain:
            return
        self._write(cluster_id, chain=chain)

    def last_outcome(self, cluster_id: ResourceId) -> dict[str, Any] | None:
        """What became of the last message about the cluster, as ``record_outcome`` kept it."""
        return self._section(cluster_id, "last_outcome")

    def _section(self, cluster_id: ResourceId, name: str) -> dict[str, Any] | None:
        """One top-level object of the ledger document (read with ``announced``), or None."""
        _name, held = self._holding(cluster_id)
        if held.document is None:
            self.announced(cluster_id)
        found = (held.document or {}).get(name)
        return dict(found) if isinstance(found, dict) else None

    def record_outcome(self, cluster_id: ResourceId, outcome: dict[str, Any]) -> None:
        """Keep what became of the last message about the cluster (beside what was announced).
        The same outcome as the one kept, kept less than an hour ago, is not written again: a
        replay of a converged cluster then costs the ledger no write."""
        _name, held = self._holding(cluster_id)
        if held.document is not None and _same_outcome(held.document.get("last_outcome"), outcome):
            return
        self._write(cluster_id, last_outcome=outcome)

    def view(self, cluster_id: ResourceId) -> LedgerView:
        """The ledger as last written, read without the lease (for people; never for deciding):
        empty when the cluster has none."""
        blob = self._container.get_blob_client(ledger_blob_name(cluster_id))
        try:
            with _storage_call(
                f"read the ledger of cluster {cluster_id.name}",
                raw_codes={"BlobNotFound", "ContainerNotFound"},
            ):
                text = blob.download_blob().readall()
        except _Missing:
            return LedgerView()
        return _view(_parsed(text, cluster_id))

    def _write(self, cluster_id: ResourceId, **changes: Any) -> None:
        """Replace some top-level keys of the document, keeping the others as last read. Written
        once, when the work under the lease is done (one Blob write per message, not three)."""
        _name, held = self._holding(cluster_id)
        if held.document is None:
            self.announced(cluster_id)
        document = {**(held.document or {}), **changes, "cluster": cluster_id.key}
        document.setdefault("announced", {})
        held.document = document
        held.changed = True

    def _write_changes(self, held: HeldLease) -> None:
        if not held.changed or held.document is None:
            return
        held.check()  # a lost lease writes nothing
        name = ledger_blob_name(held.cluster_id)
        data = json.dumps(held.document, sort_keys=True).encode()
        with _storage_call(f"write the ledger of cluster {held.cluster_id.name}"):
            written = self._container.get_blob_client(name).upload_blob(
                data, overwrite=True, lease=held.client, **_json()
            )
        self._known.keep(name, written.get("etag"), data)
        held.changed = False

    def _write_quietly(self, held: HeldLease) -> None:
        try:
            self._write_changes(held)
        except AutoattachError as error:
            log.warning("cluster %s: ledger not written: %s", held.cluster_id.name, error)

    def _holding(self, cluster_id: ResourceId) -> tuple[str, HeldLease]:
        name = ledger_blob_name(cluster_id)
        held = self._my_leases().get(name)
        if held is None:
            raise RuntimeError(
                f"the ledger of cluster {cluster_id.name} is read and written only under its lease"
            )
        held.check()
        return name, held


class _KnownContents:
    """Ledger blob name -> (ETag, bytes) as this process last downloaded or uploaded it; the
    least recently used forgotten beyond ``size``. Thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = max(0, size)
        self._entries: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def content(self, name: str, etag: str | None) -> bytes | None:
        """The bytes remembered for ``name`` if the blob's ETag is still ``etag``, else None."""
        with self._lock:
            found = self._entries.get(name)
            if found is None or not etag or found[0] != etag:
                return None
            self._entries.move_to_end(name)
            return found[1]

    def keep(self, name: str, etag: str | None, data: bytes | str) -> None:
        with self._lock:
            if not etag or self._size == 0:
                self._entries.pop(name, None)
                return
            self._entries[name] = (etag, data.encode() if isinstance(data, str) else data)
            self._entries.move_to_end(name)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


OUTCOME_REFRESH_SECONDS = 3600.0


def _same_outcome(kept: Any, outcome: dict[str, Any]) -> bool:
    """The kept outcome says what this one says (ignoring which event and when), and is recent."""
    if not isinstance(kept, dict):
        return False
    fields = ("outcome", "reason", "summary", "app_version", "untagged")
    if any(kept.get(f) != outcome.get(f) for f in fields):
        return False
    try:
        then = datetime.fromisoformat(str(kept.get("at")))
        now = datetime.fromisoformat(str(outcome.get("at")))
    except ValueError:
        return False
    return 0 <= (now - then).total_seconds() < OUTCOME_REFRESH_SECONDS


class _Missing(Exception):
    """An expected storage answer (not found, already exists) the caller handles itself."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@contextmanager
def _storage_call(
    action: str, raw_codes: frozenset[str] | set[str] = frozenset()
) -> Iterator[None]:
    """One Blob Storage call, its failure typed: busy, lease lost, forbidden, or as ARM's."""
    with azure_call(action):
        try:
            yield
        except ClientAuthenticationError:
            raise
        except HttpResponseError as error:
            code = _code(error)
            if code in raw_codes:
                raise _Missing(code) from error
            raise _typed(error, code, action) from error


def _typed(error: HttpResponseError, code: str, action: str) -> AutoattachError:
    status = error.status_code or 0
    if code in _BUSY_CODES:
        return ClusterBusy(f"{action}: another handler holds it", retry_after=BUSY_RETRY_SECONDS)
    if code in _LOST_CODES or status == 412:
        return LeaseLost(
            f"{action}: the lease was lost (HTTP {status} {code}); the cluster is re-checked"
        )
    if status == 403:
        return PermanentError(
            f"{action}: HTTP 403 {code}: the app's identity needs {ROLE_NEEDED}",
            reason=code or "AuthorizationFailed",
        )
    typed = classify(error, action)
    if code and typed.reason.startswith("HTTP"):
        typed.reason = code
    return typed


def _code(error: HttpResponseError) -> str:
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code) or "")


def _parsed(text: bytes | str, cluster_id: ResourceId) -> dict[str, Any]:
    """The ledger document; an unreadable one is taken as empty (only autoattach writes it:
    unreadable means announce again, under the same CloudEvent ids)."""
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or not isinstance(document["announced"], dict):
            raise TypeError("announced is not an object")
    except (ValueError, KeyError, TypeError) as error:
        log.warning("cluster %s: unreadable ledger (%s); treating as empty", cluster_id.name, error)
        return {"cluster": cluster_id.key, "announced": {}}
    return document


def _view(document: dict[str, Any]) -> LedgerView:
    entries = document.get("announced") or {}
    last = document.get("last_outcome")
    return LedgerView(
        announced={str(k): dict(v) for k, v in entries.items() if isinstance(v, dict)},
        last_outcome=dict(last) if isinstance(last, dict) else None,
    )


def _document(cluster_id: ResourceId, entries: dict[str, dict[str, Any]]) -> bytes:
    return json.dumps({"cluster": cluster_id.key, "announced": entries}, sort_keys=True).encode()


def _json() -> dict[str, Any]:
    return {"content_settings": ContentSettings(content_type="application/json")}
