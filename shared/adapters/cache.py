"""A small process-wide cache with a time to live, for what autoattach reads often and never
writes: a workspace's registry, storage account and identity; an identity's principal id."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")

# Long enough that a burst of clusters joining one workspace reads it once; short enough that a
# workspace's new storage account or identity is seen within minutes (the sweep runs every 15).
DEFAULT_TTL_SECONDS = 300.0


class TtlCache(Generic[Value]):
    def __init__(
        self, ttl_seconds: float = DEFAULT_TTL_SECONDS, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._now = now
        self._entries: dict[str, tuple[float, Value]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, read: Callable[[], Value]) -> Value:
        """The cached value while fresh, else ``read()`` (outside the lock), remembered unless
        empty (an identity whose principal ARM does not show yet is asked again next time)."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None and self._now() - found[0] < self._ttl:
                return found[1]
        value = read()
        if value:
            with self._lock:
                self._entries[key] = (self._now(), value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
