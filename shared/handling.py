"""From one queue message to one outcome: complete, re-check later, or dead-letter.

This is everything a Service Bus trigger does, minus the settling, so it is tested without the
Functions host. Transient failures and "not ready yet" never throw: they become re-checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.errors import PermanentError, TransientError
from shared.events import IgnoredEvent, MalformedEvent, parse_message
from shared.ports import Services
from shared.reconcile import reconcile

log = logging.getLogger("autoattach.handling")

MAX_RECHECKS = 60
MAX_BACKOFF_SECONDS = 900.0


@dataclass(frozen=True)
class Completed:
    summary: str


@dataclass(frozen=True)
class RecheckLater:
    reason: str
    delay_seconds: float


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    description: str


Outcome = Completed | RecheckLater | DeadLetter


def handle_message(
    body: bytes, *, attempt: int, services: Services, recheck_delay_seconds: float
) -> Outcome:
    """Decide what becomes of one message. ``attempt`` counts earlier re-checks of this event."""
    try:
        parsed = parse_message(body)
    except MalformedEvent as error:
        return DeadLetter(error.reason, str(error))
    if isinstance(parsed, IgnoredEvent):
        return Completed(f"ignored: {parsed.reason}")
    try:
        result = reconcile(parsed.cluster_id, services, announce_waiting=attempt == 0)
    except TransientError as error:
        delay = backoff(attempt, recheck_delay_seconds, error.retry_after)
        return _recheck_or_give_up(attempt, f"{error.reason}: {error}", delay)
    except PermanentError as error:
        return DeadLetter(error.reason, str(error))
    if result.waiting is not None:
        return _recheck_or_give_up(attempt, result.waiting, recheck_delay_seconds)
    if result.problems:
        return DeadLetter("AttachFailed", result.summary())
    return Completed(result.summary())


def backoff(attempt: int, base_seconds: float, retry_after: float | None) -> float:
    """Exponential from the base, capped at 15 minutes, never sooner than Azure asked."""
    delay = min(base_seconds * (2 ** min(attempt, 10)), MAX_BACKOFF_SECONDS)
    return max(delay, retry_after or 0.0)


def _recheck_or_give_up(attempt: int, reason: str, delay: float) -> Outcome:
    if attempt >= MAX_RECHECKS:
        return DeadLetter(
            "RecheckLimitReached",
            f"still not done after {attempt} re-checks: {reason}. Replay once it is fixed.",
        )
    return RecheckLater(reason, delay)
