"""The sweep: one reconcile request per tagged cluster, through the normal queue path."""

from __future__ import annotations

import json
import uuid

from shared.events import RECONCILE_REQUEST_TYPE
from shared.wiring import App


def reconcile_request(cluster_id: str, reason: str) -> bytes:
    """A CloudEvent asking for a cluster to be reconciled (also what operators replay)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/autoattach",
            "type": RECONCILE_REQUEST_TYPE,
            "subject": cluster_id,
            "data": {"reason": reason},
        }
    ).encode()


def request_reconciles(app: App) -> int:
    count = 0
    for subscription in app.settings.sweep_subscriptions:
        for cluster_id in app.services.clusters.tagged(subscription, app.settings.tag_key):
            body = reconcile_request(cluster_id.raw, "periodic sweep")
            app.scheduler.schedule(
                app.settings.cluster_events_queue,
                body,
                message_id=json.loads(body)["id"],
                attempt=0,
                delay_seconds=0,
            )
            count += 1
    return count
