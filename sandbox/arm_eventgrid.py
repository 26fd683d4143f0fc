"""Microsoft.EventGrid topics, system topics and their event subscriptions (api-version
2025-02-15), read-only: what ``autoattach doctor`` reads. Shapes from the published types
(sandbox/azure_types/eventgrid): a system topic's ``source`` and ``topicType``; an event
subscription delivering with the topic's identity (``deliveryWithResourceIdentity``) to a Service
Bus queue, with its ``filter`` as infra/modules/event-subscriptions.bicep writes it."""

from __future__ import annotations

from typing import Any

from sandbox.arm_http import Ctx, not_found
from sandbox.arm_ids import SANDBOX_TENANT_ID, key, name_of, resource_group_of, subscription_of
from sandbox.https import Response
from sandbox.hub import SYSTEM_TOPIC_TYPE, TOPIC_TYPE, EventSubscription, PlainResource, SystemTopic

EVENT_SUBSCRIPTION_TYPE = "Microsoft.EventGrid/systemTopics/eventSubscriptions"


def topic_json(topic: PlainResource) -> dict[str, Any]:
    name = name_of(topic.id)
    return {
        "id": topic.id,
        "name": name,
        "type": TOPIC_TYPE,
        "location": topic.location,
        "tags": dict(topic.tags),
        "properties": {
            "provisioningState": "Succeeded",
            "endpoint": f"https://{name}.{topic.location}-1.eventgrid.azure.net/api/events",
            "inputSchema": "CloudEventSchemaV1_0",
            "metricResourceId": subscription_of(topic.id),
            "publicNetworkAccess": "Enabled",
            "inboundIpRules": [],
            "disableLocalAuth": True,
            "minimumTlsVersionAllowed": "1.2",
            "dataResidencyBoundary": "WithinGeopair",
        },
    }


def system_topic_json(topic: SystemTopic) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": topic.id,
        "name": name_of(topic.id),
        "type": SYSTEM_TOPIC_TYPE,
        "location": topic.location,
        "tags": {},
        "properties": {
            "provisioningState": topic.provisioning_state,
            "source": topic.source,
            "topicType": topic.topic_type,
            "metricResourceId": subscription_of(topic.id),
        },
    }
    if topic.principal_id:
        body["identity"] = {
            "type": "SystemAssigned",
            "principalId": topic.principal_id,
            "tenantId": SANDBOX_TENANT_ID,
        }
    return body


def event_subscription_json(topic: SystemTopic, subscription: EventSubscription) -> Any:
    return {
        "id": f"{topic.id}/eventSubscriptions/{subscription.name}",
        "name": subscription.name,
        "type": EVENT_SUBSCRIPTION_TYPE,
        "properties": {
            "topic": topic.source,
            "provisioningState": subscription.provisioning_state,
            "deliveryWithResourceIdentity": {
                "identity": {"type": "SystemAssigned"},
                "destination": {
                    "endpointType": "ServiceBusQueue",
                    "properties": {"resourceId": subscription.queue},
                },
            },
            "filter": {
                "includedEventTypes": list(subscription.included_event_types),
                "isSubjectCaseSensitive": False,
                "enableAdvancedFilteringOnArrays": False,
                "advancedFilters": [
                    {"operatorType": f.operator_type, "key": f.key, "values": list(f.values)}
                    for f in subscription.advanced_filters
                ],
            },
            "labels": [],
            "eventDeliverySchema": subscription.event_delivery_schema,
            "retryPolicy": {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
        },
    }


def topic(ctx: Ctx) -> Response:
    topic_id = ctx.groups["topic"]
    with ctx.world.lock:
        found = ctx.world.hub.topics.get(key(topic_id))
    if found is None:
        return not_found(TOPIC_TYPE, name_of(topic_id), resource_group_of(topic_id))
    return Response(200, topic_json(found))


def system_topic(ctx: Ctx) -> Response:
    """GET a system topic, one of its event subscriptions, or the list of them."""
    topic_id = ctx.groups["topic"]
    group = resource_group_of(topic_id)
    with ctx.world.lock:
        found = ctx.world.hub.system_topics.get(key(topic_id))
        if found is None:
            return not_found(SYSTEM_TOPIC_TYPE, name_of(topic_id), group)
        if not ctx.groups.get("subs"):
            return Response(200, system_topic_json(found))
        name = ctx.groups.get("sub")
        if name is None:
            subscriptions = sorted(found.subscriptions.values(), key=lambda s: s.name.lower())
            return Response(
                200, {"value": [event_subscription_json(found, s) for s in subscriptions]}
            )
        subscription = found.subscriptions.get(name.lower())
        if subscription is None:
            return not_found(EVENT_SUBSCRIPTION_TYPE, f"{name_of(topic_id)}/{name}", group)
        return Response(200, event_subscription_json(found, subscription))
