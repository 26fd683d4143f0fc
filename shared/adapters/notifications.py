"""Owner notifications: CloudEvents to an Event Grid topic (azure-eventgrid publisher)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from azure.core.credentials import TokenCredential
from azure.core.messaging import CloudEvent

from shared.adapters import meter
from shared.adapters.arm import IN_CALL_BACKOFF_MAX_SECONDS, IN_CALL_RETRIES, transport_kwargs
from shared.decisions.errors import azure_call
from shared.decisions.notices import Notification

if TYPE_CHECKING:  # imported at the first publish: a cold start's first write needs none
    from azure.eventgrid._legacy import EventGridPublisherClient

SOURCE = "/autoattach"


class EventGridNotifier:
    def __init__(self, endpoint: str, credential: TokenCredential) -> None:
        self._endpoint = endpoint
        self._credential = credential
        self._client: EventGridPublisherClient | None = None
        self._lock = threading.Lock()

    def _publisher(self) -> EventGridPublisherClient:
        """The publisher, built at the first publish."""
        with self._lock:
            if self._client is None:
                # The basic-topic publisher itself: azure-eventgrid 4.x's public
                # EventGridPublisherClient builds it for a basic topic with the api-version only,
                # dropping every other keyword (transport, retries).
                from azure.eventgrid._legacy import EventGridPublisherClient

                # It builds azure-core's own RetryPolicy from these (it takes no policy object):
                # two retries, short backoff. A Retry-After is still honoured in full.
                self._client = EventGridPublisherClient(
                    self._endpoint,
                    self._credential,
                    retry_total=IN_CALL_RETRIES,
                    retry_backoff_max=IN_CALL_BACKOFF_MAX_SECONDS,
                    **transport_kwargs(),
                )
            return self._client

    def publish(self, notifications: list[Notification]) -> None:
        if not notifications:
            return
        events = [_cloud_event(n) for n in notifications]
        with azure_call("publish owner notifications"):
            self._publisher().send(events)
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
