"""Owner notifications: CloudEvents to an Event Grid topic (azure-eventgrid publisher)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridPublisherClient

from shared.errors import azure_call

SOURCE = "/autoattach"


@dataclass(frozen=True)
class Notification:
    """One thing a workspace's owners should know; ``subject`` is the workspace (or compute) id."""

    type: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)


class EventGridNotifier:
    def __init__(self, endpoint: str, credential: TokenCredential) -> None:
        self._client = EventGridPublisherClient(endpoint, credential)

    def publish(self, notifications: list[Notification]) -> None:
        if not notifications:
            return
        events = [
            CloudEvent(source=SOURCE, type=n.type, subject=n.subject, data=n.data)
            for n in notifications
        ]
        with azure_call("publish owner notifications"):
            self._client.send(events)
