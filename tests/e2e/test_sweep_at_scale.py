"""A sweep over many attached clusters stays within ARM's read limits and sends its requests in
batches (issue 19.9; the figures at 5,000 clusters: benchmarks/sweep_scale.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.servicebus import ServiceBusMessage
from azure.servicebus.exceptions import OperationTimeoutError

from benchmarks.sweep_scale import attached_fleet
from sandbox.clock import VirtualClock
from sandbox.runner import Sandbox
from sandbox.servicebus_double import DoubleLink, QueueSender, ServiceBusDouble
from shared.engine.sweep import request_reconciles


def sweep(clusters: int, monkeypatch) -> tuple[int, list[int], int]:
    """One sweep over ``clusters`` attached clusters in one subscription: the ARM reads it made,
    the sizes of the Service Bus schedule calls, and how many requests it queued."""
    calls: list[int] = []
    original = QueueSender.schedule_messages

    def counted(sender, messages, at):
        calls.append(len(messages) if isinstance(messages, list) else 1)
        return original(sender, messages, at)

    monkeypatch.setattr(QueueSender, "schedule_messages", counted)
    with Sandbox(attached_fleet(clusters, 1)) as sandbox:
        sandbox.arm.reset_counts()
        request_reconciles(sandbox.app, now=sandbox.clock.now())
        reads = sandbox.arm.split_counts["reads"]
        queued = len(sandbox.bus.queues["cluster-events"].active)
    return reads, calls, queued


def test_a_sweeps_arm_reads_do_not_grow_with_the_attached_clusters_it_lists(monkeypatch):
    # each cluster holds role assignments autoattach made (ws-1's identity's cluster roles)
    few, _, _ = sweep(5, monkeypatch)
    many, _, queued = sweep(60, monkeypatch)

    assert queued == 60
    assert many == few  # a few lists, not one read of each cluster


def test_a_sweep_schedules_its_requests_in_batches_not_one_call_per_cluster(monkeypatch):
    _, calls, queued = sweep(250, monkeypatch)

    assert queued == 250
    assert sum(calls) == 250
    assert len(calls) <= 3


@pytest.mark.parametrize(
    ("count", "size"), [(4501, 10), (300, 1024)], ids=["4,501 messages", "300 KB"]
)
def test_the_queue_double_refuses_a_scheduled_batch_service_bus_would_refuse(count, size):
    bus = ServiceBusDouble(VirtualClock(), ["cluster-events"])
    batch = [ServiceBusMessage(b"x" * size, message_id=f"m-{n}") for n in range(count)]
    with DoubleLink(bus).sender("cluster-events") as sender, pytest.raises(OperationTimeoutError):
        sender.schedule_messages(batch, bus.clock.now() + timedelta(seconds=1))
    assert bus.queues["cluster-events"].active == []
