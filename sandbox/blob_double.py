"""A Blob Storage double that the real ``azure-storage-blob`` clients talk to, leases included.

Serves path-style URLs like Azurite (``https://127.0.0.1:<port>/<account>/<container>/<blob>``),
which the SDK accepts for an IP host. It implements what the product's ledger sends, with the
Blob service's own semantics (Lease Blob and Put Blob REST reference, "Outcomes of lease
operations on blobs by lease state"):

- ``PUT /{container}?restype=container`` (Create Container): 201, or 409 ContainerAlreadyExists;
- ``PUT /{container}/{blob}`` (Put Blob, ``x-ms-blob-type: BlockBlob``) with ``If-Match`` /
  ``If-None-Match`` and ``x-ms-lease-id``;
- ``GET`` (Get Blob, ``x-ms-range`` honoured: 206 + ``Content-Range``; 416 on an empty blob) and
  ``HEAD`` (Get Blob Properties: no body, the error code only in ``x-ms-error-code``);
- ``PUT ?comp=lease`` with ``x-ms-lease-action`` acquire / renew / change / release / break.

Leases run on the injected ``VirtualClock``: a 15-60 s lease expires when the clock passes it,
a break period elapses the same way. Every error carries ``x-ms-error-code`` and, except on
HEAD, the service's XML body ``<Error><Code/><Message/></Error>``. Requests need
``Authorization: Bearer ...`` (401 NoAuthenticationInformation otherwise) and ``x-ms-version``.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from sandbox.clock import VirtualClock
from sandbox.https import HttpsDouble, Request, Response
from sandbox.tls import SandboxTls

SANDBOX_ACCOUNT = "sandboxstore"
SANDBOX_TENANT = "00000000-0000-0000-0000-00000000a11c"
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")

MESSAGES = {
    "AuthorizationPermissionMismatch": (
        "This request is not authorized to perform this operation using this permission."
    ),
    "BlobAlreadyExists": "The specified blob already exists.",
    "BlobNotFound": "The specified blob does not exist.",
    "ConditionNotMet": "The condition specified using HTTP conditional header(s) is not met.",
    "ContainerAlreadyExists": "The specified container already exists.",
    "ContainerNotFound": "The specified container does not exist.",
    "InvalidHeaderValue": "The value for one of the HTTP headers is not in the correct format.",
    "InvalidRange": "The range specified is invalid for the current size of the resource.",
    "InvalidResourceName": "The specifed resource name contains invalid characters.",
    "LeaseAlreadyPresent": "There is already a lease present.",
    "LeaseIdMismatchWithBlobOperation": (
        "The lease ID specified did not match the lease ID for the blob."
    ),
    "LeaseIdMismatchWithLeaseOperation": (
        "The lease ID specified did not match the lease ID for the blob."
    ),
    "LeaseIdMissing": (
        "There is currently a lease on the blob and no lease ID was specified in the request."
    ),
    "LeaseIsBreakingAndCannotBeAcquired": (
        "The lease ID matched, but the lease is currently in breaking state and cannot be "
        "acquired until it is broken."
    ),
    "LeaseIsBreakingAndCannotBeChanged": (
        "The lease ID matched, but the lease is currently in breaking state and cannot be changed."
    ),
    "LeaseIsBrokenAndCannotBeRenewed": (
        "The lease ID matched, but the lease has been broken explicitly and cannot be renewed."
    ),
    "LeaseLost": "A lease ID was specified, but the lease for the blob has expired.",
    "LeaseNotPresentWithBlobOperation": "There is currently no lease on the blob.",
    "LeaseNotPresentWithLeaseOperation": "There is currently no lease on the blob.",
    "MissingRequiredHeader": "An HTTP header that's mandatory for this request is not specified.",
    "NoAuthenticationInformation": (
        "Server failed to authenticate the request. Please refer to the information in the "
        "www-authenticate header."
    ),
    "ServerBusy": "The server is currently unable to receive requests. Please retry your request.",
    "UnsupportedHttpVerb": "The resource doesn't support specified Http Verb.",
}


class BlobError(Exception):
    def __init__(self, status: int, code: str, **details: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.details = details


@dataclass
class _Lease:
    """One blob's lease. ``state`` is as stored; ``BlobStorageDouble._settle`` applies time."""

    state: str = "available"  # available | leased | expired | breaking | broken
    lease_id: str | None = None
    duration: int | None = None  # seconds, or -1 for infinite
    expires_at: float | None = None
    break_at: float | None = None


