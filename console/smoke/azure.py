"""How the smoke run talks to Azure: raw ARM requests over the product's connection, and a clock.

Probes make the smallest request that answers their question and look at the answer as ARM gave
it (status, headers, body), so they go below the SDKs' models: ``Arm.request`` sends one request
through a ``ResourceManagementClient`` built on ``shared.adapters.arm.ArmConnection`` (the
product's endpoint, credential, retry bounds and transport). The clock is real time against
Azure and the double's virtual clock in the sandbox, where waiting lets the app run.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from azure.core.rest import HttpRequest
from azure.mgmt.resource.resources import ResourceManagementClient

from shared.adapters.arm import ArmConnection

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One ARM answer: status, headers (names lower-cased), the JSON body (None when empty)."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str:
        """ARM's error code (``error.code``), or "" for a success or a body without one."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("code") or "") if isinstance(error, dict) else ""

    @property
    def detail_codes(self) -> list[str]:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        if not isinstance(details, list):
            return []
        return [str(d.get("code")) for d in details if isinstance(d, dict) and d.get("code")]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def summary(self) -> str:
        """How the evidence names it: ``PUT .../computes/x -> 400 BadRequest``."""
        code = f" {self.code}" if self.code else ""
        return f"{self.method} {self.path} -> {self.status}{code}"


class Arm:
    """Raw ARM requests through the product's connection, one subscription."""

    def __init__(self, connection: ArmConnection, subscription: str) -> None:
        self.connection = connection
        self.subscription = subscription
        self.sent: list[Answer] = []  # every answer, in order: the run's evidence

    def request(
        self, method: str, path: str, api_version: str, body: Any = None, **query: str
    ) -> Answer:
        client = self.connection.client(ResourceManagementClient, self.subscription)
        url = self.connection.endpoint.rstrip("/") + path
        url += "?" + urlencode({"api-version": api_version, **query})
        request = (
            HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        )
        response = client.send_request(request)
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = None
        answer = Answer(
            method,
            path,
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            payload,
        )
        self.sent.append(answer)
        return answer

    def get(self, path: str, api_version: str) -> Answer:
        return self.request("GET", path, api_version)

    def caller(self) -> tuple[str | None, str]:
        """Who the run signs in as: (object id, principal type) from the claims of its own ARM
        token (``oid``; ``idtyp`` "app" for a service principal, else a user). The token itself
        is never kept or shown."""
        scope = self.connection.endpoint.rstrip("/") + "/.default"
        token = self.connection.credential.get_token(scope).token
        parts = token.split(".")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (IndexError, ValueError):
            return None, "User"
        if not isinstance(claims, dict):
            return None, "User"
        kind = "ServicePrincipal" if claims.get("idtyp") == "app" else "User"
        oid = claims.get("oid")
        return (str(oid) if oid else None), kind


class Clock(Protocol):
    """Seconds since some start, and a wait: real time against Azure, virtual in the sandbox
    (where a wait lets the app handle what became due meanwhile)."""

    def now(self) -> float: ...

    def wait(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


def wait_for(
    clock: Clock, check: Callable[[], T | None], *, timeout: float, every: float
) -> tuple[T | None, float]:
    """Call ``check`` until it returns something other than None, waiting ``every`` seconds in
    between, at most ``timeout`` seconds: (what it returned or None, seconds it took)."""
    start = clock.now()
    while True:
        found = check()
        elapsed = clock.now() - start
        if found is not None or elapsed >= timeout:
            return found, elapsed
        clock.wait(min(every, max(0.0, timeout - elapsed)))
