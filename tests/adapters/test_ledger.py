"""The cluster ledger adapter: the real BlobClient against the Blob double (TLS, bearer token) and
against Azurite, Microsoft's storage emulator (plain HTTP, its account key), the same tests on
both, so the double is checked against the emulator (tests/adapters/blob_backends.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from sandbox.blob_double import BlobStorageDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from shared.adapters.ledger import (
    CONTAINER,
    LEASE_MARGIN_SECONDS,
    LEASE_SECONDS,
    BlobClusterLedger,
    LedgerView,
    ledger_blob_name,
)
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import ClusterBusy, LeaseLost, PermanentError, TransientError
from tests.adapters.blob_backends import (
    BACKENDS,
    BlobBackend,
    azurite_backend,
    double_backend,
    without_ledger_container,
)
from tests.azurite.launcher import Azurite

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NOTICE = {"type": "Autoattach.ComputeAttached", "subject": "ws/computes/aks-ml", "compute": "c1"}


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tls: SandboxTls) -> Iterator[BlobBackend]:
    if request.param == "double":
        with double_backend(tls) as double:
            yield double
    else:
        azurite: Azurite = request.getfixturevalue("azurite")
        with azurite_backend(azurite) as emulator:
            yield emulator


@pytest.fixture
def ledger(backend: BlobBackend) -> BlobClusterLedger:
    return backend.ledger()


@pytest.fixture
def cluster() -> ResourceId:
    name = f"aks-{uuid.uuid4().hex[:8]}"
    return ResourceId.parse(
        f"{SUB}/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/{name}"
    )


def test_the_first_lease_creates_the_ledger_with_nothing_announced(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with ledger.lease(cluster):
        assert ledger.announced(cluster) == {}
    assert backend.stored(cluster) == {"cluster": cluster.key, "announced": {}}
    assert ledger_blob_name(cluster).startswith("clusters/")


def test_a_cluster_held_by_one_instance_is_busy_for_another(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    other_instance = backend.ledger()
    with ledger.lease(cluster), pytest.raises(ClusterBusy) as busy, other_instance.lease(cluster):
        pass
    assert isinstance(busy.value, TransientError)
    assert busy.value.reason == "ClusterBusy"
    assert busy.value.retry_after == 5.0
    with other_instance.lease(cluster):  # released on exit: free at once
        pass


def test_a_cluster_held_by_one_thread_is_busy_for_another_thread_of_the_same_instance(
    ledger: BlobClusterLedger, cluster: ResourceId
):
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with ledger.lease(cluster):
                pass
        except BaseException as error:
            errors.append(error)

    with ledger.lease(cluster):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(60)
        # The holder still reads and writes its ledger.
        ledger.record(cluster, {"n1": NOTICE})
    assert [type(e) for e in errors] == [ClusterBusy]


def test_what_was_recorded_is_what_the_next_holder_reads(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    entries = {"id-1": NOTICE, "id-2": {**NOTICE, "compute": "c2"}}
    with ledger.lease(cluster):
        ledger.record(cluster, entries)
        assert ledger.announced(cluster) == entries
    later = backend.ledger()
    with later.lease(cluster):
        assert later.announced(cluster) == entries
        later.record(cluster, {"id-2": entries["id-2"]})  # record replaces the set
        assert later.announced(cluster) == {"id-2": entries["id-2"]}


def test_cluster_ids_that_differ_only_in_case_share_one_ledger(
    ledger: BlobClusterLedger, cluster: ResourceId
):
    shouted = ResourceId.parse(cluster.raw.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    with ledger.lease(cluster):
        ledger.record(cluster, {"id-1": NOTICE})
        with pytest.raises(ClusterBusy), ledger.lease(shouted):
            pass
    with ledger.lease(shouted):
        assert ledger.announced(shouted) == {"id-1": NOTICE}


def test_a_lease_taken_over_after_it_expired_makes_the_late_read_and_write_fail_as_transient(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    other_instance = backend.ledger()
    with other_instance.lease(cluster):
        pass  # the ledger exists; ``ledger`` has never read it (so it must download it)
    with ledger.lease(cluster):
        backend.advance(61)
        with other_instance.lease(cluster):
            with pytest.raises(TransientError) as lost:
                ledger.record(cluster, {"late": NOTICE})
            assert lost.value.reason == "LeaseLost"
            assert not isinstance(lost.value, ClusterBusy)
            with pytest.raises(TransientError):
                ledger.announced(cluster)
            other_instance.record(cluster, {"current": NOTICE})
    # The late holder's exit (its release refused) raised nothing, and wrote nothing.
    assert backend.stored(cluster)["announced"] == {"current": NOTICE}


def test_a_lease_that_ran_out_unnoticed_fails_the_write_as_transient(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    # The ledger was created by this process: read from memory, the lapse shows at the write.
    with pytest.raises(TransientError) as lost, ledger.lease(cluster):
        backend.advance(61)
        ledger.record(cluster, {"late": NOTICE})
    assert lost.value.reason == "LeaseLost"
    assert backend.stored(cluster)["announced"] == {}


def test_a_holder_that_read_its_ledger_from_memory_and_lost_the_lease_writes_nothing(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    other_instance = backend.ledger()
    with ledger.lease(cluster):
        ledger.record(cluster, {"first": NOTICE})
    with pytest.raises(TransientError) as lost, ledger.lease(cluster):
        assert ledger.announced(cluster) == {"first": NOTICE}  # remembered, not downloaded
        backend.advance(61)
        with other_instance.lease(cluster):
            ledger.record(cluster, {"late": NOTICE})
            other_instance.record(cluster, {"current": NOTICE})
    assert lost.value.reason == "LeaseLost"
    assert not isinstance(lost.value, ClusterBusy)
    assert backend.stored(cluster)["announced"] == {"current": NOTICE}


def test_renewing_keeps_the_lease_past_its_first_minute(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with ledger.lease(cluster) as held:
        backend.advance(45)
        held.renew()
        backend.advance(45)
        with pytest.raises(ClusterBusy), backend.ledger().lease(cluster):
            pass
        ledger.record(cluster, {"id-1": NOTICE})


def test_the_background_renewer_keeps_the_lease_while_the_work_runs(
    backend: BlobBackend, cluster: ResourceId
):
    ledger = backend.ledger(renew_every=0.01)
    with ledger.lease(cluster):
        backend.advance(50)
        renewed = backend.log.count("lease_renew")
        deadline = time.monotonic() + 60  # a guard against a hang, not an assertion on time
        while backend.log.count("lease_renew") == renewed and time.monotonic() < deadline:
            time.sleep(0.01)
        backend.advance(50)  # 100 s after acquiring: alive only if renewed at 50 s
        ledger.record(cluster, {"id-1": NOTICE})
    assert backend.stored(cluster)["announced"] == {"id-1": NOTICE}


def test_the_lease_is_released_when_the_work_fails(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with pytest.raises(ZeroDivisionError), ledger.lease(cluster):
        _ = 1 / 0
    assert backend.lease_state(cluster) == "available"


def test_storage_that_refuses_the_app_is_permanent_and_names_the_role_to_grant(
    tls: SandboxTls, cluster: ResourceId
):
    # The double alone: Azurite refuses nothing to its own account's key.
    storage = BlobStorageDouble(tls, VirtualClock()).start()
    try:
        ledger = BlobClusterLedger(
            storage.endpoint, SandboxCredential(), connection_verify=str(tls.ca_bundle)
        )
        storage.fail_next(403, "AuthorizationPermissionMismatch")
        with pytest.raises(PermanentError) as forbidden, ledger.lease(cluster):
            pass
    finally:
        storage.stop()
    assert forbidden.value.reason == "AuthorizationPermissionMismatch"
    assert "Storage Blob Data Contributor on the app's storage account" in str(forbidden.value)


def test_reading_or_writing_the_ledger_without_holding_its_lease_is_a_bug(
    ledger: BlobClusterLedger, cluster: ResourceId
):
    with pytest.raises(RuntimeError, match="under its lease"):
        ledger.announced(cluster)
    with pytest.raises(RuntimeError, match="under its lease"):
        ledger.record(cluster, {})


OUTCOME = {"outcome": "completed", "reason": "1 change(s)", "event_id": "e-1", "at": "2026-01-01"}


def test_the_last_outcome_is_kept_beside_what_was_announced_whichever_is_written_last(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    entries = {"id-1": NOTICE}
    with ledger.lease(cluster):
        ledger.announced(cluster)
        ledger.record(cluster, entries)
        ledger.record_outcome(cluster, OUTCOME)
    assert backend.stored(cluster) == {
        "cluster": cluster.key,
        "announced": entries,
        "last_outcome": OUTCOME,
    }
    later = backend.ledger()
    with later.lease(cluster):  # another instance records the announced set only
        later.announced(cluster)
        later.record(cluster, {})
    assert ledger.view(cluster).last_outcome == OUTCOME
    with later.lease(cluster):  # ... or the outcome only, without reading first
        later.record_outcome(cluster, {**OUTCOME, "event_id": "e-2"})
    view = ledger.view(cluster)
    assert view.announced == {}
    assert view.last_outcome == {**OUTCOME, "event_id": "e-2"}


def test_a_person_views_the_ledger_without_its_lease_while_a_handler_holds_it(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    assert ledger.view(cluster) == LedgerView()  # nothing kept for this cluster yet
    with ledger.lease(cluster):
        ledger.record(cluster, {"id-1": NOTICE})
        ledger.record_outcome(cluster, OUTCOME)
    with ledger.lease(cluster):
        seen = backend.ledger().view(cluster)  # what the last message left
    assert seen == LedgerView(announced={"id-1": NOTICE}, last_outcome=OUTCOME)
    with pytest.raises(RuntimeError, match="under its lease"):
        ledger.record_outcome(cluster, OUTCOME)


def test_the_same_outcome_again_within_the_hour_costs_the_ledger_no_write(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    first = {"outcome": "completed", "summary": "already converged", "at": "2026-01-01T10:00:00"}

    def writes() -> int:
        return backend.log.count("put_blob")

    def handled(outcome: dict) -> int:
        """One message's outcome kept under its own lease: the Blob writes it cost."""
        before = writes()
        with ledger.lease(cluster):
            ledger.announced(cluster)
            ledger.record_outcome(cluster, outcome)
        return writes() - before

    handled(first)
    # a replay of a converged cluster: nothing new to keep
    assert handled({**first, "event_id": "e-2", "at": "2026-01-01T10:10:00"}) == 0
    changed = {**first, "summary": "1 change(s)", "at": "2026-01-01T10:11:00"}
    assert handled(changed) == 1  # another outcome is kept at once
    assert handled({**changed, "at": "2026-01-01T12:00:00"}) == 1  # and refreshed after an hour


