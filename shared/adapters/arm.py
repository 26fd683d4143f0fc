"""How every ARM adapter reaches Azure: one endpoint, one credential, cached SDK clients."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat

from shared.adapters.http_transport import Urllib3Transport
from shared.settings import DEFAULT_ARM_ENDPOINT

Client = TypeVar("Client")
log = logging.getLogger("autoattach.arm")

# Retries inside one SDK call hold the message lock and sleep in real time (azure-core honours any
# Retry-After: three 429s with Retry-After 20 blocked a call for 60 s). So a call retries at most
# twice, briefly; a longer wait surfaces as TransientError(retry_after=...) and becomes a
# scheduled re-check no sooner than Azure asked (shared.engine.handling.backoff).
IN_CALL_RETRIES = 2
IN_CALL_RETRY_AFTER_MAX_SECONDS = 5.0
IN_CALL_BACKOFF_MAX_SECONDS = 4.0


class InCallRetryPolicy(RetryPolicy):
    """azure-core's retry policy, bounded: few retries, short backoff, and no retry at all when
    the answer asks to wait longer than ``max_retry_after`` seconds (the error goes up instead,
    Retry-After and all, so the product can schedule the wait rather than sleep through it)."""

    def __init__(self, *, max_retry_after: float = IN_CALL_RETRY_AFTER_MAX_SECONDS, **kwargs: Any):
        kwargs.setdefault("retry_total", IN_CALL_RETRIES)
        kwargs.setdefault("retry_backoff_max", IN_CALL_BACKOFF_MAX_SECONDS)
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return bool(super().is_retry(settings, response))


def retry_kwargs() -> dict[str, Any]:
    """Keyword arguments for every azure-core based client the product builds (the mgmt
    clients and azure-ai-ml take a ``retry_policy``; the bounds also apply without it)."""
    return {
        "retry_policy": InCallRetryPolicy(),
        "retry_total": IN_CALL_RETRIES,
        "retry_backoff_max": IN_CALL_BACKOFF_MAX_SECONDS,
    }


def transport_kwargs(**client_options: Any) -> dict[str, Any]:
    """The HTTP transport for a client the product builds, as keyword arguments for it.

    Unless a proxy is configured: ``{"transport": Urllib3Transport(...)}``, a fresh one sending
    through urllib3 without requests' per-request preparation (shared.adapters.http_transport;
    about a third of the client's CPU per request), configured with the connection options among
    ``client_options`` (``connection_verify``, ``connection_cert``, ``connection_timeout``,
    ``read_timeout``, ``connection_data_block_size``: what the client would have given the
    transport it builds) and otherwise the CA bundle of the environment (``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE``), read once here. With a proxy in the environment (``HTTPS_PROXY``,
    ``HTTP_PROXY``, ``ALL_PROXY``): nothing, so the client builds azure-core's requests transport,
    which keeps requests' own proxy handling, ``NO_PROXY`` too."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return {}
    options = {name: value for name, value in client_options.items() if name in _CONNECTION}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and "connection_verify" not in options:
        options["connection_verify"] = bundle
    return {"transport": Urllib3Transport(**options)}


_CONNECTION = frozenset(
    {
        "connection_verify",
        "connection_cert",
        "connection_timeout",
        "read_timeout",
        "connection_data_block_size",
    }
)
_PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


@dataclass
class ArmConnection:
    """The ARM endpoint (public cloud, a sovereign cloud, or the local double) and credential."""

    credential: TokenCredential
    endpoint: str = DEFAULT_ARM_ENDPOINT
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def is_public_cloud(self) -> bool:
        return self.endpoint.rstrip("/") == DEFAULT_ARM_ENDPOINT

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.endpoint,
            "credential_scopes": [self.endpoint.rstrip("/") + "/.default"],
            **retry_kwargs(),
            **transport_kwargs(),
        }

    def client(self, factory: Callable[..., Client], subscription_id: str) -> Client:
        """One SDK client per (client type, subscription), built on first use."""
        key = (getattr(factory, "__name__", str(factory)), subscription_id.lower())
        if key not in self._clients:
            self._clients[key] = factory(self.credential, subscription_id, **self.client_kwargs())
        client: Client = self._clients[key]
        return client


