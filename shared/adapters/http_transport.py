"""The HTTP transport of every azure-core client the product builds: urllib3, without requests.

azure-core's ``RequestsTransport`` sends each request through ``requests.Session.request``:
merging session settings, cookies and hooks and preparing the request cost about a third of the
client's CPU per request. ``Urllib3Transport`` is that transport with ``send`` going straight to a
urllib3 ``PoolManager`` (what requests' ``HTTPAdapter`` itself calls), doing only the parts of
requests' preparation that change what goes on the wire: its default headers, the body's
``Content-Length`` (or chunked encoding for a stream of unknown length), TLS verification against
the given CA bundle (``connection_verify``: a path, True for certifi's bundle as requests uses, or
False), client certificates (``connection_cert``), connect and read timeouts, no redirects
followed (azure-core's RedirectPolicy follows them), no retries in urllib3. The urllib3 answer is
wrapped in a ``requests.Response`` as ``HTTPAdapter.build_response`` does, then in azure-core's
own response class, so reading, streaming and gzip/deflate decoding are requests' and
azure-core's code, and errors come out as the same azure-core errors (``ServiceRequestError`` when
no connection could be made, ``ServiceResponseError`` when it broke during the answer).

Dropped on this path: cookies (never kept between requests), hooks, ``.netrc`` and proxies from
the environment (``transport_kwargs`` in shared.adapters.arm keeps requests' transport when a proxy
is configured). Anything this path does not handle -- a per-call ``proxies``, multipart ``files``,
form fields, an option requests would take that this path does not know -- goes through the
inherited requests path unchanged.

Thread-safe (one PoolManager, SSL contexts built once under a lock). ``close()`` releases the
pooled connections; the transport can be used again afterwards (azure-ai-ml shares one transport
among the service clients of an MLClient).
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any

import requests
from azure.core.exceptions import (
    HttpResponseError,
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline._tools import handle_non_stream_rest_response, is_rest
from azure.core.pipeline.transport import RequestsTransport, RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, super_len
from urllib3 import PoolManager, Timeout
from urllib3 import exceptions as u3
from urllib3.util import parse_url
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from shared.adapters import meter

_LOGGER = logging.getLogger(__name__)

# What azure-core's RequestsTransport mounts: no retries and no redirects inside urllib3.
_NO_RETRIES = Retry(total=False, redirect=False, raise_on_status=False)
# requests' HTTPAdapter defaults: 10 pools (hosts) of up to 10 kept connections, never blocking.
_POOLS = 10
_POOL_MAXSIZE = 10
# azure-core's BiggerBlockSizeHTTPAdapter: 32 KiB socket writes (uploads), urllib3's default 16.
_BLOCKSIZE = 32768
# The per-call options this path handles; any other goes to requests, which knows what it means.
_OPTIONS = frozenset(
    {"stream", "connection_timeout", "read_timeout", "connection_verify", "connection_cert"}
)
# What azure-storage-blob's clients give the transport they build when none is given
# (azure/storage/blob/_shared/constants.py): 20 s to connect, 60 s to read, 256 KiB blocks.
BLOB_CLIENT_CONNECTION = {
    "connection_timeout": 20,
    "read_timeout": 60,
    "connection_data_block_size": 256 * 1024,
}
# requests' session defaults (requests.utils.default_headers()), under the request's own headers.
_DEFAULT_HEADERS = tuple(requests.utils.default_headers().items())


class Urllib3Transport(RequestsTransport):
    """azure-core's RequestsTransport, sending through urllib3 directly (module docstring).

    Takes RequestsTransport's keyword arguments: ``connection_verify``, ``connection_cert``,
    ``connection_timeout``, ``read_timeout``, ``connection_data_block_size`` (and, for the
    requests path only, ``session`` and ``use_env_settings``, False unless given)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_env_settings", False)
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._pools: PoolManager | None = None
        self._contexts: dict[tuple[Any, Any], ssl.SSLContext] = {}

    # ---- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        """Nothing to open: the pools are built on the first request, a requests session only if
        a request takes the requests path."""

    def close(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, None
        if pools is not None:
            pools.clear()
        super().close()
        self._has_been_opened = False  # used again later: a fresh session or pool, not an error

    def _pool_manager(self) -> PoolManager:
        pools = self._pools
        if pools is None:
            with self._lock:
                if self._pools is None:
                    self._pools = PoolManager(
                        num_pools=_POOLS, maxsize=_POOL_MAXSIZE, block=False, blocksize=_BLOCKSIZE
                    )
                pools = self._pools
        return pools

    # ---- sending -------------------------------------------------------------------------

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = self._send(request, **kwargs)
        meter.answered(response.status_code)  # a throttled answer counts, retried or not
        return response

    def _send(self, request: Any, *, proxies: Any = None, **kwargs: Any) -> Any:
        data = request.data
        if (
            proxies
            or request.files
            or isinstance(data, (Mapping, list, tuple))
            or not kwargs.keys() <= _OPTIONS
            or not request.url.lower().startswith(("https://", "http://"))
        ):
            return self._send_with_requests(request, proxies=proxies, **kwargs)

        config = self.connection_config
        connection_timeout = kwargs.pop("connection_timeout", config.timeout)
        if isinstance(connection_timeout, tuple):
            if "read_timeout" in kwargs:
                raise ValueError("Cannot set tuple connection_timeout and read_timeout together")
            _LOGGER.warning("Tuple timeout setting is deprecated")
            connect, read = connection_timeout
        else:
            connect, read = connection_timeout, kwargs.pop("read_timeout", config.read_timeout)
        verify = kwargs.pop("connection_verify", config.verify)
        cert = kwargs.pop("connection_cert", config.cert)
        stream = bool(kwargs.get("stream"))

        url = parse_url(request.url)
        method = request.method.upper()
        headers = _headers(request.headers)
        body = _body(method, data, headers)
        # the TLS settings are checked before sending, as requests does (a missing CA bundle or
        # certificate file is an OSError, not a connection error)
        pool = self._pool_manager().connection_from_host(
            url.host,
            port=url.port,
            scheme=url.scheme,
            pool_kwargs={"ssl_context": self._ssl_context(verify, cert)}
            if url.scheme == "https"
            else None,
        )
        error: Exception | None = None
        try:
            response = _urlopen(
                pool,
                method,
                url.request_uri,
                body=body,
                headers=headers,
                timeout=Timeout(connect=connect, read=read),
                chunked=not (body is None or _has(headers, "Content-Length")),
            )
            response.url = request.url
            if not stream:
                response.content  # noqa: B018  read now, as requests does without stream=True
        except Exception as err:  # mapped below as RequestsTransport maps them
            error = _azure_error(err)
            if error is None:
                raise
        if error is not None:
            raise error

        block_size = config.data_block_size
        if is_rest(request):
            rest = RestRequestsTransportResponse(
                request=request, internal_response=response, block_size=block_size
            )
            if not stream:
                handle_non_stream_rest_response(rest)
            return rest
        return RequestsTransportResponse(request, response, block_size)

    def _send_with_requests(self, request: Any, **kwargs: Any) -> Any:
        RequestsTransport.open(self)
        return super().send(request, **kwargs)

    def _ssl_context(self, verify: Any, cert: Any) -> ssl.SSLContext:
        key = (verify, cert)
        context = self._contexts.get(key)
        if context is None:
            with self._lock:
                context = self._contexts.get(key)
                if context is None:
                    context = self._contexts[key] = ssl_context(verify, cert)
        return context


def ssl_context(verify: Any, cert: Any) -> ssl.SSLContext:
    """What requests' ``HTTPAdapter.cert_verify`` makes of ``verify`` and ``cert``, as one
    SSLContext: verify truthy -- against requests' bundle (True: certifi's) or the given file or
    directory; falsy -- no verification; ``cert`` a certificate file (key inside) or
    (certificate, key)."""
    if verify:
        location = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
        if not os.path.exists(location):
            raise OSError(
                "Could not find a suitable TLS CA certificate bundle, invalid path: " + location
            )
        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
        if os.path.isdir(location):
            context.load_verify_locations(capath=location)
        else:
            context.load_verify_locations(cafile=location)
    else:
        context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    if cert:
        cert_file, key_file = (cert, None) if isinstance(cert, str) else (cert[0], cert[1])
        if not os.path.exists(cert_file):
            raise OSError(f"Could not find the TLS certificate file, invalid path: {cert_file}")
        if key_file and not os.path.exists(key_file):
            raise OSError(f"Could not find the TLS key file, invalid path: {key_file}")
        context.load_cert_chain(cert_file, key_file)
    return context


# ---- requests' preparation, the parts that reach the wire ------------------------------------


def _headers(given: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers over requests' session defaults; a None value drops a header (and
    its default), as requests' ``merge_setting`` does."""
    headers = {name: value for name, value in given.items() if value is not None}
    present = {name.lower() for name in given}
    for name, value in _DEFAULT_HEADERS:
        if name.lower() not in present:
            headers[name] = value
    return headers


