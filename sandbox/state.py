"""The sandbox's queues kept between commands: ``--state DIR``.

``autoattach sandbox --state DIR`` writes what its Service Bus queue double holds at the end of the
run (messages still on the queues, and the dead letters) to ``DIR/servicebus.json``; a later run
with the same DIR starts with them on its queues. ``autoattach dead-letters list|replay --state
DIR`` work on that file through the real dead-letter adapter over the queue double, as they work
on Azure; a replay writes the file back (the dead letter gone, its copy on the queue). See
docs/sandbox.md, "Rehearsing a replay".

Times in the file are the sandbox's virtual times (its clock starts 2026-01-01T09:00:00Z).
``saved_at`` is when the run (or the replay) that wrote the file ended: a dead-letters command
takes it as "now" (``--since 2h``). A sandbox run starts its clock at the start again and
carries the messages over with their times moved by as much, so a message visible at
``saved_at`` is visible when the run starts; dead letters keep their order and sequence numbers.
Not kept: locks (a held lock is released when written) and duplicate detection's memory of
message ids (each run is a fresh namespace in that respect).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.clock import VirtualClock
from sandbox.servicebus_double import QueuedMessage, ServiceBusDouble
from shared.settings import DEFAULT_CLUSTER_EVENTS_QUEUE, DEFAULT_EXTENSION_EVENTS_QUEUE

STATE_FILE = "servicebus.json"
FORMAT = "autoattach-sandbox-servicebus/1"
QUEUE_NAMES = [DEFAULT_CLUSTER_EVENTS_QUEUE, DEFAULT_EXTENSION_EVENTS_QUEUE]


class StateError(ValueError):
    """A state directory or file that cannot be used; the message names the file and key."""


@dataclass
class State:
    """Queues read back from a state directory, with the clock at the time they were saved."""

    bus: ServiceBusDouble
    clock: VirtualClock


def state_file(directory: Path) -> Path:
    return Path(directory) / STATE_FILE


def save(bus: ServiceBusDouble, clock: VirtualClock, directory: Path) -> Path:
    """Write the queues (messages and dead letters) to ``directory``, creating it if needed."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise StateError(f"--state {directory}: not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    queues: dict[str, Any] = {}
    for name, queue in bus.queues.items():
        with queue.lock:
            queues[name] = {
                "messages": [_message_json(m, clock) for m in sorted(queue.active, key=_seq)],
                "dead_letters": [
                    _message_json(m, clock) for m in sorted(queue.dead_letters, key=_seq)
                ],
            }
    document = {"format": FORMAT, "saved_at": clock.now().isoformat(), "queues": queues}
    path = state_file(directory)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(partial, path)
    return path


def save_state(state: State, directory: Path) -> Path:
    return save(state.bus, state.clock, directory)


def load_state(directory: Path) -> State:
    """The queues as saved, the clock at ``saved_at`` (for the dead-letters commands)."""
    document, path = _read(directory)
    clock = VirtualClock()
    saved_at = _time(document, "saved_at", path)
    clock.advance_to((saved_at - clock.at(0)).total_seconds())
    bus = ServiceBusDouble(clock, _queue_names(document))
    _fill(bus, document, path, clock, shift=0.0)
    return State(bus, clock)


def carry_into(bus: ServiceBusDouble, directory: Path) -> int:
    """Put what an earlier run kept in ``directory`` on this run's queues (whose clock is at its
    start), times moved so that ``saved_at`` is now. No state there yet: nothing. Returns how
    many messages and dead letters were carried over."""
    if not state_file(directory).exists():
        if Path(directory).exists() and not Path(directory).is_dir():
            raise StateError(f"--state {directory}: not a directory")
        return 0
    document, path = _read(directory)
    clock = bus.clock
    saved_at = _time(document, "saved_at", path)
    shift = (clock.now() - saved_at).total_seconds()
    return _fill(bus, document, path, clock, shift=shift)