@dataclass
class _Blob:
    data: bytes
    etag: str
    content_type: str
    created: float
    modified: float
    lease: _Lease = field(default_factory=_Lease)


@dataclass
class _Fault:
    status: int
    code: str
    remaining: int
    path_contains: str
    operation: str = ""


@dataclass(frozen=True)
class LoggedBlobRequest:
    method: str
    path: str
    operation: str
    status: int
    code: str


class BlobStorageDouble:
    """One storage account's blob endpoint.

    ``endpoint`` is the account URL to give ``BlobServiceClient``; ``counts`` counts operations
    (``create_container``, ``put_blob``, ``get_blob``, ``get_properties``, ``lease_acquire``,
    ``lease_renew``, ``lease_change``, ``lease_release``, ``lease_break``) and refusals by error
    code; ``log`` lists every request.
    """

    def __init__(
        self, tls: SandboxTls, clock: VirtualClock | None = None, account: str = SANDBOX_ACCOUNT
    ) -> None:
        self.clock = clock or VirtualClock()
        self.account = account
        self._server = _BlobHttps(tls, self._handle)
        self._lock = threading.Lock()
        self._containers: dict[str, dict[str, _Blob]] = {}
        self._container_times: dict[str, float] = {}
        self._faults: list[_Fault] = []
        # earlier contents of each blob, oldest first (``restore_older``), a few per blob
        self._history: dict[tuple[str, str], list[bytes]] = {}
        self._log: list[LoggedBlobRequest] = []
        self.counts: Counter[str] = Counter()

    def start(self) -> BlobStorageDouble:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def endpoint(self) -> str:
        return f"{self._server.base_url}/{self.account}"

    @property
    def log(self) -> list[LoggedBlobRequest]:
        with self._lock:
            return list(self._log)

    # ---- test helpers ----------------------------------------------------------------------

    def blob(self, container: str, name: str) -> bytes | None:
        with self._lock:
            found = self._containers.get(container, {}).get(name)
            return None if found is None else found.data

    def blob_names(self, container: str) -> list[str]:
        with self._lock:
            return sorted(self._containers.get(container, {}))

    def lease_state(self, container: str, name: str) -> str:
        with self._lock:
            blob = self._containers[container][name]
            return self._settle(blob.lease).state

    def fail_next(
        self,
        status: int,
        code: str,
        *,
        times: int = 1,
        path_contains: str = "",
        operation: str = "",
    ) -> None:
        """Answer the next ``times`` authorized requests whose path contains ``path_contains``
        (and, if given, of ``operation``, as ``counts`` names them: ``lease_renew``) with
        ``status`` and error ``code`` (say 403 AuthorizationPermissionMismatch, 503 ServerBusy)."""
        with self._lock:
            self._faults.append(_Fault(status, code, times, path_contains, operation))

    # ---- what a storage account can lose (the campaign's ledger faults) ---------------------

    def lose(self, container: str, name: str) -> bool:
        """The blob is gone (deleted by someone, or its container recreated): lease and all."""
        with self._lock:
            return self._containers.get(container, {}).pop(name, None) is not None

    def corrupt(self, container: str, name: str, data: bytes = b'{"announced": [tru') -> bool:
        """Someone overwrote the blob with bytes no reader can parse (the lease stays)."""
        return self._replace(container, name, data)

    def restore_older(self, container: str, name: str, back: int = 1) -> bool:
        """The blob holds an earlier content of its own again, ``back`` writes ago (a restore, a
        write replayed out of order): stale, under a new ETag (the lease stays). The oldest
        remembered when fewer are."""
        with self._lock:
            earlier = self._history.get((container, name)) or []
            if not earlier:
                return False
            data = earlier[-min(max(1, back), len(earlier))]
        return self._replace(container, name, data)

    def lapse_leases(self, container: str) -> int:
        """Every lease held on the container's blobs lapses now, as if its renewals had stopped
        reaching the service for a minute: the holder's writes are refused (412) and anyone may
        acquire it. Returns how many lapsed."""
        with self._lock:
            lapsed = 0
            for blob in self._containers.get(container, {}).values():
                lease = self._settle(blob.lease)
                if lease.state in ("leased", "breaking"):
                    blob.lease = _Lease("expired", lease.lease_id, lease.duration)
                    lapsed += 1
            return lapsed

    def _replace(self, container: str, name: str, data: bytes) -> bool:
        with self._lock:
            blob = self._containers.get(container, {}).get(name)
            if blob is None:
                return False
            self._remember(container, name, blob.data)
            blob.data, blob.etag, blob.modified = data, _etag(), self.clock.seconds()
            return True

    def _remember(self, container: str, name: str, data: bytes) -> None:
        history = self._history.setdefault((container, name), [])
        history.append(data)
        del history[:-6]

    # ---- serving ---------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        operation = _operation(request)
        with self._lock:
            try:
                response = self._respond(request, operation)
                code = ""
            except BlobError as error:
                response = self._error(request, error)
                code = error.code
                self.counts[f"refused:{code}"] += 1
            self._log.append(
                LoggedBlobRequest(request.method, request.path, operation, response.status, code)
            )
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        response.headers.setdefault("x-ms-version", request.headers.get("x-ms-version", ""))
        return response

    def _respond(self, request: Request, operation: str) -> Response:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise BlobError(401, "NoAuthenticationInformation")
        if not request.headers.get("x-ms-version"):
            raise BlobError(400, "MissingRequiredHeader", HeaderName="x-ms-version")
        fault = next(
            (
                f
                for f in self._faults
                if f.path_contains in request.path and f.operation in ("", operation)
            ),
            None,
        )
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            raise BlobError(fault.status, fault.code)
        account, container, blob = _split(request.path)
        if account != self.account:
            raise BlobError(400, "InvalidResourceName")
        if not container:
            raise BlobError(400, "UnsupportedHttpVerb")
        self.counts[operation] += 1
        if operation == "create_container":
            return self._create_container(container)
        if blob is None:
            raise BlobError(400, "UnsupportedHttpVerb")
        if operation == "put_blob":
            return self._put_blob(request, container, blob)
        if operation in ("get_blob", "get_properties"):
            return self._get_blob(request, container, blob, head=operation == "get_properties")
        if operation.startswith("lease_"):
            return self._lease(request, container, blob, operation.removeprefix("lease_"))
        raise BlobError(400, "UnsupportedHttpVerb")

    # ---- containers and blobs --------------------------------------------------------------

    def _create_container(self, container: str) -> Response:
        if not _CONTAINER_NAME.match(container):
            raise BlobError(400, "InvalidResourceName")
        if container in self._containers:
            raise BlobError(409, "ContainerAlreadyExists")
        self._containers[container] = {}
        now = self.clock.seconds()
        self._container_times[container] = now
        return Response(201, headers=self._stamp(_etag(), now))

    def _container(self, container: str) -> dict[str, _Blob]:
        found = self._containers.get(container)
        if found is None:
            raise BlobError(404, "ContainerNotFound")
        return found

    def _put_blob(self, request: Request, container: str, name: str) -> Response:
        blobs = self._container(container)
        blob_type = request.headers.get("x-ms-blob-type")
        if blob_type is None:
            raise BlobError(400, "MissingRequiredHeader", HeaderName="x-ms-blob-type")
        if blob_type != "BlockBlob":
            raise BlobError(
                400, "InvalidHeaderValue", HeaderName="x-ms-blob-type", HeaderValue=blob_type
            )
        existing = blobs.get(name)
        _check_write_conditions(request, existing)
        lease = _Lease()
        if existing is not None:
            lease = self._check_lease_for_write(request, existing)
        elif request.headers.get("x-ms-lease-id"):
            raise BlobError(412, "LeaseNotPresentWithBlobOperation")
        now = self.clock.seconds()
        if existing is not None:
            self._remember(container, name, existing.data)
        blob = _Blob(
            data=request.body,
            etag=_etag(),
            content_type=request.headers.get("x-ms-blob-content-type")
            or request.headers.get("content-type")
            or "application/octet-stream",
            created=existing.created if existing is not None else now,
            modified=now,
            lease=lease,
        )
        blobs[name] = blob
        headers = self._stamp(blob.etag, now)
        headers["x-ms-request-server-encrypted"] = "true"
        return Response(201, headers=headers)

    def _check_lease_for_write(self, request: Request, blob: _Blob) -> _Lease:
        """The lease the blob keeps after a write, or the 412 the Blob service answers."""
        lease = self._settle(blob.lease)
        given = request.headers.get("x-ms-lease-id", "").lower()
        if lease.state in ("leased", "breaking"):
            if not given:
                raise BlobError(412, "LeaseIdMissing")
            if given != lease.lease_id:
                raise BlobError(412, "LeaseIdMismatchWithBlobOperation")
            return lease
        if given:
            # The lease this writer held ran out (or was broken, or never existed).
            raise BlobError(
                412,
                "LeaseNotPresentWithBlobOperation" if lease.state == "available" else "LeaseLost",
            )
        return _Lease()  # a write clears an expired or broken lease

    def _get_blob(self, request: Request, container: str, name: str, *, head: bool) -> Response:
        blob = self._container(container).get(name)
        if blob is None:
            raise BlobError(404, "BlobNotFound")
        given = request.headers.get("x-ms-lease-id", "").lower()
        lease = self._settle(blob.lease)
        if given:
            if lease.state not in ("leased", "breaking"):
                raise BlobError(
                    412,
                    "LeaseNotPresentWithBlobOperation"
                    if lease.state == "available"
                    else "LeaseLost",
                )
            if given != lease.lease_id:
                raise BlobError(412, "LeaseIdMismatchWithBlobOperation")
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and if_none_match in ("*", blob.etag):
            return Response(304, headers=self._stamp(blob.etag, blob.modified))
        if_match = request.headers.get("if-match")
        if if_match and if_match not in ("*", blob.etag):
            raise BlobError(412, "ConditionNotMet")
        headers = self._stamp(blob.etag, blob.modified)
        headers.update(
            {
                "Content-Type": blob.content_type,
                "x-ms-blob-type": "BlockBlob",
                "x-ms-creation-time": _http_date(self.clock, blob.created),
                "x-ms-server-encrypted": "true",
                "Accept-Ranges": "bytes",
                "x-ms-lease-state": lease.state,
                "x-ms-lease-status": "locked"
                if lease.state in ("leased", "breaking")
                else "unlocked",
            }
        )
        if lease.state == "leased":
            headers["x-ms-lease-duration"] = "infinite" if lease.duration == -1 else "fixed"
        if head:
            return Response(200, headers={**headers, "Content-Length": str(len(blob.data))})
        wanted = request.headers.get("x-ms-range") or request.headers.get("range")
        if not wanted:
            return Response(200, headers=headers, raw=blob.data)
        match = _RANGE.match(wanted)
        if match is None:
            raise BlobError(400, "InvalidHeaderValue", HeaderName="x-ms-range", HeaderValue=wanted)
        start = int(match[1])
        end = int(match[2]) if match[2] else len(blob.data) - 1
        if start >= len(blob.data):
            raise BlobError(416, "InvalidRange")
        end = min(end, len(blob.data) - 1)
        headers["Content-Range"] = f"bytes {start}-{end}/{len(blob.data)}"
        return Response(206, headers=headers, raw=blob.data[start : end + 1])

    # ---- leases ----------------------------------------------------------------------------

    def _settle(self, lease: _Lease) -> _Lease:
        """Apply the clock: a fixed lease past its time is expired, a break past its period is
        broken (the lease id is kept, as the Blob service keeps it, until a write or new lease)."""
        now = self.clock.seconds()
        if lease.state == "leased" and lease.expires_at is not None and now >= lease.expires_at:
            lease.state, lease.expires_at = "expired", None
        if lease.state == "breaking" and lease.break_at is not None and now >= lease.break_at:
            lease.state, lease.break_at = "broken", None
        return lease

    def _lease(self, request: Request, container: str, name: str, action: str) -> Response:
        blob = self._container(container).get(name)
        if blob is None:
            raise BlobError(404, "BlobNotFound")
        _check_write_conditions(request, blob)
        lease = self._settle(blob.lease)
        given = request.headers.get("x-ms-lease-id", "").lower()
        now = self.clock.seconds()
        headers = self._stamp(blob.etag, blob.modified)
        if action == "acquire":
            duration = _lease_duration(request)
            proposed = request.headers.get("x-ms-proposed-lease-id", "").lower()
            if proposed and not _GUID.match(proposed):
                raise BlobError(
                    400,
                    "InvalidHeaderValue",
                    HeaderName="x-ms-proposed-lease-id",
                    HeaderValue=proposed,
                )
            if lease.state == "leased" and proposed != lease.lease_id:
                raise BlobError(409, "LeaseAlreadyPresent")
            if lease.state == "breaking":
                raise BlobError(
                    409,
                    "LeaseIsBreakingAndCannotBeAcquired"
                    if proposed == lease.lease_id
                    else "LeaseAlreadyPresent",
                )
            blob.lease = _fixed_or_infinite(proposed or str(uuid.uuid4()), duration, now)
            headers["x-ms-lease-id"] = blob.lease.lease_id or ""
            return Response(201, headers=headers)
        if action == "break":
            if lease.state == "available":
                raise BlobError(409, "LeaseNotPresentWithLeaseOperation")
            period = _break_period(request)
            if lease.state == "leased":
                remaining = (
                    0.0
                    if lease.duration == -1 or lease.expires_at is None
                    else lease.expires_at - now
                )
                wait = remaining if period is None else min(float(period), remaining)
                if lease.duration == -1 and period is not None:
                    wait = float(period)
                if wait <= 0:
                    blob.lease = _Lease("broken", lease.lease_id)
                else:
                    blob.lease = _Lease("breaking", lease.lease_id, break_at=now + wait)
            elif lease.state == "breaking" and period is not None:
                assert lease.break_at is not None
                lease.break_at = min(lease.break_at, now + period)
                if lease.break_at <= now:
                    blob.lease = _Lease("broken", lease.lease_id)
            elif lease.state == "expired":
                blob.lease = _Lease("broken", lease.lease_id)
            left = blob.lease.break_at - now if blob.lease.break_at is not None else 0.0
            headers["x-ms-lease-time"] = str(max(0, int(left + 0.999)))
            return Response(202, headers=headers)
        # renew, change and release all name the lease they mean.
        if not given:
            raise BlobError(400, "MissingRequiredHeader", HeaderName="x-ms-lease-id")
        if lease.state == "available":
            # Renew and release name a lease the blob does not have: a mismatch, as Azurite
            # answers and Azure does for a release (Azure/azure-sdk-for-net#29944).
            raise BlobError(
                409,
                "LeaseNotPresentWithLeaseOperation"
                if action == "change"
                else "LeaseIdMismatchWithLeaseOperation",
            )
        if action == "release":
            if given != lease.lease_id:
                raise BlobError(409, "LeaseIdMismatchWithLeaseOperation")
            blob.lease = _Lease()
            return Response(200, headers=headers)
        if action == "renew":
            if given != lease.lease_id:
                raise BlobError(409, "LeaseIdMismatchWithLeaseOperation")
            if lease.state in ("breaking", "broken"):
                raise BlobError(409, "LeaseIsBrokenAndCannotBeRenewed")
            assert lease.duration is not None
            blob.lease = _fixed_or_infinite(given, lease.duration, now)
            headers["x-ms-lease-id"] = given
            return Response(200, headers=headers)
        if action == "change":
            proposed = request.headers.get("x-ms-proposed-lease-id", "").lower()
            if not proposed:
                raise BlobError(400, "MissingRequiredHeader", HeaderName="x-ms-proposed-lease-id")
            if lease.state != "leased":
                if lease.state == "breaking" and given == lease.lease_id:
                    raise BlobError(409, "LeaseIsBreakingAndCannotBeChanged")
                if lease.state == "breaking":
                    raise BlobError(409, "LeaseIdMismatchWithLeaseOperation")
                raise BlobError(409, "LeaseNotPresentWithLeaseOperation")
            if lease.lease_id not in (given, proposed):
                raise BlobError(409, "LeaseIdMismatchWithLeaseOperation")
            lease.lease_id = proposed
            headers["x-ms-lease-id"] = proposed
            return Response(200, headers=headers)
        raise BlobError(
            400, "InvalidHeaderValue", HeaderName="x-ms-lease-action", HeaderValue=action
        )

    # ---- responses -------------------------------------------------------------------------

    def _stamp(self, etag: str, at: float) -> dict[str, str]:
        return {"ETag": etag, "Last-Modified": _http_date(self.clock, at)}

    def _error(self, request: Request, error: BlobError) -> Response:
        headers = {"x-ms-error-code": error.code, "Content-Type": "application/xml"}
        if error.status == 401:
            headers["WWW-Authenticate"] = (
                f"Bearer authorization_uri=https://login.microsoftonline.com/{SANDBOX_TENANT}"
                "/oauth2/authorize resource_id=https://storage.azure.com"
            )
        if request.method == "HEAD":
            return Response(error.status, headers=headers, raw=b"")
        request_id = str(uuid.uuid4())
        message = (
            f"{MESSAGES.get(error.code, error.code)}\nRequestId:{request_id}\n"
            f"Time:{self.clock.now().strftime('%Y-%m-%dT%H:%M:%S.0000000Z')}"
        )
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in error.details.items())
        body = (
            '\ufeff<?xml version="1.0" encoding="utf-8"?>'
            f"<Error><Code>{error.code}</Code><Message>{escape(message)}</Message>{extra}</Error>"
        )
        headers["x-ms-request-id"] = request_id
        return Response(error.status, headers=headers, raw=body.encode("utf-8"))