def _body(method: str, data: Any, headers: dict[str, str]) -> Any:
    """The body to send, setting ``Content-Length`` (or chunked encoding) as requests'
    ``PreparedRequest.prepare_body`` does for everything but form fields and files."""
    if data is not None and hasattr(data, "__iter__") and not isinstance(data, (str, bytes)):
        length = super_len(data)  # a file's size from its position, or 0 for an iterator
        if length:
            _set(headers, "Content-Length", str(length))
        else:
            _set(headers, "Transfer-Encoding", "chunked")
        return data
    body = data or None
    if body is not None:
        length = len(body) if isinstance(body, bytes) else super_len(body)
        if length:
            _set(headers, "Content-Length", str(length))
    elif method not in ("GET", "HEAD") and not _has(headers, "Content-Length"):
        _set(headers, "Content-Length", "0")
    return body


def _has(headers: dict[str, str], name: str) -> bool:
    lowered = name.lower()
    return any(key.lower() == lowered for key in headers)


def _set(headers: dict[str, str], name: str, value: str) -> None:
    lowered = name.lower()
    for key in [key for key in headers if key.lower() == lowered]:
        del headers[key]
    headers[name] = value


# ---- urllib3, and requests' HTTPAdapter around it --------------------------------------------


def _urlopen(pool: Any, method: str, path: str, **kwargs: Any) -> requests.Response:
    """``HTTPAdapter.send`` without requests' preparation: urlopen as it calls it, its errors
    turned into requests' errors as it turns them, and ``build_response`` without cookies."""
    try:
        raw = pool.urlopen(
            method,
            path,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=_NO_RETRIES,
            **kwargs,
        )
    except (u3.ProtocolError, OSError) as err:
        raise requests.ConnectionError(err) from err
    except u3.MaxRetryError as err:
        reason = err.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(
            reason, u3.NewConnectionError
        ):
            raise requests.ConnectTimeout(err) from err
        if isinstance(reason, u3.ResponseError):
            raise requests.exceptions.RetryError(err) from err
        if isinstance(reason, u3.ProxyError):
            raise requests.exceptions.ProxyError(err) from err
        if isinstance(reason, u3.SSLError):
            raise requests.exceptions.SSLError(err) from err
        raise requests.ConnectionError(err) from err
    except u3.ClosedPoolError as err:
        raise requests.ConnectionError(err) from err
    except u3.ProxyError as err:
        raise requests.exceptions.ProxyError(err) from err
    except u3.SSLError as err:
        raise requests.exceptions.SSLError(err) from err
    except u3.ReadTimeoutError as err:
        raise requests.ReadTimeout(err) from err
    except u3.InvalidHeader as err:
        raise requests.exceptions.InvalidHeader(err) from err
    raw.enforce_content_length = True
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw = raw
    response.reason = raw.reason
    return response


def _azure_error(err: Exception) -> Exception | None:
    """The azure-core error RequestsTransport.send raises for ``err`` (None: ``err`` itself)."""
    if isinstance(err, u3.NewConnectionError):
        return ServiceRequestError(err, error=err)
    if isinstance(err, (u3.ConnectTimeoutError, requests.ConnectTimeout)):
        return ServiceRequestTimeoutError(err, error=err)
    if isinstance(err, requests.ReadTimeout):
        return ServiceResponseTimeoutError(err, error=err)
    if isinstance(err, requests.ConnectionError):
        if err.args and isinstance(err.args[0], u3.ProtocolError):
            return ServiceResponseError(err, error=err)
        return ServiceRequestError(err, error=err)
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        if "IncompleteRead" in str(err):
            _LOGGER.warning("Incomplete download.")
            return IncompleteReadError(err, error=err)
        _LOGGER.warning("Unable to stream download.")
        return HttpResponseError(err, error=err)
    if isinstance(err, requests.RequestException):
        return ServiceResponseError(err, error=err)
    return None