# What the generated mgmt operations raise for these answers (the rest: HttpResponseError).
_ERRORS: dict[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}


def get_json(client: Any, url: str) -> dict[str, Any]:
    """One ARM GET through ``client``'s pipeline (any ARM client: its credential, retries and
    transport), its JSON. ``url``: a path and query under the endpoint, or a whole URL (a
    ``nextLink``). A failure raises as a generated mgmt operation's does: 404
    ``ResourceNotFoundError``, 401 ``ClientAuthenticationError``, otherwise an
    ``HttpResponseError`` carrying ARM's error (code and message)."""
    response = client.send_request(HttpRequest("GET", url))
    if response.status_code != 200:
        map_error(status_code=response.status_code, response=response, error_map=_ERRORS)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    payload = response.json() if response.content else {}
    return payload if isinstance(payload, dict) else {}


def get_pages(client: Any, url: str) -> Iterator[dict[str, Any]]:
    """A paged ARM list, page by page: ``url``, then each page's ``nextLink``."""
    next_url: str | None = url
    while next_url:
        page = get_json(client, next_url)
        yield page
        link = page.get("nextLink")
        next_url = link if isinstance(link, str) and link else None


# A status that could not be read: ARM refused the status URL (403). ARM checks it at the
# resource group level, not on the resource, so a deployment whose roles sit on the resource can
# start a write and not follow it; the caller then follows the write by reading the resource.
UNREADABLE = "unreadable"
# How the warning about it begins (docs/operations.md queries for it).
STATUS_REFUSED = "cannot read the status of operation"


def operation_status(
    client: Any, headers: dict[str, str]
) -> tuple[str, dict[str, Any], float | None]:
    """A long-running PUT's status from its first answer: (status lower-cased, its error, its
    Retry-After). No ``Azure-AsyncOperation``: the PUT was synchronous and succeeded. A
    ``Retry-After`` asks the client not to look before then, so the operation is taken as
    running, unread (every status read takes a token from ARM's read budget); otherwise its
    status is read once, through ``client`` (any ARM client). A refused read is ``UNREADABLE``
    (logged with ARM's words: they name the action and scope to grant)."""
    url = async_operation(headers)
    if not url:
        return "succeeded", {}, None
    asked = _seconds(next((v for k, v in headers.items() if k.lower() == "retry-after"), None))
    if asked:
        return "inprogress", {}, asked
    response = client.send_request(HttpRequest("GET", url))
    if response.status_code == 403:
        log.warning(
            "%s %s (%s); following the write by reading the resource instead",
            STATUS_REFUSED,
            urlsplit(url).path,
            _refusal(response),
        )
        return UNREADABLE, {}, None
    response.raise_for_status()
    payload = response.json() if response.content else {}
    payload = payload if isinstance(payload, dict) else {}
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    wait = _seconds(response.headers.get("Retry-After"))
    return str(payload.get("status") or "").lower(), error or {}, wait


def _refusal(response: Any) -> str:
    try:
        error = response.json().get("error") or {}
        return f"{error.get('code', 'HTTP 403')}: {error.get('message', '')}".strip()
    except (ValueError, AttributeError):
        return "HTTP 403"


def async_operation(headers: dict[str, str]) -> str | None:
    """A long-running write's status URL, from its first answer's headers."""
    return next((v for k, v in headers.items() if k.lower() == "azure-asyncoperation"), None)


def _seconds(value: str | None) -> float | None:
    """A Retry-After in seconds (ARM sends delta-seconds), None when absent or unreadable."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def error_text(error: Any) -> str:
    """An ARM error (``{"code", "message"}``) in words: "code: message"."""
    if not isinstance(error, dict):
        return ""
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    return f"{code}: {message}" if code and message else code or message