class _BlobHttps(HttpsDouble):
    """HttpsDouble, but HEAD answers carry the blob's Content-Length and no body."""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        handle = self._handle

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=unquote(split.path),
                    query={k: v[-1] for k, v in parse_qs(split.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                try:
                    response = handle(request)
                except Exception as error:  # a bug in the double must show, not hang
                    response = Response(500, raw=repr(error).encode())
                payload = response.raw or b""
                self.send_response(response.status)
                headers = dict(response.headers)
                if self.command != "HEAD" or "Content-Length" not in headers:
                    headers["Content-Length"] = str(len(payload))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return _Handler


def _operation(request: Request) -> str:
    query = request.query
    if request.method == "PUT" and query.get("restype") == "container" and "comp" not in query:
        return "create_container"
    if request.method == "PUT" and query.get("comp") == "lease":
        return "lease_" + request.headers.get("x-ms-lease-action", "").lower()
    if request.method == "PUT" and not query.get("comp"):
        return "put_blob"
    if request.method == "GET" and not query.get("comp") and not query.get("restype"):
        return "get_blob"
    if request.method == "HEAD" and not query.get("comp"):
        return "get_properties"
    return f"unsupported:{request.method}"


def _split(path: str) -> tuple[str, str, str | None]:
    parts = path.lstrip("/").split("/", 2)
    account = parts[0] if parts else ""
    container = parts[1] if len(parts) > 1 else ""
    blob = parts[2] if len(parts) > 2 and parts[2] else None
    return account, container, blob


def _check_write_conditions(request: Request, blob: _Blob | None) -> None:
    if_match = request.headers.get("if-match")
    if if_match and (blob is None or if_match not in ("*", blob.etag)):
        raise BlobError(412, "ConditionNotMet")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and blob is not None:
        if if_none_match == "*":
            raise BlobError(409, "BlobAlreadyExists")
        if if_none_match == blob.etag:
            raise BlobError(412, "ConditionNotMet")


def _lease_duration(request: Request) -> int:
    value = request.headers.get("x-ms-lease-duration")
    if value is None:
        raise BlobError(400, "MissingRequiredHeader", HeaderName="x-ms-lease-duration")
    try:
        duration = int(value)
    except ValueError:
        duration = 0
    if duration != -1 and not 15 <= duration <= 60:
        raise BlobError(
            400, "InvalidHeaderValue", HeaderName="x-ms-lease-duration", HeaderValue=value
        )
    return duration


def _break_period(request: Request) -> int | None:
    value = request.headers.get("x-ms-lease-break-period")
    if value is None:
        return None
    try:
        period = int(value)
    except ValueError:
        period = -1
    if not 0 <= period <= 60:
        raise BlobError(
            400, "InvalidHeaderValue", HeaderName="x-ms-lease-break-period", HeaderValue=value
        )
    return period


def _fixed_or_infinite(lease_id: str, duration: int, now: float) -> _Lease:
    expires = None if duration == -1 else now + duration
    return _Lease("leased", lease_id.lower(), duration, expires_at=expires)


def _etag() -> str:
    return f'"0x8DE{uuid.uuid4().hex[:12].upper()}"'


def _http_date(clock: VirtualClock, at: float) -> str:
    """``at`` (virtual seconds) as an HTTP date."""
    start = clock.now() - timedelta(seconds=clock.seconds())
    return format_datetime(start + timedelta(seconds=at), usegmt=True)
