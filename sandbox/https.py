"""A small threaded HTTPS server with JSON helpers, the base of every double.

A double that compresses as its service does passes ``gzip_when(request, response)``: a JSON
answer it says yes to goes out gzip-compressed when the request's ``Accept-Encoding`` takes gzip
(``accepts_gzip``), with ``Content-Encoding: gzip``, ``Vary: Accept-Encoding`` and chunked
transfer encoding instead of a Content-Length. The handler's ``Response`` keeps the plain JSON, so
whatever the double checks or logs of it is unchanged.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.tls import SandboxTls


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    # Close the connection without answering (a connection dropped mid-request).
    drop: bool = False


Handler = Callable[[Request], Response]
# Whether this answer is one the service gzips for a client that accepts gzip.
GzipPolicy = Callable[[Request, Response], bool]
# zlib's fastest level: the double's CPU counts against the same two cores as the client's, and
# the client's decompression costs the same whatever the level (which level Azure uses is unknown).
GZIP_LEVEL = 1


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (RFC 9110 section 12.5.3): ``gzip`` (or
    its alias ``x-gzip``) with a non-zero quality, or else ``*`` with a non-zero quality. No
    header or an empty one: no (a server may then send only the identity coding)."""
    named: float | None = None
    wildcard: float | None = None
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            named = max(named or 0.0, quality)
        elif coding == "*":
            wildcard = quality
    if named is not None:
        return named > 0
    return wildcard is not None and wildcard > 0


class HttpsDouble:
    """Serves ``handle(request) -> Response`` over TLS on 127.0.0.1, on a free port."""

    def __init__(
        self, tls: SandboxTls, handle: Handler, gzip_when: GzipPolicy | None = None
    ) -> None:
        self._handle = handle
        self._gzip_when = gzip_when
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.socket = tls.server_context.wrap_socket(self._server.socket, server_side=True)
        # a short poll interval: stopping waits for the serve loop's next poll (0.5 s by default,
        # a few seconds per sandbox with its five doubles)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"https://{host}:{port}"

    def start(self) -> HttpsDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits forever for a loop that never started
            self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        handle = self._handle
        gzip_when = self._gzip_when

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes; without this, Nagle's algorithm and
                # delayed ACKs stall every keep-alive response by tens of milliseconds.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=split.path,
                    query={k: v[-1] for k, v in parse_qs(split.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                try:
                    response = handle(request)
                except Exception as error:  # a bug in the double must show, not hang
                    response = Response(
                        500, {"error": {"code": "DoubleError", "message": repr(error)}}
                    )
                if response.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if response.raw is not None:
                    payload = response.raw
                elif response.body is None:
                    payload = b""
                else:
                    payload = json.dumps(response.body).encode()
                headers = {"Content-Type": "application/json", **response.headers}
                compress = (
                    gzip_when is not None
                    and bool(payload)
                    and response.raw is None
                    and accepts_gzip(request.headers.get("accept-encoding", ""))
                    and gzip_when(request, response)
                )
                if compress:
                    payload = gzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)
                    headers["Content-Encoding"] = "gzip"
                    headers["Vary"] = "Accept-Encoding"
                    headers["Transfer-Encoding"] = "chunked"
                else:
                    headers["Content-Length"] = str(len(payload))
                self.send_response(response.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if compress:  # one chunk, then the last (empty) one
                    payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return _Handler
