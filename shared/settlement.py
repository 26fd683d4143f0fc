"""Settle a Service Bus message the way an outcome says, never losing it.

Used by the Functions triggers with the host's ServiceBusMessageActions, and by the sandbox's
queue double with its own actions of the same shape.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from shared.adapters.rechecks import ATTEMPT_PROPERTY
from shared.handling import Completed, DeadLetter, Outcome, RecheckLater
from shared.ports import RecheckScheduler

log = logging.getLogger("autoattach.settlement")


class MessageActions(Protocol):
    def complete(self, message: Any) -> None: ...
    def abandon(self, message: Any) -> None: ...
    def deadletter(
        self,
        message: Any,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None: ...


def message_body(message: Any) -> bytes:
    body = message.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return b"".join(bytes(section) for section in body)


def attempt_of(message: Any) -> int:
    properties = message.application_properties or {}
    for key, value in properties.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name == ATTEMPT_PROPERTY:
            try:
                return int(value)
            except (TypeError, ValueError):
                return 0
    return 0


def event_id_of(message: Any) -> str:
    """The event id behind a message; re-check copies carry it with a '#recheck-N' suffix."""
    return str(message.message_id or "").split("#", 1)[0]


def _record(message: Any, outcome: str, reason: str) -> dict[str, Any]:
    return {
        "autoattach_outcome": {"id": event_id_of(message), "outcome": outcome, "reason": reason}
    }


def settle(
    message: Any,
    actions: MessageActions,
    outcome: Outcome,
    *,
    queue: str,
    scheduler: RecheckScheduler,
) -> None:
    message_id = str(message.message_id or "")
    if isinstance(outcome, Completed):
        log.info(
            "message %s completed: %s",
            message_id,
            outcome.summary,
            extra=_record(message, "completed", outcome.summary),
        )
        actions.complete(message)
    elif isinstance(outcome, RecheckLater):
        attempt = attempt_of(message) + 1
        try:
            scheduler.schedule(
                queue,
                message_body(message),
                message_id=f"{event_id_of(message)}#recheck-{attempt}",
                attempt=attempt,
                delay_seconds=outcome.delay_seconds,
            )
        except Exception:
            log.exception("message %s: could not schedule a re-check; abandoning", message_id)
            actions.abandon(message)
            return
        log.info(
            "message %s: re-check %d in %.0fs: %s",
            message_id,
            attempt,
            outcome.delay_seconds,
            outcome.reason,
            extra=_record(message, "scheduled", outcome.reason),
        )
        actions.complete(message)
    else:
        assert isinstance(outcome, DeadLetter)
        log.warning(
            "message %s dead-lettered: %s: %s",
            message_id,
            outcome.reason,
            outcome.description,
            extra=_record(message, "dead-lettered", f"{outcome.reason}: {outcome.description}"),
        )
        actions.deadletter(
            message,
            deadletter_reason=outcome.reason,
            deadletter_error_description=outcome.description[:4000],
        )
