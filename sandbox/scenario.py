"""Sandbox scenarios: a world file (Azure state plus the attach policy) and an event stream.

An event stream is a JSON array of steps, each at a virtual time in seconds from the start of a
pass: ``{"at": 0, "event": {...}}`` delivers an Event Grid or CloudEvents envelope (``"raw":
"text"`` delivers a body as-is, to show malformed input); ``{"at": 300, "change": {...}}`` changes
the world as a person or ARM would. ``"queue"`` is optional: extension operations go to
extension-events, everything else to cluster-events. See docs/sandbox.md.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.decisions.arm_id import CONNECTED_CLUSTER, MANAGED_CLUSTER, ResourceId

SANDBOX_TENANT = "72f988bf-0000-4000-8000-00000000aaaa"
EXTENSION_OPERATION = "Microsoft.KubernetesConfiguration/extensions/write"
CLUSTER_WRITE = {
    MANAGED_CLUSTER: "Microsoft.ContainerService/managedClusters/write",
    CONNECTED_CLUSTER: "Microsoft.Kubernetes/connectedClusters/write",
}


class ScenarioError(ValueError):
    """A world or events file is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class Step:
    at: float
    queue: str | None = None
    body: bytes | None = None
    message_id: str | None = None
    change: dict[str, Any] | None = None
    label: str = ""


@dataclass(frozen=True)
class Scenario:
    world: dict[str, Any]
    policy: dict[str, Any]
    steps: tuple[Step, ...]
    tag_key: str = "azureml-attach"
    # app settings set as a deployment would, over the sandbox's own (shared/settings.py names)
    app_settings: dict[str, str] = field(default_factory=dict)


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{what} {path}: cannot read it ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{what} {path}: not JSON ({error.msg}, line {error.lineno})") from None


def split_world_file(document: Any, where: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A world file is the Azure world plus a ``policy`` (and optional ``tag_key``)."""
    if not isinstance(document, dict):
        raise ScenarioError(f"{where}: expected a JSON object")
    world = dict(document)
    policy = world.pop("policy", None)
    tag_key = world.pop("tag_key", "azureml-attach")
    if not isinstance(policy, dict):
        raise ScenarioError(f"{where}: needs a 'policy' object (the attach policy to run with)")
    return world, policy, str(tag_key)


def parse_steps(document: Any, where: str) -> tuple[Step, ...]:
    if not isinstance(document, list):
        raise ScenarioError(f"{where}: expected a JSON array of steps")
    steps = []
    for index, entry in enumerate(document):
        at_where = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{at_where}: a step must be an object")
        at = entry.get("at", 0)
        if not isinstance(at, int | float) or at < 0:
            raise ScenarioError(f"{at_where}.at must be seconds (a number >= 0)")
        if "change" in entry:
            if not isinstance(entry["change"], dict):
                raise ScenarioError(f"{at_where}.change must be an object")
            steps.append(Step(at=float(at), change=entry["change"], label=str(entry["change"])))
            continue
        if "raw" in entry:
            body = str(entry["raw"]).encode()
            message_id = str(entry.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{where}{index}"))
            queue = entry.get("queue") or "cluster-events"
            steps.append(Step(float(at), str(queue), body, message_id, label="raw body"))
            continue
        event = entry.get("event")
        if not isinstance(event, dict | list):
            raise ScenarioError(f"{at_where}: needs 'event' (an envelope), 'raw' or 'change'")
        first = event[0] if isinstance(event, list) and event else event
        given = first.get("id") if isinstance(first, dict) else None
        message_id = str(given or uuid.uuid5(uuid.NAMESPACE_URL, f"{where}{index}"))
        queue = entry.get("queue") or _queue_for(first)
        label = _label_for(first)
        steps.append(Step(float(at), queue, json.dumps(event).encode(), message_id, label=label))
    return tuple(sorted(steps, key=lambda s: s.at))


def arm_event(
    operation: str, resource_uri: str, *, event_id: str, event_time: str = "2026-01-01T09:00:00Z"
) -> dict[str, Any]:
    """An Event Grid schema ARM event as a subscription system topic sends it."""
    resource = ResourceId.parse(resource_uri)
    return {
        "id": event_id,
        "topic": f"/subscriptions/{resource.subscription}",
        "subject": resource.raw,
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": event_time,
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "tenantId": SANDBOX_TENANT,
            "subscriptionId": resource.subscription,
            "resourceProvider": operation.split("/", 1)[0],
            "resourceUri": resource.raw,
            "operationName": operation,
            "status": "Succeeded",
            "correlationId": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id)),
            "authorization": {
                "scope": resource.raw,
                "action": operation,
                "evidence": {"role": "Contributor"},
            },
            "claims": {"appid": "platform-pipeline"},
            "httpRequest": {"clientIpAddress": "10.0.0.4", "method": "PUT"},
        },
    }


def events_for_world(world: dict[str, Any]) -> list[dict[str, Any]]:
    """The write events ARM sends as the world's clusters and their extensions are created."""
    steps: list[dict[str, Any]] = []
    for index, cluster in enumerate(world.get("clusters", [])):
        cluster_id = ResourceId.parse(cluster["id"])
        operation = CLUSTER_WRITE.get(cluster_id.resource_type)
        if operation is None:
            continue
        steps.append(
            {"at": 0, "event": arm_event(operation, cluster_id.raw, event_id=_id("c", index))}
        )
        for ext_index, extension in enumerate(cluster.get("extensions", [])):
            extension_id = (
                f"{cluster_id.raw}/providers/Microsoft.KubernetesConfiguration/extensions/"
                f"{extension['name']}"
            )
            steps.append(
                {
                    "at": 30,
                    "event": arm_event(
                        EXTENSION_OPERATION, extension_id, event_id=_id(f"e{index}-", ext_index)
                    ),
                }
            )
    return steps


def _id(prefix: str, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"autoattach-sandbox/{prefix}{index}"))


def _queue_for(event: Any) -> str:
    data = event.get("data") if isinstance(event, dict) else None
    operation = str((data or {}).get("operationName", "")).lower()
    if operation.startswith("microsoft.kubernetesconfiguration/extensions/"):
        return "extension-events"
    return "cluster-events"


def label_of_body(body: bytes) -> str:
    """How the account names a message it did not send itself (one kept in --state DIR, a
    replayed dead letter): from its event, as ``_label_for`` names a step's."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "a message that is not JSON"
    if isinstance(event, list) and event:
        event = event[0]
    kind = str(event.get("type", "")) if isinstance(event, dict) else ""
    if kind.startswith("autoattach.") and kind.endswith(".requested"):  # shared.engine.sweep
        asked = "sweep" if kind.startswith("autoattach.sweep") else "reconcile"
        return f"{asked} request for {str(event.get('subject', '')).rsplit('/', 1)[-1]}"
    return _label_for(event)


def _label_for(event: Any) -> str:
    if not isinstance(event, dict):
        return "event"
    data: dict[str, Any] = event["data"] if isinstance(event.get("data"), dict) else {}
    operation = data.get("operationName") or event.get("type") or event.get("eventType") or "?"
    uri = str(data.get("resourceUri") or event.get("subject") or "")
    target = uri.rsplit("/", 1)[-1]
    owner, found, _ = uri.lower().partition("/providers/microsoft.kubernetesconfiguration/")
    if found:  # an extension event names its cluster too
        target += f" on {uri[: len(owner)].rsplit('/', 1)[-1]}"
    return f"{operation} {target}".strip()
