"""Settle a Service Bus message the way an outcome says, never losing it.

Used by the Functions triggers with the host's ServiceBusMessageActions, and by the sandbox's
queue double with its own actions of the same shape.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Protocol

from shared.adapters.rechecks import ATTEMPT_PROPERTY, CHAIN_LENGTH, CHAIN_PROPERTY
from shared.decisions.events import MalformedMessage, event_id_in
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


_DIGITS = re.compile(r"[0-9]{1,18}")
_CHAIN = re.compile(f"[0-9a-f]{{{CHAIN_LENGTH}}}")
_SHOWN_MAX = 100  # characters of a bad value quoted in a dead-letter description


def _property(message: Any, wanted: str) -> Any:
    """The value of one application property, None when absent. The SDK hands AMQP strings back
    as UTF-8 bytes: those are decoded; bytes that are not UTF-8 stay bytes."""
    properties = message.application_properties or {}
    for key, value in properties.items():
        name = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
        if name == wanted:
            if isinstance(value, bytes):
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return value
            return value
    return None


def _malformed(name: str, value: Any, expected: str) -> MalformedMessage:
    shown = repr(value)
    if len(shown) > _SHOWN_MAX:
        shown = f"{shown[:_SHOWN_MAX]}... ({len(shown)} characters)"
    return MalformedMessage(f"application property {name} is {shown}: expected {expected}")


def attempt_of(message: Any) -> int:
    """How many re-checks of this event came before (the ``autoattach-attempt`` property; absent:
    none). autoattach writes a whole number, 0 or more; its decimal digits as text are read too
    (the portal's Service Bus Explorer sends custom properties as text). Anything else raises
    MalformedMessage: a negative count would dodge the re-check limit and its backoff."""
    value = _property(message, ATTEMPT_PROPERTY)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise _malformed(ATTEMPT_PROPERTY, value, "a whole number of earlier re-checks, 0 or more")


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
    if carried is not None:
        if isinstance(carried, str) and _CHAIN.fullmatch(carried):
            return carried
        raise _malformed(CHAIN_PROPERTY, carried, f"{CHAIN_LENGTH} lower-case hex digits")
    message_id = str(message.message_id or "")
    return hashlib.sha256(message_id.encode()).hexdigest()[:CHAIN_LENGTH]


def check_properties(message: Any) -> None:
    """Raise MalformedMessage if a property autoattach reads (its attempt, its chain) holds a value
    autoattach never writes; called before a message is handled, so it ends as a dead letter with
    its reason before any Azure call."""
    attempt_of(message)
    chain_of(message)


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
    if isinstance(outcome, RecheckLater):
        try:
            check_properties(message)
        except MalformedMessage as error:
            outcome = DeadLetter(error.reason, str(error))
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
