"""Event delivery: the Event Grid system topic of each watched subscription, its event
subscriptions to the two queues with their filters, and the queues' settings and dead letters.

Pure functions over the resources as ARM returns them (plain dicts). The expected values are those
of infra/modules/event-subscriptions.bicep and servicebus.bicep (tests/e2e/test_doctor.py holds
them together).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from console.doctor.report import Check, ok, problem
from shared.decisions.arm_id import ResourceId

EVENTS, QUEUES = "events", "queues"
TOPIC_TYPE = "Microsoft.Resources.Subscriptions"
EVENT_TYPES = (
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceDeleteSuccess",
)
CLUSTER_OPERATIONS = (
    "Microsoft.ContainerService/managedClusters/write",
    "Microsoft.ContainerService/managedClusters/delete",
    "Microsoft.Kubernetes/connectedClusters/write",
    "Microsoft.Kubernetes/connectedClusters/delete",
    "Microsoft.Resources/tags/write",
)
EXTENSION_OPERATIONS = (
    "Microsoft.KubernetesConfiguration/extensions/write",
    "Microsoft.KubernetesConfiguration/extensions/delete",
)
# infra/modules/servicebus.bicep
LOCK_DURATION = "PT2M"
MAX_DELIVERY_COUNT = 5
DUPLICATE_WINDOW_SECONDS = 24 * 3600  # at least Event Grid's retry span (1440 minutes)
REDEPLOY = "`azd provision` recreates it as infra/ defines it"


def topic_for(subscription: str, topics: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The system topic of the subscription's ARM events, among ``topics``."""
    source = f"/subscriptions/{subscription}".lower()
    for topic in topics:
        properties = topic.get("properties") or {}
        if (
            str(properties.get("source", "")).lower() == source
            and str(properties.get("topicType", "")).lower() == TOPIC_TYPE.lower()
        ):
            return topic
    return None


def check_topic(subscription: str, topic: Mapping[str, Any] | None) -> Check:
    subject = f"system topic of subscription {subscription}"
    if topic is None:
        return problem(
            EVENTS,
            subject,
            "none: ARM events of this subscription reach no queue, so only the sweep sees "
            "its clusters",
            f"add the subscription to AUTOATTACH_WATCHED_SUBSCRIPTIONS and {REDEPLOY}",
        )
    state = str((topic.get("properties") or {}).get("provisioningState") or "")
    if state != "Succeeded":
        return problem(
            EVENTS,
            subject,
            f"{topic['id']} is {state or 'in no state'}, not Succeeded",
            f"see its activity log in the portal; delete it and {REDEPLOY}",
        )
    return ok(EVENTS, subject, f"{topic['name']} Succeeded")


def _destination(subscription: Mapping[str, Any]) -> str:
    properties = subscription.get("properties") or {}
    delivery = properties.get("deliveryWithResourceIdentity") or {}
    destination = delivery.get("destination") or properties.get("destination") or {}
    return str((destination.get("properties") or {}).get("resourceId") or "")


def _filter_problems(subscription: Mapping[str, Any], operations: Sequence[str]) -> list[str]:
    found = (subscription.get("properties") or {}).get("filter") or {}
    problems = []
    types = {t.lower() for t in found.get("includedEventTypes") or []}
    missing_types = [t for t in EVENT_TYPES if types and t.lower() not in types]
    if missing_types:
        problems.append(f"leaves out event types {', '.join(missing_types)}")
    names: set[str] = set()
    for advanced in found.get("advancedFilters") or []:
        if advanced.get("operatorType") == "StringIn" and advanced.get("key") == (
            "data.operationName"
        ):
            names |= {str(v).lower() for v in advanced.get("values") or []}
    missing = [o for o in operations if o.lower() not in names]
    if missing:
        problems.append(f"its data.operationName filter leaves out {', '.join(missing)}")
    return problems


