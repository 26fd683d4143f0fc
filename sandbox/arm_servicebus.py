"""Microsoft.ServiceBus namespaces and queues (api-version 2024-01-01), read-only: what
``autoattach doctor`` reads. Shapes from the published type (sandbox/azure_types/servicebus);
message counts are not modelled (``countDetails`` is absent; doctor counts dead letters through
the queue double instead)."""

from __future__ import annotations

from typing import Any

from sandbox.arm_http import Ctx, not_found
from sandbox.arm_ids import key, name_of, resource_group_of, subscription_of
from sandbox.https import Response
from sandbox.hub import SERVICEBUS_TYPE, Queue, ServiceBusNamespace

QUEUE_TYPE = "Microsoft.ServiceBus/namespaces/queues"


def namespace_json(namespace: ServiceBusNamespace, stamp: str) -> dict[str, Any]:
    name = name_of(namespace.id)
    return {
        "id": namespace.id,
        "name": name,
        "type": SERVICEBUS_TYPE,
        "location": namespace.location,
        "tags": dict(namespace.tags),
        "sku": {"name": "Standard", "tier": "Standard"},
        "properties": {
            "provisioningState": "Succeeded",
            "status": "Active",
            "createdAt": stamp,
            "updatedAt": stamp,
            "serviceBusEndpoint": f"https://{name}.servicebus.windows.net:443/",
            "metricId": f"{subscription_of(namespace.id)}:{name}",
            "disableLocalAuth": True,
            "minimumTlsVersion": "1.2",
            "publicNetworkAccess": "Enabled",
            "zoneRedundant": False,
        },
    }


def queue_json(namespace: ServiceBusNamespace, queue: Queue, stamp: str) -> dict[str, Any]:
    return {
        "id": f"{namespace.id}/queues/{queue.name}",
        "name": queue.name,
        "type": QUEUE_TYPE,
        "location": namespace.location,
        "properties": {
            "createdAt": stamp,
            "updatedAt": stamp,
            "accessedAt": stamp,
            "lockDuration": queue.lock_duration,
            "maxSizeInMegabytes": 1024,
            "requiresDuplicateDetection": queue.requires_duplicate_detection,
            "requiresSession": False,
            "defaultMessageTimeToLive": queue.default_message_ttl,
            "deadLetteringOnMessageExpiration": True,
            "duplicateDetectionHistoryTimeWindow": queue.duplicate_detection_window,
            "maxDeliveryCount": queue.max_delivery_count,
            "status": "Active",
            "enableBatchedOperations": True,
            "enablePartitioning": False,
            "enableExpress": False,
        },
    }


def service_bus(ctx: Ctx) -> Response:
    """GET a namespace, one of its queues, or the list of its queues."""
    namespace_id = ctx.groups["ns"]
    with ctx.world.lock:
        namespace = ctx.world.hub.service_bus.get(key(namespace_id))
        group = resource_group_of(namespace_id)
        if namespace is None:
            return not_found(SERVICEBUS_TYPE, name_of(namespace_id), group)
        stamp = ctx.timestamp()
        if "queue" not in ctx.groups and not ctx.groups.get("queues"):
            return Response(200, namespace_json(namespace, stamp))
        name = ctx.groups.get("queue")
        if name is None:
            queues = sorted(namespace.queues.values(), key=lambda q: q.name.lower())
            return Response(200, {"value": [queue_json(namespace, q, stamp) for q in queues]})
        queue = namespace.queues.get(name.lower())
        if queue is None:
            return not_found(QUEUE_TYPE, f"{name_of(namespace_id)}/{name}", group)
        return Response(200, queue_json(namespace, queue, stamp))
