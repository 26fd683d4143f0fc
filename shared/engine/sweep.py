"""The sweep: one reconcile request per tagged cluster, through the normal queue path.

A sweep request's re-check chain is short (shared.engine.handling.SWEEP_MAX_RECHECKS): it ends
before the next sweep, which looks again. So sweeps never pile chains on a cluster that waits,
however long it waits, and never dead-letter it. Its message id (and so its chain's re-check ids) is
derived from the cluster and the sweep window: two sweeps in one window (a catch-up run after a
restart, a manual run) ask once, duplicate detection drops the second.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Protocol

from shared.decisions.arm_id import ResourceId
from shared.decisions.events import RECONCILE_REQUEST_TYPE, SWEEP_REQUEST_TYPE
from shared.engine.healing import revoke_orphans, survey
from shared.ports import RecheckScheduler, Services


class SweepSettings(Protocol):
    @property
    def sweep_subscriptions(self) -> tuple[str, ...]: ...
    @property
    def tag_key(self) -> str: ...
    @property
    def cluster_events_queue(self) -> str: ...


class Deployment(Protocol):
    """What a sweep is handed: the wired app (shared.wiring.App) fits it."""

    @property
    def settings(self) -> SweepSettings: ...
    @property
    def services(self) -> Services: ...
    @property
    def scheduler(self) -> RecheckScheduler: ...


# Shorter than the default schedule (every 15 minutes), so consecutive sweeps never share a
# window; a schedule more frequent than this is thinned to one request per cluster per window.
SWEEP_WINDOW_SECONDS = 600.0


def reconcile_request(
    cluster_id: str,
    reason: str,
    *,
    event_id: str | None = None,
    event_type: str = RECONCILE_REQUEST_TYPE,
) -> bytes:
    """A CloudEvent asking for a cluster to be reconciled."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": "/autoattach",
            "type": event_type,
            "subject": cluster_id,
            "data": {"reason": reason},
        }
    ).encode()


def sweep_window(now: datetime, window_seconds: float = SWEEP_WINDOW_SECONDS) -> int:
    return math.floor(now.timestamp() / window_seconds)


def sweep_message_id(cluster_id: str, window: int) -> str:
    """Deterministic per cluster (case-insensitively, as ARM ids are) and sweep window."""
    digest = hashlib.sha256(f"{cluster_id.lower()}|{window}".encode()).hexdigest()[:32]
    return f"sweep-{digest}"


def request_reconciles(app: Deployment, now: datetime | None = None) -> int:
    """Ask for every tagged cluster, and every cluster holding what autoattach made, to be
    reconciled: one message each, scheduled in batches over one sender. Returns how many."""
    window = sweep_window(now or datetime.now(UTC))
    tagged = [
        cluster_id
        for subscription in app.settings.sweep_subscriptions
        for cluster_id in app.services.clusters.tagged(subscription, app.settings.tag_key)
    ]
    # Beyond the tagged clusters: those holding what autoattach made (a lost untag or delete
    # event), and role assignments nothing needs any more (shared.engine.healing).
    found = survey(app.services, app.settings.sweep_subscriptions, tagged)
    revoke_orphans(app.services, found.orphans)
    requests = (
        _sweep_request(cluster_id, window)
        for cluster_id in dict.fromkeys([*tagged, *found.clusters])
    )
    return app.scheduler.schedule_all(app.settings.cluster_events_queue, requests, delay_seconds=0)


def _sweep_request(cluster_id: ResourceId, window: int) -> tuple[bytes, str]:
    message_id = sweep_message_id(cluster_id.raw, window)
    body = reconcile_request(
        cluster_id.raw, "periodic sweep", event_id=message_id, event_type=SWEEP_REQUEST_TYPE
    )
    return body, message_id
