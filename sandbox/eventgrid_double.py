"""A double of an Event Grid custom topic: what ``EventGridPublisherClient.send`` posts lands here.

    topic = EventGridDouble(tls).start()
    client = EventGridPublisherClient(topic.endpoint, SandboxCredential(),
                                      connection_verify=str(tls.ca_bundle))
    client.send([CloudEvent(source="autoattach", type="Autoattach.ComputeAttached", data={...})])
    topic.notifications  # [{"type", "subject", "source", "data", "id", "time", ...}]

It accepts CloudEvents 1.0 batches (``application/cloudevents-batch+json``) and Event Grid schema
arrays (``application/json``), requires a bearer token (or an ``aeg-sas-key`` header) and answers
200 with an empty body, as the real topic does.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sandbox.https import HttpsDouble, Request, Response
from sandbox.tls import SandboxTls

EVENTS_PATH = "/api/events"
_CLOUD_EVENT_REQUIRED = ("id", "source", "type", "specversion")
_EVENT_GRID_REQUIRED = ("id", "subject", "eventType", "eventTime", "dataVersion")


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


class EventGridDouble:
    def __init__(self, tls: SandboxTls) -> None:
        self._lock = threading.Lock()
        self._notifications: list[dict[str, Any]] = []
        self._requests = 0
        self._failures = 0
        self._answers_lost = 0
        self._server = HttpsDouble(tls, self._handle)

    def start(self) -> EventGridDouble:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def endpoint(self) -> str:
        """The topic endpoint to give ``EventGridPublisherClient``."""
        return f"{self._server.base_url}{EVENTS_PATH}"

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Accepted events in arrival order, each with type, subject, source and data."""
        with self._lock:
            return [dict(event) for event in self._notifications]

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._requests

    def clear(self) -> None:
        with self._lock:
            self._notifications.clear()

    def fail_next(self, times: int = 1) -> None:
        """Answer the next ``times`` publishes 503 ServerBusy, accepting nothing."""
        with self._lock:
            self._failures = times
            if times == 0:
                self._answers_lost = 0

    def lose_next_answers(self, times: int = 1) -> None:
        """Accept the next ``times`` publishes, then answer them 503 as if the answer were lost
        on the way back (a timeout after the topic took the events): the publisher believes
        nothing was delivered."""
        with self._lock:
            self._answers_lost = times

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self._requests += 1
            if self._failures > 0:
                self._failures -= 1
                return _error(503, "ServerBusy", "The topic is busy (injected).")
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") and not request.headers.get("aeg-sas-key"):
            return _error(401, "Unauthorized", "The request is missing a bearer token.")
        if request.method != "POST" or request.path.rstrip("/") != EVENTS_PATH:
            return _error(404, "NotFound", f"No route for {request.method} {request.path}.")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            return _error(400, "BadRequest", "The request body is not valid JSON.")
        events = payload if isinstance(payload, list) else [payload]
        if content_type == "application/cloudevents-batch+json":
            parsed = [self._cloud_event(e) for e in events]
        elif content_type in ("application/json", "application/cloudevents+json"):
            if all(isinstance(e, dict) and "specversion" in e for e in events):
                parsed = [self._cloud_event(e) for e in events]
            else:
                parsed = [self._event_grid_event(e) for e in events]
        else:
            return _error(415, "UnsupportedMediaType", f"Content-Type {content_type!r}.")
        problems = [p for p in parsed if isinstance(p, str)]
        if problems:
            return _error(400, "BadRequest", problems[0])
        with self._lock:
            self._notifications.extend(p for p in parsed if isinstance(p, dict))
            if self._answers_lost > 0:
                self._answers_lost -= 1
                return _error(503, "ServerBusy", "The answer was lost (injected): events taken.")
        return Response(200, raw=b"")

    @staticmethod
    def _cloud_event(event: Any) -> dict[str, Any] | str:
        if not isinstance(event, dict):
            return "Each CloudEvent must be a JSON object."
        missing = [name for name in _CLOUD_EVENT_REQUIRED if not event.get(name)]
        if missing:
            return f"CloudEvent is missing required attribute(s) {missing}."
        data = event.get("data")
        if data is None and "data_base64" in event:
            data = event["data_base64"]
        return {
            "schema": "cloudevents",
            "id": event["id"],
            "type": event["type"],
            "source": event["source"],
            "subject": event.get("subject"),
            "time": event.get("time"),
            "data": data,
            # the structured-mode CloudEvent exactly as published (``autoattach sandbox --notices``)
            "envelope": dict(event),
        }

    @staticmethod
    def _event_grid_event(event: Any) -> dict[str, Any] | str:
        if not isinstance(event, dict):
            return "Each event must be a JSON object."
        missing = [name for name in _EVENT_GRID_REQUIRED if not event.get(name)]
        if missing:
            return f"Event is missing required property(ies) {missing}."
        return {
            "schema": "eventgrid",
            "id": event["id"],
            "type": event["eventType"],
            "source": event.get("topic"),
            "subject": event["subject"],
            "time": event["eventTime"],
            "data": event.get("data"),
        }
