"""Fault injection and ARM-like throttling for the ARM double.

``Faults.inject`` queues an error for the next ``times`` requests whose method matches and whose
path contains a substring (case-insensitive). ``fail_next_lro`` makes the next long-running
operation under a path end Failed. ``Throttle`` keeps ARM's token buckets (per double, in real
time, because azure-core sleeps in real time when it honours Retry-After).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.arm_http import arm_error
from sandbox.https import Response

READ_METHODS = {"GET", "HEAD"}


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int
    code: str
    remaining: int
    retry_after: float | None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method in ("*", method.upper())
        return method_ok and self.path_contains in path.lower()

    def response(self) -> Response:
        headers: dict[str, str] = {}
        retry_after = self.retry_after
        if retry_after is None and self.status == 429:
            retry_after = 1
        if retry_after is not None:
            headers["Retry-After"] = _seconds_header(retry_after)
        message = self.message or f"Injected fault {self.code} ({self.status})."
        return arm_error(self.status, self.code, message, headers)


@dataclass
class Drop:
    """Close the connection without a response, before or after the request is applied."""

    method: str
    path_contains: str
    after_apply: bool
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method in ("*", method.upper())
        return method_ok and self.path_contains in path.lower()


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._lro_failures: list[str] = []
        self._drops: list[Drop] = []

    def inject(
        self,
        method: str,
        path_contains: str,
        status: int,
        code: str,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        fault = Fault(
            method.upper(), path_contains.lower(), status, code, times, retry_after, message
        )
        with self._lock:
            self._faults.append(fault)

    def fail_next_lro(self, path_contains: str) -> None:
        with self._lock:
            self._lro_failures.append(path_contains.lower())

    def inject_drop(
        self, method: str, path_contains: str, *, after_apply: bool, times: int = 1
    ) -> None:
        with self._lock:
            self._drops.append(Drop(method.upper(), path_contains.lower(), after_apply, times))

    def take_drop(self, method: str, path: str) -> Drop | None:
        """The drop fault for this request, if one is due (counted as used)."""
        with self._lock:
            for drop in self._drops:
                if drop.remaining > 0 and drop.matches(method, path):
                    drop.remaining -= 1
                    if drop.remaining == 0:
                        self._drops.remove(drop)
                    return drop
        return None

    def take(self, method: str, path: str) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.response()
        return None

    def take_lro_failure(self, path: str) -> bool:
        lowered = path.lower()
        with self._lock:
            for index, needle in enumerate(self._lro_failures):
                if needle in lowered:
                    del self._lro_failures[index]
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._lro_failures.clear()
            self._drops.clear()


@dataclass(frozen=True)
class ThrottleLimits:
    """ARM's public-cloud buckets per subscription and principal (see azure-facts.md)."""

    reads: int = 250
    reads_per_second: float = 25.0
    writes: int = 200
    writes_per_second: float = 10.0


class _Bucket:
    def __init__(self, capacity: int, refill: float, now: float) -> None:
        self.capacity = capacity
        self.refill = refill
        self.tokens = float(capacity)
        self.stamp = now

    def _top_up(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now

    def take(self, now: float) -> float:
        """Take a token; returns 0 when taken, else the seconds until one is available."""
        self._top_up(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill


class Throttle:
    """Token buckets for reads and writes; ``enforce=False`` only reports remaining tokens."""

    def __init__(
        self,
        limits: ThrottleLimits | None = None,
        enforce: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or ThrottleLimits()
        self.enforce = enforce
        self._monotonic = monotonic
        now = monotonic()
        self._lock = threading.Lock()
        self._reads = _Bucket(self.limits.reads, self.limits.reads_per_second, now)
        self._writes = _Bucket(self.limits.writes, self.limits.writes_per_second, now)

    def admit(self, method: str, subscription: str) -> tuple[Response | None, dict[str, str]]:
        """Charge one request; returns (429 response or None, rate-limit headers)."""
        is_read = method.upper() in READ_METHODS
        kind = "reads" if is_read else "writes"
        with self._lock:
            bucket = self._reads if is_read else self._writes
            wait = bucket.take(self._monotonic()) if self.enforce else 0.0
            remaining = int(bucket.tokens) if self.enforce else bucket.capacity - 1
        headers = {f"x-ms-ratelimit-remaining-subscription-{kind}": str(max(0, remaining))}
        if wait <= 0:
            return None, headers
        seconds = max(1, math.ceil(wait))
        operation = "read" if is_read else "write"
        response = arm_error(
            429,
            "SubscriptionRequestsThrottled",
            f"Number of '{operation}' requests for subscription '{subscription}' actor "
            f"'sandbox' exceeded. Please try again after '{seconds}' seconds after the additional "
            "tokens are available. Refer to https://aka.ms/arm-throttling for additional "
            "information.",
            {"Retry-After": str(seconds), **headers},
        )
        return response, headers


def _seconds_header(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
