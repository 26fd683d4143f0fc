"""Owner notifications: CloudEvents to an Event Grid topic (azure-eventgrid publisher)."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.messaging import CloudEvent

# The basic-topic publisher itself: azure-eventgrid 4.x's public EventGridPublisherClient builds it
# for a basic topic with the api-version only, dropping every other keyword (transport, retries).
from azure.eventgrid._legacy import EventGridPublisherClient

from shared.adapters import meter
from shared.adapters.arm import IN_CALL_BACKOFF_MAX_SECONDS, IN_CALL_RETRIES, transport_kwargs
from shared.decisions.errors import azure_call
from shared.decisions.notices import Notification

SOURCE = "/autoattach"


class EventGridNotifier:
    def __init__(self, endpoint: str, credential: TokenCredential) -> None:
        # The publisher builds azure-core's own RetryPolicy from these (it takes no policy
        # object): two retries, short backoff. A Retry-After is still honoured in full. The
        # basic-topic client is built directly: the public one would drop these (see import).
        self._client = EventGridPublisherClient(
            endpoint,
            credential,
            retry_total=IN_CALL_RETRIES,
            retry_backoff_max=IN_CALL_BACKOFF_MAX_SECONDS,
            **transport_kwargs(),
        )

    def publish(self, notifications: list[Notification]) -> None:
        if not notifications:
            return
        events = [_cloud_event(n) for n in notifications]
        with azure_call("publish owner notifications"):
            self._client.send(events)
        meter.published(notice.type for notice in notifications)


def _cloud_event(notice: Notification) -> CloudEvent[dict[str, Any]]:
    event: CloudEvent[dict[str, Any]] = CloudEvent(
        source=SOURCE,
        type=notice.type,
        subject=notice.subject,
        data=notice.data,
        datacontenttype="application/json",
    )
    if notice.id:
        event.id = notice.id  # deterministic: the same change, the same id
    return event
