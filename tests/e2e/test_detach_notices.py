"""Owners told a compute was attached are told when it goes, whatever became of the cluster's
ledger record meanwhile: lost, corrupted or stale, a lease that lapsed before the record was
written, or a publish whose answer was lost. A lost record may cost a repeated notice (the same
id), never a missing one."""

from __future__ import annotations

import json

from sandbox.scenario import arm_event
from shared.adapters.ledger import CONTAINER, ledger_blob_name
from shared.decisions.arm_id import ResourceId
from shared.decisions.notices import notice_id
from tests.e2e.conftest import ready_document, scenario_from, sweep

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"
ATTACHED = "Autoattach.ComputeAttached"
DETACHED = "Autoattach.ComputeDetached"


def attached_then_untagged(*, untag_at: float | None = None):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    steps = [{"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="create")}]
    if untag_at is not None:
        steps += [
            {"at": untag_at, "change": {"op": "set_tags", "resource": cluster, "tags": {}}},
            {"at": untag_at, "event": arm_event(TAGS_WRITE, cluster, event_id="untag")},
        ]
    return cluster, scenario_from(document, steps)


def blob(cluster: str) -> str:
    return ledger_blob_name(ResourceId.parse(cluster))


def untag_unannounced(sandbox, cluster: str) -> None:
    """The untag's event is lost too: the sweep finds what to detach."""
    sandbox.world.apply_change({"op": "set_tags", "resource": cluster, "tags": {}})
    sweep(sandbox)


def each_attached_compute_was_told_it_went(sandbox) -> None:
    notices = sandbox.topic.notifications
    attached = {n["id"]: n for n in notices if n["type"] == ATTACHED}
    detached = {n["id"] for n in notices if n["type"] == DETACHED}
    assert sorted(n["data"]["compute"] for n in attached.values()) == ["aks-ml", "aks-ml-prod"]
    assert sandbox.world.snapshot()["computes"] == []
    for attached_id, notice in attached.items():
        assert notice_id("detached", attached_id) in detached, notice["data"]["compute"]


def test_owners_are_told_a_compute_went_though_the_clusters_ledger_record_was_lost(sandbox_for):
    cluster, scenario = attached_then_untagged()
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    assert sandbox.storage.lose(CONTAINER, blob(cluster))
    untag_unannounced(sandbox, cluster)
    each_attached_compute_was_told_it_went(sandbox)


def test_owners_are_told_a_compute_went_though_the_clusters_ledger_record_was_corrupted(
    sandbox_for,
):
    cluster, scenario = attached_then_untagged()
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    assert sandbox.storage.corrupt(CONTAINER, blob(cluster))
    untag_unannounced(sandbox, cluster)
    each_attached_compute_was_told_it_went(sandbox)


def test_owners_are_told_a_compute_went_though_the_clusters_ledger_record_was_stale(sandbox_for):
    cluster, scenario = attached_then_untagged()
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    # the record as it was before anything was announced: a valid document, missing the computes
    stale = json.dumps({"cluster": cluster.lower(), "announced": {}}).encode()
    assert sandbox.storage.corrupt(CONTAINER, blob(cluster), stale)
    untag_unannounced(sandbox, cluster)
    each_attached_compute_was_told_it_went(sandbox)


def test_owners_are_told_a_compute_went_though_the_lease_lapsed_before_its_attach_was_recorded(
    sandbox_for,
):
    _cluster, scenario = attached_then_untagged(untag_at=1)
    sandbox = sandbox_for(scenario)
    services = sandbox.app.services
    publish = services.notifier.publish

    def publish_after_the_lease_lapsed(notifications):
        if any(n.type == ATTACHED for n in notifications):
            sandbox.storage.lapse_leases(CONTAINER)  # the record of this publish is refused
        return publish(notifications)

    services.notifier.publish = publish_after_the_lease_lapsed
    sandbox.run_pass(0)
    sweep(sandbox)  # the record lacks the computes: the untag's event cannot find them
    each_attached_compute_was_told_it_went(sandbox)


def test_owners_are_told_a_compute_went_though_the_answer_to_its_attached_notice_was_lost(
    sandbox_for,
):
    _cluster, scenario = attached_then_untagged(untag_at=1)
    sandbox = sandbox_for(scenario)
    # ComputeAttached reaches the topic each time; autoattach hears 503, past its retries
    sandbox.topic.lose_next_answers(5)
    sandbox.run_pass(0)
    sweep(sandbox)
    each_attached_compute_was_told_it_went(sandbox)


def test_a_detach_announced_before_the_compute_went_is_not_announced_under_another_id(
    sandbox_for,
):
    _cluster, scenario = attached_then_untagged(untag_at=100)
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    sweep(sandbox)
    detached = [n for n in sandbox.topic.notifications if n["type"] == DETACHED]
    assert sorted(n["data"]["compute"] for n in detached) == ["aks-ml", "aks-ml-prod"]
    assert all("no longer tagged" in n["data"]["reason"] for n in detached)
