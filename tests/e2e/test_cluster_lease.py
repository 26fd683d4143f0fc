"""Two handlers on one cluster at once (the host runs 8 messages per instance, across instances):
the cluster's ledger lease lets one work and sends the other back to look again shortly."""

from __future__ import annotations

import json
import threading
from typing import Any

from sandbox.credential import SandboxCredential
from sandbox.scenario import arm_event
from shared.adapters.ledger import CONTAINER, BlobClusterLedger, ledger_blob_name
from shared.decisions.arm_id import ResourceId
from shared.engine.handling import DeadLetter, RecheckLater, handle_message
from tests.e2e.conftest import ready_document, scenario_from

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
WAIT = 60.0  # a safety net against a hang, never a timing assertion


class HoldFirstAttach:
    """Workspaces that park the first attach until the test lets it go."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = threading.Lock()
        self._seen = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def attach(self, attachment: Any, cluster_id: Any) -> Any:
        with self._first:
            first, self._seen = not self._seen, True
        if first:
            self.entered.set()
            assert self.release.wait(WAIT), "the test never let the first attach go"
        return self._inner.attach(attachment, cluster_id)


def compute_puts(sandbox) -> list[str]:
    return [
        entry.path.rsplit("/", 1)[-1]
        for entry in sandbox.arm.log
        if entry.method == "PUT" and "/computes/" in entry.path
    ]


def test_two_handlers_of_one_cluster_at_once_attach_each_compute_once_and_recheck_the_other(
    sandbox_for,
):
    document = ready_document()
    document["namespace_create_seconds"] = 0  # reach attach in the first run
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, []))
    services = sandbox.app.services
    held = HoldFirstAttach(services.workspaces)
    services.workspaces = held
    sandbox.arm.reset_counts()

    def handle(event_id: str):
        body = json.dumps(arm_event(CLUSTER_WRITE, cluster, event_id=event_id)).encode()
        return handle_message(body, attempt=0, services=services, recheck_delay_seconds=60)

    outcomes: dict[str, Any] = {}
    first = threading.Thread(target=lambda: outcomes.update(first=handle("first")))
    first.start()
    assert held.entered.wait(WAIT), "the first handler never reached attach"
    try:
        outcomes["second"] = handle("second")
    finally:
        held.release.set()
        first.join(WAIT)

    puts = compute_puts(sandbox)
    assert sorted(puts) == sorted(set(puts)) == ["aks-ml", "aks-ml-prod"]
    second = outcomes["second"]
    assert isinstance(second, RecheckLater)
    assert second.reason.startswith("ClusterBusy")
    assert 5 <= second.delay_seconds <= 10
    first_outcome = outcomes["first"]
    assert not isinstance(first_outcome, DeadLetter)
    assert not getattr(first_outcome, "reason", "").startswith("ClusterBusy")
    # Released on the way out: the next handler of this cluster gets the lease at once.
    blob = ledger_blob_name(ResourceId.parse(cluster))
    assert sandbox.storage.lease_state(CONTAINER, blob) == "available"


def test_eight_concurrent_deliveries_for_one_cluster_attach_each_compute_once_and_tell_once(
    sandbox_for,
):
    """The queue double runs the real triggers in threads, as the host runs 8 messages at once;
    the lease serializes them and the ledger keeps each notice to one id."""
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, []))
    for index in range(8):
        event = arm_event(CLUSTER_WRITE, cluster, event_id=f"burst-{index}")
        sandbox.bus.queues["cluster-events"].send_event_grid_delivery(
            json.dumps(event).encode(), event_id=f"burst-{index}"
        )
    handled = sandbox.deliver_concurrently()
    assert len(handled) == 8 and all(h.error is None for h in handled)
    log = sandbox.arm.log
    sandbox.deliver_pending()  # the re-checks of those that found the cluster busy
    log += sandbox.arm.log
    puts = [r for r in log if r.method == "PUT" and "/computes/" in r.path]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in puts) == ["aks-ml", "aks-ml-prod"]
    attached = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.ComputeAttached"]
    assert sorted(n["data"]["compute"] for n in attached) == ["aks-ml", "aks-ml-prod"]


def test_one_instance_handling_a_new_cluster_and_its_replays_never_downloads_its_ledger(
    sandbox_for,
):
    """Blob requests per delivery (each costs the client ~2 ms of CPU): the lease and, when
    something changed, the write; what this instance wrote itself is not read back."""
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    events = [
        {"at": at, "event": arm_event(CLUSTER_WRITE, cluster, event_id=f"e-{at}")}
        for at in (0, 60, 120)
    ]
    sandbox = sandbox_for(scenario_from(document, events))
    report = sandbox.run_pass(0)

    assert [d.outcome for d in report.deliveries] == ["completed"] * 3
    operations = [r.operation for r in sandbox.storage.log if r.status < 400]
    refused = [r.code for r in sandbox.storage.log if r.status >= 400]
    assert refused == ["ContainerNotFound"]  # the first acquire, in a new account
    assert operations.count("create_container") == 1
    assert operations.count("get_blob") == 0
    assert operations.count("lease_acquire") == operations.count("lease_release") == 3


class HoldAfterFirstAttach:
    """Workspaces that park the handler right after its first attach, until the test lets it
    go: the lease can be lost there, between two writes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = threading.Lock()
        self._seen = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def attach(self, attachment: Any, cluster_id: Any) -> Any:
        answer = self._inner.attach(attachment, cluster_id)
        with self._first:
            first, self._seen = not self._seen, True
        if first:
            self.entered.set()
            assert self.release.wait(WAIT), "the test never let the first handler go"
        return answer


def test_a_handler_whose_lease_was_taken_over_writes_nothing_more_and_is_rechecked(sandbox_for):
    """Its renewals failed, the lease ran out and a second handler took the cluster: the first
    makes no further write (no compute attached twice) and its message is re-checked, no crash."""
    document = ready_document()
    document["namespace_create_seconds"] = 0
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, []))
    services = sandbox.app.services
    services.ledger = BlobClusterLedger(
        sandbox.storage.endpoint, SandboxCredential(), renew_every=0.01
    )
    held = HoldAfterFirstAttach(services.workspaces)
    services.workspaces = held
    sandbox.arm.reset_counts()

    def handle(event_id: str) -> Any:
        body = json.dumps(arm_event(CLUSTER_WRITE, cluster, event_id=event_id)).encode()
        return handle_message(body, attempt=0, services=services, recheck_delay_seconds=60)

    outcomes: dict[str, Any] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            outcomes["first"] = handle("first")
        except BaseException as error:  # what the Functions host would see
            errors.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert held.entered.wait(WAIT), "the first handler never attached"
        # Storage refuses every renewal from now on: the lease runs out, and a second handler
        # takes the cluster and converges it.
        sandbox.storage.fail_next(503, "ServerBusy", times=10**6, operation="lease_renew")
        sandbox.clock.advance(61)
        outcomes["second"] = handle("second")
    finally:
        held.release.set()
        thread.join(WAIT)

    assert errors == []
    assert not isinstance(outcomes["second"], DeadLetter | RecheckLater)
    puts = compute_puts(sandbox)
    assert sorted(puts) == sorted(set(puts)) == ["aks-ml", "aks-ml-prod"]
    first_outcome = outcomes["first"]
    assert isinstance(first_outcome, RecheckLater)
    assert first_outcome.reason.startswith("LeaseLost")
