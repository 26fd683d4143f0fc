"""Fault injection and ARM-like throttling for the ARM double.

``Faults.inject`` queues an error for the next ``times`` requests whose method matches and whose
path contains a substring (case-insensitive). ``fail_next_lro`` makes the next long-running
operation under a path end Failed. ARM's throttling (token buckets per principal, subscription and
region, in virtual time) lives in sandbox/arm_throttle.py; its names are re-exported here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.arm_http import arm_error
from sandbox.arm_throttle import READ_METHODS, Throttle, ThrottleLimits
from sandbox.https import Response

__all__ = ["READ_METHODS", "Drop", "Fault", "Faults", "Throttle", "ThrottleLimits"]


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


def _seconds_header(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
