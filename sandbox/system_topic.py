"""Event Grid's system topic for a subscription, as autoattach's deployment subscribes to it.

ARM writes the ARM double accepted (``ArmDouble.write_listeners``) become Event Grid events on the
queue double, filtered as infra/modules/event-subscriptions.bicep filters them: a tag write on a
cluster goes to ``cluster-events`` (``Microsoft.Resources/tags/write``, the subject and
``data.resourceUri`` being the tagged cluster), a cluster extension's write or delete to
``extension-events``; every other write is filtered out. ``autoattach smoke --world`` drives the
product through this, as in Azure: it writes tags and extensions, nothing else.

Guessed: that the event leaves when ARM accepts the write (for a long-running write Azure may
send it once the operation ends); Event Grid's delivery takes no virtual time here.
"""

from __future__ import annotations

import json
import re
import uuid

from sandbox.scenario import arm_event
from sandbox.servicebus_double import ServiceBusDouble
from shared import settings as names

_TAGS = re.compile(
    r"^(?P<resource>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
    r"(?:Microsoft\.ContainerService/managedClusters|Microsoft\.Kubernetes/connectedClusters)"
    r"/[^/]+)/providers/Microsoft\.Resources/tags/default/?$",
    re.IGNORECASE,
)
_EXTENSION = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+"
    r"/providers/Microsoft\.KubernetesConfiguration/extensions/[^/]+/?$",
    re.IGNORECASE,
)


class SystemTopic:
    """Turns accepted ARM writes into the events autoattach's two event subscriptions deliver."""

    def __init__(self, bus: ServiceBusDouble) -> None:
        self.bus = bus
        self.sent: list[dict[str, str]] = []  # {"queue", "operation", "resource"} per event

    def heard(self, method: str, path: str) -> None:
        tagged = _TAGS.match(path)
        if tagged is not None and method == "PUT":
            self._send(
                names.DEFAULT_CLUSTER_EVENTS_QUEUE,
                "Microsoft.Resources/tags/write",
                tagged.group("resource"),
                deleted=False,
            )
        elif _EXTENSION.match(path) and method in ("PUT", "DELETE"):
            verb = "delete" if method == "DELETE" else "write"
            self._send(
                names.DEFAULT_EXTENSION_EVENTS_QUEUE,
                f"Microsoft.KubernetesConfiguration/extensions/{verb}",
                path.rstrip("/"),
                deleted=method == "DELETE",
            )

    def _send(self, queue: str, operation: str, resource: str, *, deleted: bool) -> None:
        event_id = str(uuid.uuid4())
        event = arm_event(operation, resource, event_id=event_id)
        if deleted:
            event["eventType"] = "Microsoft.Resources.ResourceDeleteSuccess"
        self.bus.queues[queue].send_event_grid_delivery(
            json.dumps(event).encode(), event_id=event_id
        )
        self.sent.append({"queue": queue, "operation": operation, "resource": resource})
