"""Parse a queue message into "look at cluster X", or say why it is ignored or malformed.

Accepts the Event Grid schema and CloudEvents 1.0, as one object or a one-element array. The event
only names a cluster; everything else is read from Azure when reconciling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from shared.decisions.arm_id import (
    CONNECTED_CLUSTER,
    EXTENSION_SUFFIX,
    MANAGED_CLUSTER,
    InvalidResourceId,
    ResourceId,
)
from shared.decisions.errors import PermanentError

CLUSTER_TYPES = frozenset({MANAGED_CLUSTER, CONNECTED_CLUSTER})
SUCCESS_TYPES = frozenset(
    {
        "microsoft.resources.resourcewritesuccess",
        "microsoft.resources.resourcedeletesuccess",
        "microsoft.resources.resourceactionsuccess",
    }
)
# Our own messages: the periodic sweep and operator replays ask for a cluster by id.
RECONCILE_REQUEST_TYPE = "autoattach.reconcile.requested"
# The periodic sweep's requests: handled like the above, but never start a re-check chain.
SWEEP_REQUEST_TYPE = "autoattach.sweep.requested"
TAGS_SUFFIX = "/providers/microsoft.resources/tags/default"


class MalformedEvent(PermanentError):
    reason = "MalformedEvent"


class MalformedMessage(PermanentError):
    """An application property autoattach reads holds a value it never writes."""

    reason = "MalformedMessage"


@dataclass(frozen=True)
class ClusterSignal:
    """Something happened that may concern this cluster: reconcile it."""

    event_id: str
    cluster_id: ResourceId
    operation: str  # lower-cased operationName, or the request type for our own messages
    # When the event happened (its eventTime or time), as sent; re-checks carry the first event's.
    time: str | None = None


@dataclass(frozen=True)
class IgnoredEvent:
    event_id: str
    reason: str


ParsedEvent = ClusterSignal | IgnoredEvent


def parse_message(body: bytes | str) -> ParsedEvent:
    """Parse one Service Bus message body. Raises MalformedEvent with a specific reason."""
    event = _single_event(_json(body))
    if "specversion" in event:
        event_id = _text(event, "id")
        event_type = _text(event, "type")
    elif "eventType" in event:
        event_id = _text(event, "id")
        event_type = _text(event, "eventType")
    else:
        raise MalformedEvent(
            "neither an Event Grid event (no 'eventType') nor a CloudEvent (no 'specversion')"
        )
    time = event.get("time", event.get("eventTime"))
    time = time if isinstance(time, str) else None
    if event_type.lower() in (RECONCILE_REQUEST_TYPE, SWEEP_REQUEST_TYPE):
        subject = _cluster_id(_text(event, "subject"))
        return ClusterSignal(event_id, subject, event_type.lower(), time)
    if event_type.lower() not in SUCCESS_TYPES:
        return IgnoredEvent(event_id, f"event type {event_type} does not change a cluster")
    data = event.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent(f"event {event_id}: 'data' must be an object")
    operation = _text(data, "operationName", where=f"event {event_id} data").lower()
    resource_uri = data.get("resourceUri") or event.get("subject")
    if not isinstance(resource_uri, str) or not resource_uri.strip():
        raise MalformedEvent(f"event {event_id}: no data.resourceUri and no subject")
    parsed = _signal_for(event_id, operation, resource_uri)
    if isinstance(parsed, ClusterSignal) and time is not None:
        return replace(parsed, time=time)
    return parsed


def _signal_for(event_id: str, operation: str, resource_uri: str) -> ParsedEvent:
    try:
        resource = ResourceId.parse(resource_uri)
    except InvalidResourceId as error:
        raise MalformedEvent(f"event {event_id}: {error}") from None
    if operation.startswith(EXTENSION_SUFFIX + "/"):
        owner = _owner_of_extension(resource)
        if owner is None:
            return IgnoredEvent(event_id, f"extension {resource} is not on a cluster")
        return ClusterSignal(event_id, owner, operation)
    if operation == "microsoft.resources/tags/write":
        if resource.key.endswith(TAGS_SUFFIX):
            resource = ResourceId.parse(resource.raw[: -len(TAGS_SUFFIX)])
        if _is_cluster(resource):
            return ClusterSignal(event_id, resource, operation)
        return IgnoredEvent(event_id, f"tags changed on {resource}, which is not a cluster")
    if operation.rsplit("/", 1)[0] in CLUSTER_TYPES and _is_cluster(resource):
        return ClusterSignal(event_id, resource, operation)
    return IgnoredEvent(event_id, f"operation {operation} is not about a cluster")


def _owner_of_extension(extension: ResourceId) -> ResourceId | None:
    marker = "/providers/microsoft.kubernetesconfiguration/"
    index = extension.key.find(marker)
    if index <= 0:
        return None
    owner = ResourceId.parse(extension.raw[:index])
    return owner if _is_cluster(owner) else None


def _is_cluster(resource: ResourceId) -> bool:
    try:
        return resource.resource_type in CLUSTER_TYPES
    except InvalidResourceId:
        return False


def _cluster_id(text: str) -> ResourceId:
    try:
        resource = ResourceId.parse(text)
    except InvalidResourceId as error:
        raise MalformedEvent(str(error)) from None
    if not _is_cluster(resource):
        raise MalformedEvent(f"{text!r} is not an AKS or Arc cluster id")
    return resource


# Deeper than any Event Grid event (an event is a handful of levels); a fixed limit, so the same
# body is refused the same way on every Python (3.11's decoder ran out of stack at about 1,000
# levels, 3.13's parses far deeper).
MAX_NESTING = 64


def _json(body: bytes | str) -> Any:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(text)
    except UnicodeDecodeError:
        raise MalformedEvent("message body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise MalformedEvent(f"message body is not JSON: {error.msg} at char {error.pos}") from None
    except RecursionError:
        value = None  # deeper than the decoder's stack: far deeper than MAX_NESTING
    else:
        if _depth(value) <= MAX_NESTING:
            return value
    raise MalformedEvent(
        f"message body is JSON nested more than {MAX_NESTING} levels deep: not an event"
    )


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iteratively: no recursion to exhaust)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def event_id_in(body: bytes | str) -> str | None:
    """The event id in a message body, or None when the body holds no single event with one.

    Service Bus message ids cannot be trusted for this: Event Grid gives each delivery its own
    internal id. Logs, outcomes and re-check ids use the event's own id instead.
    """
    try:
        event = _single_event(_json(body))
    except MalformedEvent:
        return None
    value = event.get("id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _single_event(document: Any) -> dict[str, Any]:
    if isinstance(document, list):
        if len(document) != 1:
            raise MalformedEvent(
                f"message holds an array of {len(document)} events; expected exactly one"
            )
        document = document[0]
    if not isinstance(document, dict):
        raise MalformedEvent(f"an event must be a JSON object, got {type(document).__name__}")
    return document


def _text(obj: dict[str, Any], key: str, *, where: str = "event") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"{where}: '{key}' is missing or not a string")
    return value.strip()
