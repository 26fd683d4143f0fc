"""Response helpers shared by the ARM double's handlers: ARM's error envelope, ids, timestamps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.clock import VirtualClock
from sandbox.https import Request, Response

if TYPE_CHECKING:
    from sandbox.arm_faults import Faults
    from sandbox.arm_lro import LroStore
    from sandbox.world import World


def arm_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> Response:
    """ARM's error envelope: ``{"error": {"code", "message"[, "details"]}}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Response(status, {"error": error}, dict(headers or {}))


def not_found(resource_type: str, name: str, resource_group: str) -> Response:
    """ARM's 404 for a missing resource, with the message ARM writes."""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not "
        "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def bad_request(code: str, message: str) -> Response:
    return arm_error(400, code, message)


def body_of(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Ctx:
    """What a route handler gets: the request, the regex groups of its route, and shared state."""

    request: Request
    groups: dict[str, str]
    world: World
    clock: VirtualClock
    lro: LroStore
    faults: Faults
    base_url: str

    @property
    def api_version(self) -> str:
        return self.request.query.get("api-version", "")

    def timestamp(self) -> str:
        return self.clock.now().isoformat().replace("+00:00", "Z")

    def lro_should_fail(self) -> bool:
        """True once per ``fail_next_lro`` whose substring is in this request's path."""
        return self.faults.take_lro_failure(self.request.path)

    def lro_headers(
        self,
        resource_id: str,
        failed: bool = False,
        error: dict[str, Any] | None = None,
        done_at: float | None = None,
    ) -> dict[str, str]:
        """Headers of an LRO's first response (Azure-AsyncOperation, and Retry-After while it
        runs or Retry-After-Ms when it finished at once)."""
        return self.lro.start(
            self.base_url,
            resource_id,
            self.api_version,
            failed=failed,
            error=error,
            done_at=done_at,
            retry_after=self.world.lro_retry_after_seconds,
        )


def compresses(request: Request, response: Response) -> bool:
    """Whether ARM gzips this answer for a client that accepts gzip: the JSON answer of a
    successful GET (a resource, a list page, an operation status). Writes (PUT/PATCH/POST/DELETE)
    and errors -- ARM's own 401/404/429 and the resource providers' -- go out plain with a
    Content-Length. Real answers show this for GETs and writes; for errors it is a guess (see the
    README's "Compressed answers")."""
    return (
        request.method == "GET"
        and 200 <= response.status < 300
        and response.body is not None
        and response.raw is None
    )