def _read(directory: Path) -> tuple[dict[str, Any], Path]:
    path = state_file(directory)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateError(
            f"--state {directory}: no {STATE_FILE} there; run "
            f"`autoattach sandbox --state {directory}` first"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StateError(f"{path}: cannot read it: {error}") from None
    except json.JSONDecodeError as error:
        raise StateError(f"{path}: not JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateError(f"{path}: 'format' must be {FORMAT!r}")
    if not isinstance(document.get("queues"), dict):
        raise StateError(f"{path}: 'queues' must be an object of queue name -> queue")
    return document, path


def _queue_names(document: dict[str, Any]) -> list[str]:
    return [*QUEUE_NAMES, *(n for n in document["queues"] if n not in QUEUE_NAMES)]


def _fill(
    bus: ServiceBusDouble, document: dict[str, Any], path: Path, clock: VirtualClock, shift: float
) -> int:
    carried = 0
    for name, queue_json in document["queues"].items():
        where = f"{path}: queues.{name}"
        if name not in bus.queues:
            raise StateError(f"{where}: no such queue in this sandbox ({', '.join(bus.queues)})")
        if not isinstance(queue_json, dict):
            raise StateError(f"{where} must be an object with 'messages' and 'dead_letters'")
        for key, dead in (("messages", False), ("dead_letters", True)):
            entries = queue_json.get(key, [])
            if not isinstance(entries, list):
                raise StateError(f"{where}.{key} must be an array")
            for index, entry in enumerate(entries):
                message = _message(entry, f"{where}.{key}[{index}]", clock, shift, dead)
                try:
                    bus.queue(name).carry(message, dead_lettered=dead)
                except ValueError as error:
                    raise StateError(f"{where}.{key}[{index}]: {error}") from None
                carried += 1
    return carried


def _seq(message: QueuedMessage) -> int:
    return message.sequence


def _message_json(message: QueuedMessage, clock: VirtualClock) -> dict[str, Any]:
    try:
        body: dict[str, str] = {"body": message.body.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"body_base64": base64.b64encode(message.body).decode()}
    entry: dict[str, Any] = {
        "sequence": message.sequence,
        "message_id": message.message_id,
        **body,
        "content_type": message.content_type,
        "application_properties": {
            k: _property_json(v, k) for k, v in message.application_properties.items()
        },
        "enqueued_at": clock.at(message.enqueued_at).isoformat(),
        "visible_at": clock.at(message.visible_at).isoformat(),
        "delivery_count": message.delivery_count,
    }
    if message.dead_letter_reason is not None or message.dead_letter_description is not None:
        entry["dead_letter_reason"] = message.dead_letter_reason
        entry["dead_letter_description"] = message.dead_letter_description
    return entry


def _property_json(value: Any, name: str) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    raise StateError(f"application property {name!r}: cannot keep a {type(value).__name__}")


def _message(
    entry: Any, where: str, clock: VirtualClock, shift: float, dead: bool
) -> QueuedMessage:
    if not isinstance(entry, dict):
        raise StateError(f"{where} must be an object")
    sequence = entry.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
        raise StateError(f"{where}.sequence must be a whole number >= 1")
    message_id = entry.get("message_id")
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 128:
        raise StateError(f"{where}.message_id must be a string of 1 to 128 characters")
    if isinstance(entry.get("body"), str):
        body = entry["body"].encode("utf-8")
    elif isinstance(entry.get("body_base64"), str):
        try:
            body = base64.b64decode(entry["body_base64"], validate=True)
        except ValueError:
            raise StateError(f"{where}.body_base64 is not base64") from None
    else:
        raise StateError(f"{where}: give 'body' (text) or 'body_base64'")
    properties = entry.get("application_properties") or {}
    if not isinstance(properties, dict):
        raise StateError(f"{where}.application_properties must be an object")
    content_type = entry.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise StateError(f"{where}.content_type must be a string or null")
    delivery_count = entry.get("delivery_count", 0)
    if not isinstance(delivery_count, int) or delivery_count < 0:
        raise StateError(f"{where}.delivery_count must be a whole number >= 0")
    start = clock.at(0)
    enqueued = (_time(entry, "enqueued_at", where) - start).total_seconds() + shift
    visible = (_time(entry, "visible_at", where) - start).total_seconds() + shift
    message = QueuedMessage(
        sequence=sequence,
        message_id=message_id,
        body=body,
        application_properties={
            str(k): _property(v, f"{where}.application_properties.{k}")
            for k, v in properties.items()
        },
        visible_at=max(visible, clock.seconds()),
        delivery_count=delivery_count,
        content_type=content_type,
        enqueued_at=enqueued,
    )
    if dead:
        message.settled = "dead-lettered"
        message.dead_letter_reason = _optional_text(entry, "dead_letter_reason", where)
        message.dead_letter_description = _optional_text(entry, "dead_letter_description", where)
    return message


def _property(value: Any, where: str) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict) and isinstance(value.get("base64"), str):
        return base64.b64decode(value["base64"])
    raise StateError(f"{where} must be a string, number, boolean or {{'base64': ...}}")


def _optional_text(entry: dict[str, Any], key: str, where: Any) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise StateError(f"{where}.{key} must be a string or null")
    return value


def _time(entry: dict[str, Any], key: str, where: Any) -> datetime:
    value = entry.get(key)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise StateError(f"{where}: '{key}' must be an ISO 8601 time with an offset")
    return moment