def test_what_one_message_records_is_written_once_when_its_work_is_done(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with ledger.lease(cluster):
        ledger.announced(cluster)
        before = backend.log.count("put_blob")
        ledger.record(cluster, {"id-1": NOTICE})
        ledger.keep_continuation(cluster, {"pending": []})
        ledger.record_outcome(cluster, OUTCOME)
    assert backend.log.count("put_blob") == before + 1
    assert backend.stored(cluster)["announced"] == {"id-1": NOTICE}


def test_what_was_announced_is_written_even_when_the_work_then_fails(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with pytest.raises(RuntimeError, match="boom"), ledger.lease(cluster):
        ledger.record(cluster, {"id-1": NOTICE})  # published, then recorded
        raise RuntimeError("boom")
    assert backend.stored(cluster)["announced"] == {"id-1": NOTICE}


# ---- Blob requests per delivery: what this process already knows is not asked again ----------


def test_a_second_delivery_for_the_same_cluster_in_the_same_process_does_not_download_the_ledger_again(  # noqa: E501
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with ledger.lease(cluster):
        ledger.record(cluster, {"id-1": NOTICE})
    since = len(backend.log)
    with ledger.lease(cluster):
        assert ledger.announced(cluster) == {"id-1": NOTICE}
        ledger.record_outcome(cluster, OUTCOME)
    with ledger.lease(cluster):  # and again after a write of its own
        assert ledger.announced(cluster) == {"id-1": NOTICE}
        assert ledger.continuation(cluster) is None
    assert backend.log.for_cluster(cluster, since) == [
        "lease_acquire",
        "put_blob",
        "lease_release",
        "lease_acquire",
        "lease_release",
    ]
    assert ledger.view(cluster).last_outcome == OUTCOME


def test_a_ledger_changed_by_another_process_is_downloaded_again(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    other_instance = backend.ledger()
    with ledger.lease(cluster):
        ledger.record(cluster, {"mine": NOTICE})
    with other_instance.lease(cluster):
        assert other_instance.announced(cluster) == {"mine": NOTICE}
        other_instance.record(cluster, {"theirs": NOTICE})
    with ledger.lease(cluster):
        assert ledger.announced(cluster) == {"theirs": NOTICE}
        ledger.record(cluster, {"mine again": NOTICE})
    since = len(backend.log)
    with other_instance.lease(cluster):  # its own last write is no longer the blob's content
        assert other_instance.announced(cluster) == {"mine again": NOTICE}
    assert backend.log.for_cluster(cluster, since) == ["lease_acquire", "get_blob", "lease_release"]


def test_a_ledger_blob_rewritten_by_any_other_client_is_downloaded_again(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with ledger.lease(cluster):
        ledger.record(cluster, {"mine": NOTICE})
    someone = backend.service().get_blob_client(CONTAINER, ledger_blob_name(cluster))
    document = {"cluster": cluster.key, "announced": {"restored": NOTICE}}
    someone.upload_blob(json.dumps(document).encode(), overwrite=True)
    since = len(backend.log)
    with ledger.lease(cluster):
        assert ledger.announced(cluster) == {"restored": NOTICE}
    assert backend.log.for_cluster(cluster, since) == ["lease_acquire", "get_blob", "lease_release"]


def test_a_new_clusters_ledger_does_not_create_the_container_twice_nor_download_what_it_created(
    backend: BlobBackend, tls: SandboxTls
):
    with without_ledger_container(backend, tls) as fresh:
        since = len(fresh.log)
        ledger = fresh.ledger()
        first, second = (
            ResourceId.parse(
                f"{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/"
                f"{n}-{uuid.uuid4().hex[:8]}"
            )
            for n in ("aks-first", "aks-second")
        )
        for cluster in (first, second):
            with ledger.lease(cluster):
                assert ledger.announced(cluster) == {}
        containers = [r for r in fresh.log.since(since) if r.operation == "create_container"]
        assert [(r.status, r.code) for r in containers] == [(201, "")]
        assert fresh.log.for_cluster(second, since) == [
            "lease_acquire->BlobNotFound",
            "put_blob",
            "lease_acquire",
            "lease_release",
        ]
        assert fresh.stored(second) == {"cluster": second.key, "announced": {}}


def test_the_ledgers_this_process_remembers_are_bounded_the_least_recently_used_forgotten(
    backend: BlobBackend,
):
    ledger = backend.ledger(remembered=2)
    clusters = [
        ResourceId.parse(
            f"{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/"
            f"aks-{uuid.uuid4().hex[:8]}"
        )
        for _ in range(3)
    ]
    for cluster in clusters:
        with ledger.lease(cluster):
            ledger.record(cluster, {cluster.name: NOTICE})
    since = len(backend.log)
    for cluster in (clusters[2], clusters[0], clusters[1]):
        with ledger.lease(cluster):
            assert ledger.announced(cluster) == {cluster.name: NOTICE}
    downloads = [r.path for r in backend.log.since(since) if r.operation == "get_blob"]
    # 0 was forgotten when 2 came; reading 0 again then forgot 1
    assert [p.rsplit("/", 1)[-1] for p in downloads] == [
        ledger_blob_name(clusters[0]).rsplit("/", 1)[-1],
        ledger_blob_name(clusters[1]).rsplit("/", 1)[-1],
    ]


def test_a_write_refused_for_a_lost_lease_leaves_the_next_holder_reading_what_the_blob_holds(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    with ledger.lease(cluster):
        ledger.record(cluster, {"kept": NOTICE})
    with pytest.raises(TransientError), ledger.lease(cluster):
        ledger.record(cluster, {"never written": NOTICE})
        backend.advance(61)
        with backend.ledger().lease(cluster):
            pass  # another instance took the lapsed lease (and wrote nothing)
    with ledger.lease(cluster):
        assert ledger.announced(cluster) == {"kept": NOTICE}


def wait_for(condition) -> None:
    deadline = time.monotonic() + 60  # a guard against a hang, not an assertion on time
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_renewal_that_fails_is_tried_again_and_the_lease_kept(
    tls: SandboxTls, cluster: ResourceId
):
    storage = BlobStorageDouble(tls, VirtualClock()).start()  # faults: the double's own
    try:
        ledger = BlobClusterLedger(
            storage.endpoint,
            SandboxCredential(),
            renew_every=0.01,
            connection_verify=str(tls.ca_bundle),
        )
        with ledger.lease(cluster):
            # one renewal refused (3 requests: the client's own retries too)
            storage.fail_next(503, "ServerBusy", times=3, operation="lease_renew")
            wait_for(lambda: storage.counts["refused:ServerBusy"] >= 3)
            storage.clock.advance(50)
            renewed = storage.counts["lease_renew"]
            wait_for(lambda: storage.counts["lease_renew"] > renewed)
            storage.clock.advance(50)  # 100 s after acquiring: alive only if renewed after
            other = BlobClusterLedger(
                storage.endpoint, SandboxCredential(), connection_verify=str(tls.ca_bundle)
            )
            with pytest.raises(ClusterBusy), other.lease(cluster):
                pass
            ledger.record(cluster, {"id-1": NOTICE})
    finally:
        storage.stop()


def test_a_lease_not_renewed_in_time_is_lost_and_its_holder_writes_nothing_more(
    backend: BlobBackend, cluster: ResourceId
):
    elapsed = [0.0]  # the ledger's clock, moved with the service's

    def advance(seconds: float) -> None:
        elapsed[0] += seconds
        backend.advance(seconds)

    ledger = backend.ledger(clock=lambda: elapsed[0])
    with ledger.lease(cluster):
        ledger.record(cluster, {"first": NOTICE})
    written = backend.log.count("put_blob")
    with pytest.raises(LeaseLost) as lost, ledger.lease(cluster):
        ledger.check(cluster)  # held
        ledger.record(cluster, {"late": NOTICE})
        advance(LEASE_SECONDS - LEASE_MARGIN_SECONDS)  # no renewal meanwhile
        ledger.check(cluster)
    assert isinstance(lost.value, TransientError) and lost.value.reason == "LeaseLost"
    assert "re-checked" in str(lost.value)
    assert backend.log.count("put_blob") == written
    assert backend.stored(cluster)["announced"] == {"first": NOTICE}


def test_a_holder_whose_lapsed_lease_another_thread_took_neither_reads_nor_writes_through_it(
    ledger: BlobClusterLedger, backend: BlobBackend, cluster: ResourceId
):
    took: list[str] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with ledger.lease(cluster):
                ledger.record(cluster, {"current": NOTICE})
                took.append("yes")
        except BaseException as error:
            errors.append(error)

    with pytest.raises(LeaseLost), ledger.lease(cluster):
        ledger.record(cluster, {"late": NOTICE})
        backend.advance(61)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(60)
        assert took == ["yes"] and errors == []
        ledger.announced(cluster)
    assert backend.stored(cluster)["announced"] == {"current": NOTICE}
