"""Virtual time shared by the doubles, so a re-check "in 60 seconds" takes no real time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

SANDBOX_EPOCH = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)


class VirtualClock:
    """Seconds since the start of a sandbox run; only ``advance`` moves it."""

    def __init__(self, start: datetime = SANDBOX_EPOCH) -> None:
        self._start = start
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def seconds(self) -> float:
        with self._lock:
            return self._elapsed

    def now(self) -> datetime:
        return self.at(self.seconds())

    def at(self, seconds: float) -> datetime:
        """The moment ``seconds`` after the start, in microseconds (the same every time)."""
        return self._start + timedelta(microseconds=round(seconds * 1_000_000))

    def advance_to(self, seconds: float) -> None:
        with self._lock:
            self._elapsed = max(self._elapsed, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._elapsed += max(0.0, seconds)
