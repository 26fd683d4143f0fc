"""ARM's request throttling: token buckets per principal, subscription, region and operation type.

From Microsoft's "Understand how Azure Resource Manager throttles requests" (2025-05): since 2024
ARM throttles per *region* (not per ARM instance) with a token bucket per scope and operation
type -- subscription reads 250 refilled at 25/s, deletes 200 at 10/s, writes 200 at 10/s (tenant
the same). "The subscription limits apply per subscription, per service principal, and per
operation type. There are also global subscription limits that are equivalent to 15 times the
individual service principal limits for each operation type. The global limits apply across all
service principals." A throttled request gets ``429`` with ``Retry-After`` and is not processed
(it takes no token); every answer carries ``x-ms-ratelimit-remaining-subscription-<type>`` and,
as real responses show, ``x-ms-ratelimit-remaining-subscription-global-<type>`` (a first read
answers 249 and 3749).

Buckets refill in *virtual* time (the double passes ``clock.seconds()``): the sandbox jumps the
clock between deliveries, so a storm throttled for minutes takes no real minutes. What the double
guesses is listed in sandbox/README.md (*Throttling*).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.arm_http import arm_error
from sandbox.https import Response

READ_METHODS = {"GET", "HEAD"}
DELETE_METHODS = {"DELETE"}
KINDS = ("reads", "writes", "deletes")
GLOBAL_FACTOR = 15  # global (all principals) buckets: 15 times a principal's
_ACTOR_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "autoattach-sandbox-arm-actors")
_POLL = re.compile(  # the status URLs sandbox/arm_lro.py hands out, and ARM's generic ones
    r"^/subscriptions/[^/]+/(providers/[^/]+/locations/[^/]+/"
    r"(operationStatuses|operationResults|operations|computeOperationsStatus)/"
    r"|resourceGroups/.+/providers/Microsoft\.KubernetesConfiguration/extensions/[^/]+/operations/)",
    re.IGNORECASE,
)
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/?]+)", re.IGNORECASE)


def kind_of(method: str) -> str:
    """The bucket a request takes from: ``reads`` (GET/HEAD), ``deletes``, else ``writes``."""
    upper = method.upper()
    if upper in READ_METHODS:
        return "reads"
    return "deletes" if upper in DELETE_METHODS else "writes"


def is_poll(method: str, path: str) -> bool:
    """A long-running operation's status read (the Azure-AsyncOperation / Location URL)."""
    return method.upper() in READ_METHODS and _POLL.match(path) is not None


@functools.lru_cache(maxsize=64)
def actor_of(authorization: str) -> str:
    """Who ARM charges a request to: the bearer token's ``oid`` claim when it is a JWT, else a
    stable id derived from the opaque token (the sandbox credential hands out one fixed token,
    so the whole product is one principal, as one managed identity is in Azure)."""
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            claims = json.loads(base64.urlsafe_b64decode(padded))
            for claim in ("oid", "appid", "sub"):
                if isinstance(claims, dict) and isinstance(claims.get(claim), str):
                    return str(claims[claim])
        except (ValueError, TypeError):
            pass
    return str(uuid.uuid5(_ACTOR_NAMESPACE, token))


def subscription_in(path: str) -> str | None:
    match = _SUBSCRIPTION.match(path)
    return match.group(1).lower() if match else None


@dataclass(frozen=True)
class ThrottleLimits:
    """ARM's public-cloud buckets for one principal in one subscription and region."""

    reads: int = 250
    reads_per_second: float = 25.0
    writes: int = 200
    writes_per_second: float = 10.0
    deletes: int = 200
    deletes_per_second: float = 10.0
    global_factor: int = GLOBAL_FACTOR

    def bucket(self, kind: str) -> tuple[int, float]:
        sizes = {
            "reads": (self.reads, self.reads_per_second),
            "writes": (self.writes, self.writes_per_second),
            "deletes": (self.deletes, self.deletes_per_second),
        }
        return sizes[kind]


class _Bucket:
    def __init__(self, capacity: float, refill: float, now: float) -> None:
        self.capacity = capacity
        self.refill = refill
        self.tokens = float(capacity)
        self.stamp = now

    def top_up(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
            self.stamp = now

    def wait(self) -> float:
        """Seconds until a whole token is there (0: one is there now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.refill


@dataclass
class Charge:
    """One request admitted or refused by the buckets (kept for the benchmark's budget plot)."""

    at: float
    kind: str
    actor: str
    subscription: str | None
    region: str
    admitted: bool


@dataclass
class Throttle:
    """Token buckets keyed by (scope, principal, region, kind), plus the global buckets keyed by
    (scope, region, kind). ``enforce=False`` (the default in worlds) refuses nothing and reports
    full buckets less one, so pacing on the headers never slows a world without throttling.

    ``monotonic`` overrides the time the double passes (seconds); by default buckets live on the
    double's virtual clock."""

    limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    enforce: bool = False
    monotonic: Callable[[], float] | None = None
    charges: list[Charge] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.charges.clear()

    def admit(
        self,
        method: str,
        path: str,
        *,
        actor: str = "sandbox",
        region: str = "sandbox",
        now: float = 0.0,
    ) -> tuple[Response | None, dict[str, str]]:
        """Charge one request; returns (the 429 to answer, or None; the rate-limit headers)."""
        kind = kind_of(method)
        subscription = subscription_in(path)
        scope = f"subscription:{subscription}" if subscription else "tenant"
        prefix = (
            f"x-ms-ratelimit-remaining-subscription-{kind}"
            if subscription
            else f"x-ms-ratelimit-remaining-tenant-{kind}"
        )
        size, refill = self.limits.bucket(kind)
        if not self.enforce:
            headers = {prefix: str(size - 1)}
            if subscription:
                headers[f"x-ms-ratelimit-remaining-subscription-global-{kind}"] = str(
                    size * self.limits.global_factor - 1
                )
            return None, headers
        at = self.monotonic() if self.monotonic is not None else now
        with self._lock:
            own = self._bucket((scope, actor, region, kind), size, refill, at)
            shared = None
            if subscription:
                factor = self.limits.global_factor
                shared = self._bucket((scope, region, kind), size * factor, refill * factor, at)
            wait = max(own.wait(), shared.wait() if shared else 0.0)
            if wait <= 0:
                own.tokens -= 1
                if shared is not None:
                    shared.tokens -= 1
            headers = {prefix: str(max(0, math.floor(own.tokens)))}
            if shared is not None:
                headers[f"x-ms-ratelimit-remaining-subscription-global-{kind}"] = str(
                    max(0, math.floor(shared.tokens))
                )
            self.charges.append(Charge(at, kind, actor, subscription, region, wait <= 0))
        if wait <= 0:
            return None, headers
        seconds = max(1, math.ceil(wait))
        operation = {"reads": "read", "writes": "write", "deletes": "delete"}[kind]
        where = f"subscription '{subscription}'" if subscription else "tenant"
        response = arm_error(
            429,
            "SubscriptionRequestsThrottled" if subscription else "TenantRequestsThrottled",
            f"Number of '{operation}' requests for {where} actor '{actor}' exceeded. Please try "
            f"again after '{seconds}' seconds after additional tokens are available. Refer to "
            "https://aka.ms/arm-throttling for additional information.",
            {"Retry-After": str(seconds), **headers},
        )
        return response, headers

    def _bucket(self, key: tuple[str, ...], size: float, refill: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(size, refill, now)
        bucket.top_up(now)
        return bucket