def check_delivery(
    subscription: str,
    topic: Mapping[str, Any],
    event_subscriptions: Sequence[Mapping[str, Any]],
    queue: ResourceId,
    operations: Sequence[str],
) -> Check:
    """The event subscription delivering the topic's events to ``queue``: there, Succeeded,
    filtered as infra/ filters it."""
    subject = f"events of subscription {subscription} to queue {queue.name}"
    to_queue = [s for s in event_subscriptions if _destination(s).lower() == queue.key]
    if not to_queue:
        return problem(
            EVENTS,
            subject,
            f"no event subscription of {topic['name']} delivers to {queue.raw}",
            f"{REDEPLOY.replace('recreates it', 'creates it')}; if {topic['name']} is not the "
            "topic autoattach deployed (Azure allows one ARM system topic per subscription: "
            "another tool's, or another environment's), first `azd env set "
            f"AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS {topic['id']}` (parameter "
            "existingSystemTopicIds; comma-separated, one per subscription)",
        )
    found = to_queue[0]
    state = str((found.get("properties") or {}).get("provisioningState") or "")
    if state != "Succeeded":
        return problem(
            EVENTS,
            subject,
            f"event subscription {found['name']} is {state or 'in no state'}, not Succeeded",
            "check that the system topic's identity holds Azure Service Bus Data Sender on "
            f"the queue, then {REDEPLOY}",
        )
    problems = _filter_problems(found, operations)
    if problems:
        return problem(EVENTS, subject, f"{found['name']}: {'; '.join(problems)}", REDEPLOY)
    return ok(EVENTS, subject, f"{found['name']} Succeeded, filters as deployed")


def iso_seconds(text: str) -> float | None:
    """An ISO 8601 duration (P1D, PT2M, P10675199DT2H48M5.4775807S) in seconds."""
    match = re.fullmatch(
        r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", text.strip().upper()
    )
    if match is None or text.strip().upper() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def check_queue(name: str, queue: Mapping[str, Any] | None) -> Check:
    subject = f"queue {name}"
    if queue is None:
        return problem(QUEUES, subject, "does not exist", REDEPLOY.replace("recreates", "creates"))
    properties = queue.get("properties") or {}
    problems = []
    if not properties.get("requiresDuplicateDetection"):
        problems.append(
            "duplicate detection is off, so Event Grid's redeliveries are handled twice "
            "(it can only be set when the queue is created: delete the queue and redeploy)"
        )
    else:
        window = iso_seconds(str(properties.get("duplicateDetectionHistoryTimeWindow") or ""))
        if window is None or window < DUPLICATE_WINDOW_SECONDS:
            problems.append(
                "the duplicate detection window "
                f"{properties.get('duplicateDetectionHistoryTimeWindow')} is shorter than Event "
                "Grid's 24 h of retries (P1D)"
            )
    if str(properties.get("lockDuration") or "").upper() != LOCK_DURATION:
        problems.append(f"lock duration {properties.get('lockDuration')}, not {LOCK_DURATION}")
    if properties.get("maxDeliveryCount") != MAX_DELIVERY_COUNT:
        problems.append(
            f"max delivery count {properties.get('maxDeliveryCount')}, not {MAX_DELIVERY_COUNT}"
        )
    if problems:
        return problem(QUEUES, subject, "; ".join(problems), REDEPLOY)
    return ok(
        QUEUES,
        subject,
        f"duplicate detection {properties.get('duplicateDetectionHistoryTimeWindow')}, lock "
        f"{LOCK_DURATION}, max delivery count {MAX_DELIVERY_COUNT}",
    )


def check_dead_letters(name: str, count: int) -> Check:
    subject = f"dead letters of {name}"
    if count == 0:
        return ok(QUEUES, subject, "none")
    return problem(
        QUEUES,
        subject,
        f"{count} message(s) autoattach could not handle",
        f"read why with `autoattach dead-letters list --queue {name}`, fix the cause, then "
        f"`autoattach dead-letters replay --queue {name}` (docs/operations.md)",
    )
