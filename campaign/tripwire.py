"""Worker crashes and changes mid-run, at a chosen adapter call.

``Tripwire.install(services)`` wraps each adapter of the product's ``Services`` in a proxy that
counts calls per method. A trap armed with ``arm`` fires once, at the n-th call of one method,
before the call or after it returned (a write applied, then the worker dies): a crash raises
RuntimeError, as a bug or a killed worker would surface to the Functions host (which abandons
the message, so Service Bus delivers it again); a change applies a world change right there, as
a person editing tags while a reconcile runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SERVICES = ("clusters", "extensions", "namespaces", "workspaces", "roles", "notifier", "ledger")


class WorkerCrash(RuntimeError):
    """The injected crash (a RuntimeError: the host treats it as any unexpected failure)."""


@dataclass
class Trap:
    service: str
    method: str
    after: bool
    remaining: int  # calls to let through first
    action: Callable[[], None]
    label: str


class Tripwire:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traps: list[Trap] = []
        self.fired: list[str] = []

    def install(self, services: Any) -> None:
        for name in SERVICES:
            adapter = getattr(services, name)
            if not isinstance(adapter, _Proxy):
                setattr(services, name, _Proxy(adapter, name, self))

    def arm(
        self,
        service: str,
        method: str,
        *,
        nth: int,
        after: bool,
        action: Callable[[], None],
        label: str,
    ) -> None:
        with self._lock:
            self._traps.append(Trap(service, method, after, nth - 1, action, label))

    def crash(self, service: str, method: str, *, nth: int, after: bool) -> None:
        where = f"{'after' if after else 'before'} {service}.{method}"

        def die() -> None:
            raise WorkerCrash(f"worker crashed {where} (injected)")

        self.arm(service, method, nth=nth, after=after, action=die, label=f"crash {where}")

    def disarm(self) -> int:
        """Drop every trap not fired yet; returns how many there were."""
        with self._lock:
            left = len(self._traps)
            self._traps.clear()
            return left

    def _due(self, service: str, method: str, after: bool) -> Trap | None:
        with self._lock:
            for trap in self._traps:
                if (trap.service, trap.method, trap.after) != (service, method, after):
                    continue
                if trap.remaining > 0:
                    trap.remaining -= 1
                    return None
                self._traps.remove(trap)
                self.fired.append(trap.label)
                return trap
        return None

    def passing(self, service: str, method: str, after: bool) -> None:
        trap = self._due(service, method, after)
        if trap is not None:
            trap.action()


class _Proxy:
    """An adapter with a tripwire on every method call."""

    def __init__(self, target: Any, service: str, tripwire: Tripwire) -> None:
        self._target = target
        self._service = service
        self._tripwire = tripwire

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        service, tripwire = self._service, self._tripwire

        def call(*args: Any, **kwargs: Any) -> Any:
            tripwire.passing(service, name, after=False)
            result = attribute(*args, **kwargs)
            tripwire.passing(service, name, after=True)
            return result

        return call
