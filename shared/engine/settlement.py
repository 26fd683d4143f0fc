"""Settle a Service Bus message the way an outcome says, never losing it.

Used by the Functions triggers with the host's ServiceBusMessageActions, and by the sandbox's
queue double with its own actions of the same shape.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Protocol

from shared.adapters.rechecks import ATTEMPT_PROPERTY, CHAIN_LENGTH, CHAIN_PROPERTY
from shared.decisions.events import event_id_in
from shared.engine.handling import Completed, DeadLetter, Outcome, RecheckLater
from shared.ports import RecheckScheduler

log = logging.getLogger("autoattach.settlement")

MESSAGE_ID_MAX_LENGTH = 128  # Service Bus refuses longer message ids


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


def _property(message: Any, wanted: str) -> Any:
    properties = message.application_properties or {}
    for key, value in properties.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name == wanted:
            return value.decode() if isinstance(value, bytes) else value
    return None


def attempt_of(message: Any) -> int:
    try:
        return int(_property(message, ATTEMPT_PROPERTY) or 0)
    except (TypeError, ValueError):
        return 0


def event_id_of(message: Any) -> str:
    """The event behind a message, read from its body: Event Grid gives each delivery an
    internal MessageId, not the event id. A body with no event id falls back to the message id."""
    found = event_id_in(message_body(message))
    if found is not None:
        return found
    return str(message.message_id or "").split("#", 1)[0]


def chain_of(message: Any) -> str:
    """The re-check chain a message belongs to. Re-check copies and replays carry theirs; a message
    that starts a chain names it after its own message id, so that a redelivery of it (say its
    complete was lost) schedules the same re-check ids, and duplicate detection drops the copy."""
    carried = _property(message, CHAIN_PROPERTY)
    if carried:
        return str(carried)
    message_id = str(message.message_id or "")
    return hashlib.sha256(message_id.encode()).hexdigest()[:CHAIN_LENGTH]


def recheck_message_id(event_id: str, chain: str, attempt: int) -> str:
    """``<event id>#<chain>#recheck-<n>``: unique per chain and attempt, within Service Bus's
    128-character limit (a long event id is shortened, keeping a hash of the whole)."""
    suffix = f"#{chain}#recheck-{attempt}"
    room = MESSAGE_ID_MAX_LENGTH - len(suffix)
    if len(event_id) > room:
        digest = hashlib.sha256(event_id.encode()).hexdigest()[:16]
        event_id = f"{event_id[: room - len(digest) - 1]}~{digest}"
    return event_id + suffix


def _record(event_id: str, outcome: str, reason: str) -> dict[str, Any]:
    return {"autoattach_outcome": {"id": event_id, "outcome": outcome, "reason": reason}}


def settle(
    message: Any,
    actions: MessageActions,
    outcome: Outcome,
    *,
    queue: str,
    scheduler: RecheckScheduler,
) -> None:
    event_id = event_id_of(message)
    about = f"event {event_id} (message {message.message_id})"
    if isinstance(outcome, Completed):
        log.info(
            "%s completed: %s",
            about,
            outcome.summary,
            extra=_record(event_id, "completed", outcome.summary),
        )
        actions.complete(message)
    elif isinstance(outcome, RecheckLater):
        attempt = attempt_of(message) + 1
        chain = chain_of(message)
        try:
            scheduler.schedule(
                queue,
                message_body(message),
                message_id=recheck_message_id(event_id, chain, attempt),
                attempt=attempt,
                delay_seconds=outcome.delay_seconds,
                chain=chain,
            )
        except Exception:
            log.exception("%s: could not schedule a re-check; abandoning", about)
            actions.abandon(message)
            return
        log.info(
            "%s: re-check %d in %.0fs: %s",
            about,
            attempt,
            outcome.delay_seconds,
            outcome.reason,
            extra=_record(event_id, "scheduled", outcome.reason),
        )
        actions.complete(message)
    else:
        assert isinstance(outcome, DeadLetter)
        log.warning(
            "%s dead-lettered: %s: %s",
            about,
            outcome.reason,
            outcome.description,
            extra=_record(event_id, "dead-lettered", f"{outcome.reason}: {outcome.description}"),
        )
        actions.deadletter(
            message,
            deadletter_reason=outcome.reason,
            deadletter_error_description=outcome.description[:4000],
        )
