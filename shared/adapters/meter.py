"""What the adapters saw while one message was handled, for that message's telemetry span: how
many of ARM's answers were 429 (throttled), and which notices were published.

A context variable, so each handler thread counts only its own calls. Nothing is counted outside
``tally()``: the console, the sandbox and the tests pay nothing for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

THROTTLED = 429


@dataclass
class Tally:
    throttled: int = 0  # ARM (or any Azure) answers with status 429, retried ones included
    published: Counter[str] = field(default_factory=Counter)  # notice type -> how many


_current: ContextVar[Tally | None] = ContextVar("autoattach_tally", default=None)


@contextmanager
def tally() -> Iterator[Tally]:
    """Count what the adapters see until the block ends."""
    counted = Tally()
    token = _current.set(counted)
    try:
        yield counted
    finally:
        _current.reset(token)


def answered(status: int) -> None:
    counted = _current.get()
    if counted is not None and status == THROTTLED:
        counted.throttled += 1


def published(notice_types: Iterable[str]) -> None:
    counted = _current.get()
    if counted is not None:
        counted.published.update(notice_types)
