"""Settling: outcomes, logs and re-check ids name the event from the body, chains stay apart."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.adapters.rechecks import ATTEMPT_PROPERTY, CHAIN_PROPERTY
from shared.engine.handling import Completed, RecheckLater
from shared.engine.settlement import settle

EVENT = {
    "id": "3f1c2d0e-event-id",
    "topic": "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "subject": "/subscriptions/x",
    "eventType": "Microsoft.Resources.ResourceWriteSuccess",
    "eventTime": "2026-01-01T09:00:00Z",
    "dataVersion": "2",
    "metadataVersion": "1",
    "data": {},
}
INTERNAL_ID = "b7f0c1a2d3e4f5061728394a5b6c7d8e"  # what Event Grid puts in MessageId


@dataclass
class Message:
    message_id: str
    body: bytes = json.dumps(EVENT).encode()
    application_properties: dict[Any, Any] = field(default_factory=dict)


class Actions:
    def __init__(self) -> None:
        self.done: list[str] = []

    def complete(self, message: Any) -> None:
        self.done.append("complete")

    def abandon(self, message: Any) -> None:
        self.done.append("abandon")

    def deadletter(self, message: Any, deadletter_reason=None, deadletter_error_description=None):
        self.done.append("deadletter")


class Scheduler:
    def __init__(self) -> None:
        self.scheduled: list[dict[str, Any]] = []

    def now(self):
        return datetime.now(UTC)

    def schedule(self, queue, body, *, message_id, attempt, delay_seconds, chain=None) -> None:
        self.scheduled.append(
            {"id": message_id, "attempt": attempt, "delay": delay_seconds, "chain": chain}
        )


def recheck(message: Message) -> dict[str, Any]:
    scheduler = Scheduler()
    settle(message, Actions(), RecheckLater("waiting", 60), queue="q", scheduler=scheduler)
    (scheduled,) = scheduler.scheduled
    return scheduled


def test_an_event_grid_delivery_is_logged_and_rechecked_under_its_event_id(caplog):
    caplog.set_level("INFO", logger="autoattach.settlement")
    scheduled = recheck(Message(INTERNAL_ID))
    assert scheduled["id"].startswith("3f1c2d0e-event-id#")
    assert scheduled["id"].endswith("#recheck-1")
    assert INTERNAL_ID not in scheduled["id"]
    (record,) = [r for r in caplog.records if hasattr(r, "autoattach_outcome")]
    assert record.autoattach_outcome["id"] == "3f1c2d0e-event-id"
    assert "3f1c2d0e-event-id" in record.getMessage()


def test_a_completed_outcome_names_the_event_not_the_message(caplog):
    caplog.set_level("INFO", logger="autoattach.settlement")
    settle(Message(INTERNAL_ID), Actions(), Completed("ok"), queue="q", scheduler=Scheduler())
    (record,) = [r for r in caplog.records if hasattr(r, "autoattach_outcome")]
    assert record.autoattach_outcome == {
        "id": "3f1c2d0e-event-id",
        "outcome": "completed",
        "reason": "ok",
    }


def test_a_redelivered_message_schedules_the_same_recheck_id():
    assert recheck(Message(INTERNAL_ID)) == recheck(Message(INTERNAL_ID))


def test_two_deliveries_of_one_event_under_different_message_ids_are_different_chains():
    assert recheck(Message(INTERNAL_ID))["id"] != recheck(Message("other-internal-id"))["id"]


def test_a_recheck_copy_keeps_its_chain_and_counts_on():
    first = recheck(Message(INTERNAL_ID))
    copy = Message(
        first["id"],
        application_properties={ATTEMPT_PROPERTY: 1, CHAIN_PROPERTY: first["chain"]},
    )
    second = recheck(copy)
    assert second["chain"] == first["chain"]
    assert second["attempt"] == 2
    assert second["id"] == first["id"].replace("#recheck-1", "#recheck-2")


def test_a_replayed_copy_carries_its_attempts_into_a_new_chain():
    original = recheck(
        Message(
            "x#abc#recheck-3",
            application_properties={ATTEMPT_PROPERTY: 3, CHAIN_PROPERTY: "a" * 12},
        )
    )
    replayed = recheck(
        Message("x#replay", application_properties={ATTEMPT_PROPERTY: 3, CHAIN_PROPERTY: b"b" * 12})
    )
    assert original["attempt"] == replayed["attempt"] == 4
    assert original["id"] != replayed["id"]


def test_a_recheck_id_of_a_long_event_id_fits_service_bus():
    body = json.dumps({**EVENT, "id": "e" * 300}).encode()
    scheduled = recheck(Message(INTERNAL_ID, body=body))
    assert len(scheduled["id"]) <= 128
    assert scheduled["id"].startswith("eeee")


def test_a_recheck_of_a_message_with_a_negative_attempt_is_a_dead_letter_not_a_faster_recheck():
    scheduler, actions = Scheduler(), Actions()
    message = Message(INTERNAL_ID, application_properties={ATTEMPT_PROPERTY: -300})
    settle(message, actions, RecheckLater("waiting", 60), queue="q", scheduler=scheduler)
    assert scheduler.scheduled == []
    assert actions.done == ["deadletter"]
