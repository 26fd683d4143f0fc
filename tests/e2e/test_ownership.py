"""Ownership under drift: autoattach never strips what another compute still needs, never flaps
on an id's casing, never takes over what a person made, and undoes what the policy stops allowing.
"""

from __future__ import annotations

import copy

from sandbox.scenario import arm_event
from shared.decisions.arm_id import ResourceId
from shared.decisions.policy import AttachPolicy
from shared.engine.reconcile import reconcile
from tests.e2e.conftest import ready_document, scenario_from

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
UAI = SUB + "/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ml"
UAI_PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f42"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def event(at, operation, resource, event_id):
    return {"at": at, "event": arm_event(operation, resource, event_id=event_id)}


def notified(sandbox, kind):
    return [n for n in sandbox.topic.notifications if n["type"] == kind]


def compute_names(sandbox):
    return sorted(c["name"] for c in sandbox.world.snapshot()["computes"])


def assignments_of(sandbox, principal):
    return [
        a for a in sandbox.world.snapshot()["role_assignments"] if a["principal_id"] == principal
    ]


def two_clusters_one_identity():
    """ws-research only; two AKS clusters whose computes share one user-assigned identity."""
    document = ready_document()
    document["policy"]["workspaces"] = document["policy"]["workspaces"][:1]
    document["policy"]["workspaces"][0]["computes"] = [
        {
            "name": "{cluster}",
            "namespace": "azureml-research",
            "identity": {"type": "user_assigned", "resource_id": UAI},
        }
    ]
    document["identities"] = [
        {
            "id": UAI,
            "principal_id": UAI_PRINCIPAL,
            "client_id": "c0ffee00-0000-4000-8000-000000000042",
        }
    ]
    first = document["clusters"][0]
    first["tags"] = {"azureml-attach": "ws-research"}
    second = copy.deepcopy(first)
    second["id"] = first["id"].replace("aks-ml", "aks-two")
    document["clusters"] = [first, second]
    return document


def test_untagging_one_cluster_keeps_the_roles_a_shared_identity_needs_for_the_other(sandbox_for):
    document = two_clusters_one_identity()
    first, second = (c["id"] for c in document["clusters"])
    steps = [
        event(0, CLUSTER_WRITE, first, "create-1"),
        event(1, CLUSTER_WRITE, second, "create-2"),
        {"at": 100, "change": {"op": "set_tags", "resource": second, "tags": {}}},
        event(101, TAGS_WRITE, second, "untag-2"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.run_pass(0)
    assert compute_names(sandbox) == ["aks-ml"]
    roles = {
        a["role_definition_id"].rsplit("/", 1)[-1] for a in assignments_of(sandbox, UAI_PRINCIPAL)
    }
    assert ACR_PULL in roles
    assert "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" in roles  # Storage Blob Data Reader


def test_untagging_both_clusters_one_after_the_other_leaves_the_shared_identity_no_roles(
    sandbox_for,
):
    document = two_clusters_one_identity()
    document["compute_detach_seconds"] = 30  # the first detach still runs when the second comes
    first, second = (c["id"] for c in document["clusters"])
    steps = [
        event(0, CLUSTER_WRITE, first, "create-1"),
        event(1, CLUSTER_WRITE, second, "create-2"),
        {"at": 100, "change": {"op": "set_tags", "resource": second, "tags": {}}},
        event(101, TAGS_WRITE, second, "untag-2"),
        {"at": 105, "change": {"op": "set_tags", "resource": first, "tags": {}}},
        event(106, TAGS_WRITE, first, "untag-1"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.run_pass(0)

    assert compute_names(sandbox) == []
    # the second cluster's compute was being detached when the first was untagged: it needed
    # nothing any more, so no sweep is needed to take the identity's roles away
    assert assignments_of(sandbox, UAI_PRINCIPAL) == []


def test_two_clusters_untagged_at_the_same_moment_leave_their_shared_identity_no_roles(
    sandbox_for,
):
    # the worst interleaving: each cluster's reconcile saw the other's compute still attached
    # (so each kept the shared identity's roles), then both detached
    document = two_clusters_one_identity()
    first, second = (c["id"] for c in document["clusters"])
    steps = [
        event(0, CLUSTER_WRITE, first, "create-1"),
        event(1, CLUSTER_WRITE, second, "create-2"),
        {"at": 100, "change": {"op": "set_tags", "resource": first, "tags": {}}},
        {"at": 100, "change": {"op": "set_tags", "resource": second, "tags": {}}},
        event(101, TAGS_WRITE, first, "untag-1"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    services = sandbox.app.services
    detach = services.workspaces.detach
    interleaved: list[str] = []

    def detach_after_the_other_cluster_ran(workspace_id, name):
        if name == "aks-ml" and not interleaved:
            # the second cluster's untag is handled between the first one's look and its detach
            interleaved.append(name)
            other = ResourceId.parse(second)
            with services.ledger.lease(other):
                reconcile(other, services)
        return detach(workspace_id, name)

    services.workspaces.detach = detach_after_the_other_cluster_ran
    sandbox.run_pass(0)

    assert interleaved and compute_names(sandbox) == []
    assert assignments_of(sandbox, UAI_PRINCIPAL) == []


def test_an_event_naming_the_cluster_in_other_casing_does_not_flap_its_compute(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    shouted = cluster.replace("rg-platform", "RG-Platform").replace("aks-ml", "AKS-ML")
    steps = [
        event(0, CLUSTER_WRITE, shouted, "shouted"),
        event(50, TAGS_WRITE, cluster, "quiet"),
        event(100, TAGS_WRITE, shouted, "shouted-again"),
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.run_pass(0)
    assert compute_names(sandbox) == ["aks-ml", "aks-ml-prod"]
    assert notified(sandbox, "Autoattach.ComputeDetached") == []
    attached = notified(sandbox, "Autoattach.ComputeAttached")
    assert sorted(n["data"]["compute"] for n in attached) == ["aks-ml", "aks-ml-prod"]


def test_a_compute_a_person_made_with_the_policys_name_is_a_conflict_and_gets_no_roles(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    research = document["workspaces"][0]["id"]
    document["computes"] = [
        {
            "workspace": research,
            "name": "aks-ml",
            "resource_id": cluster,
            "namespace": "azureml-research",
            "identity_type": "system_assigned",
        }
    ]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, cluster, "create")]))
    sandbox.run_pass(0)
    by_hand = next(c for c in sandbox.world.snapshot()["computes"] if c["name"] == "aks-ml")
    assert assignments_of(sandbox, by_hand["principal_id"]) == []
    attached = [n["data"]["compute"] for n in notified(sandbox, "Autoattach.ComputeAttached")]
    assert "aks-ml" not in attached
    failed = notified(sandbox, "Autoattach.AttachFailed")
    assert any(
        "aks-ml" in n["data"]["problem"] and "not made by autoattach" in n["data"]["problem"]
        for n in failed
    )


def narrowed(sandbox, document, keep: int):
    """The running app's policy, with only workspace ``keep`` left in it."""
    policy = copy.deepcopy(document["policy"])
    policy["workspaces"] = [policy["workspaces"][keep]]
    sandbox.app.services.policy = AttachPolicy.from_dict(policy)


def test_a_workspace_removed_from_the_policy_loses_its_compute_and_grants(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, cluster, "create")]))
    sandbox.run_pass(0)
    prod = next(c for c in sandbox.world.snapshot()["computes"] if c["name"] == "aks-ml-prod")
    assert assignments_of(sandbox, prod["principal_id"])
    narrowed(sandbox, document, keep=0)
    sandbox.bus.queues["cluster-events"].send(
        _body(arm_event(TAGS_WRITE, cluster, event_id="after-narrowing")), message_id="n-1"
    )
    sandbox.deliver_pending()
    assert compute_names(sandbox) == ["aks-ml"]
    assert assignments_of(sandbox, prod["principal_id"]) == []
    detached = notified(sandbox, "Autoattach.ComputeDetached")
    assert [n["data"]["compute"] for n in detached] == ["aks-ml-prod"]
    assert "policy" in detached[0]["data"]["reason"]


def test_a_scope_narrowed_away_from_the_cluster_detaches_it(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, cluster, "create")]))
    sandbox.run_pass(0)
    policy = copy.deepcopy(document["policy"])
    policy["workspaces"][1]["clusters"] = [SUB + "/resourceGroups/rg-elsewhere"]
    sandbox.app.services.policy = AttachPolicy.from_dict(policy)
    sandbox.bus.queues["cluster-events"].send(
        _body(arm_event(TAGS_WRITE, cluster, event_id="after-narrowing")), message_id="n-2"
    )
    sandbox.deliver_pending()
    assert compute_names(sandbox) == ["aks-ml"]


def test_a_changed_compute_identity_in_the_policy_replaces_the_compute(sandbox_for):
    document = ready_document()
    document["identities"] = [
        {
            "id": UAI,
            "principal_id": UAI_PRINCIPAL,
            "client_id": "c0ffee00-0000-4000-8000-000000000042",
        }
    ]
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, cluster, "create")]))
    sandbox.run_pass(0)
    old = next(c for c in sandbox.world.snapshot()["computes"] if c["name"] == "aks-ml")
    policy = copy.deepcopy(document["policy"])
    policy["workspaces"][0]["computes"][0]["identity"] = {
        "type": "user_assigned",
        "resource_id": UAI,
    }
    sandbox.app.services.policy = AttachPolicy.from_dict(policy)
    sandbox.bus.queues["cluster-events"].send(
        _body(arm_event(TAGS_WRITE, cluster, event_id="identity-change")), message_id="n-3"
    )
    sandbox.deliver_pending()
    new = next(c for c in sandbox.world.snapshot()["computes"] if c["name"] == "aks-ml")
    assert new["identity_type"] == "user_assigned"
    assert assignments_of(sandbox, old["principal_id"]) == []
    assert assignments_of(sandbox, UAI_PRINCIPAL)


def _body(event: dict) -> bytes:
    import json

    return json.dumps(event).encode()


def test_owners_of_a_ready_compute_are_told_even_when_another_workspaces_grant_was_throttled(
    sandbox_for,
):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, cluster, "create")]))
    sandbox.arm.inject("PUT", "storageAccounts/stprod/providers", 429, "TooManyRequests", times=3)
    sandbox.run_pass(0)
    attached = sorted(n["data"]["compute"] for n in notified(sandbox, "Autoattach.ComputeAttached"))
    assert attached == ["aks-ml", "aks-ml-prod"]


def test_a_notice_whose_publish_failed_is_announced_later_under_the_same_id(sandbox_for):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    steps = [event(0, CLUSTER_WRITE, cluster, "create"), event(5000, TAGS_WRITE, cluster, "again")]
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.topic.fail_next(times=20)
    sandbox.run_pass(0)
    attached = notified(sandbox, "Autoattach.ComputeAttached")
    assert sorted(n["data"]["compute"] for n in attached) == ["aks-ml", "aks-ml-prod"]
    assert len({n["id"] for n in attached}) == 2


# ---- ownership rests on the sealed description and the ledger, not on compute tags -----------

LEGACY_DESCRIPTION = "Attached by autoattach from cluster aks-ml"


def ledger_blob(cluster: str) -> str:
    from shared.adapters.ledger import ledger_blob_name

    return ledger_blob_name(ResourceId.parse(cluster))


def attached_then(document, *, untag_at: float | None = None):
    """The example cluster attached at 0 (and untagged at ``untag_at``, with its event)."""
    cluster = document["clusters"][0]["id"]
    steps = [event(0, CLUSTER_WRITE, cluster, "create")]
    if untag_at is not None:
        steps += [
            {"at": untag_at, "change": {"op": "set_tags", "resource": cluster, "tags": {}}},
            event(untag_at, TAGS_WRITE, cluster, "untag"),
        ]
    return cluster, scenario_from(document, steps)


def a_persons_compute(cluster: str, workspace: str, name: str, **extra) -> dict:
    return {
        "workspace": workspace,
        "name": name,
        "resource_id": cluster,
        "namespace": "team-x",
        "identity_type": "system_assigned",
        **extra,
    }


def test_untagging_detaches_autoattachs_computes_though_azure_ml_keeps_no_compute_tags(
    sandbox_for,
):
    _cluster, scenario = attached_then(ready_document(), untag_at=100)
    sandbox = sandbox_for(scenario)
    assert sandbox.world.compute_tags == "dropped"  # the default, as Microsoft documents
    sandbox.run_pass(0)
    assert compute_names(sandbox) == []
    detached = sorted(n["data"]["compute"] for n in notified(sandbox, "Autoattach.ComputeDetached"))
    assert detached == ["aks-ml", "aks-ml-prod"]


def test_autoattachs_computes_are_still_its_own_when_the_clusters_ledger_record_is_lost(
    sandbox_for,
):
    from shared.adapters.ledger import CONTAINER
    from tests.e2e.conftest import sweep

    cluster, scenario = attached_then(ready_document())
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    assert compute_names(sandbox) == ["aks-ml", "aks-ml-prod"]
    assert sandbox.storage.lose(CONTAINER, ledger_blob(cluster))
    sandbox.world.apply_change({"op": "set_tags", "resource": cluster, "tags": {}})
    sweep(sandbox)
    assert compute_names(sandbox) == []


def test_a_persons_compute_tagged_managed_by_autoattach_is_never_touched(sandbox_for):
    from tests.e2e.conftest import sweep

    document = ready_document()
    document["compute_tags"] = "kept"  # the other reading: Azure ML keeps a compute's tags
    cluster = document["clusters"][0]["id"]
    research = document["workspaces"][0]["id"]
    tagged = {"tags": {"managed-by": "autoattach"}}
    document["computes"] = [
        a_persons_compute(cluster, research, "by-hand", **tagged),
        a_persons_compute(cluster, research, "aks-ml", namespace="azureml-research", **tagged),
    ]
    _cluster, scenario = attached_then(document, untag_at=100)
    sandbox = sandbox_for(scenario)
    before = sandbox.world.snapshot()["computes"]
    sandbox.run_pass(0)
    sweep(sandbox)
    people = [c for c in sandbox.world.snapshot()["computes"] if c["workspace"] == research]
    assert people == [c for c in before if c["workspace"] == research]
    assert all(assignments_of(sandbox, c["principal_id"]) == [] for c in people)
    failed = notified(sandbox, "Autoattach.AttachFailed")
    assert any("not made by autoattach" in n["data"]["problem"] for n in failed)


def test_a_persons_compute_with_autoattachs_description_copied_is_never_touched(sandbox_for):
    from shared.decisions.ownership import description_for
    from tests.e2e.conftest import sweep

    document = ready_document()
    cluster = document["clusters"][0]["id"]
    research = document["workspaces"][0]["id"]
    # copied from autoattach's own compute aks-ml: its seal is for that compute, not this one
    copied = description_for(ResourceId.parse(research), "aks-ml", ResourceId.parse(cluster))
    document["computes"] = [
        a_persons_compute(cluster, research, "by-hand", description=copied),
        a_persons_compute(cluster, research, "old-one", description=LEGACY_DESCRIPTION),
    ]
    _cluster, scenario = attached_then(document, untag_at=100)
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    sweep(sandbox)
    assert compute_names(sandbox) == ["by-hand", "old-one"]
    detached = [n["data"]["compute"] for n in notified(sandbox, "Autoattach.ComputeDetached")]
    assert sorted(detached) == ["aks-ml", "aks-ml-prod"]


def as_an_earlier_autoattach_left_them(sandbox) -> None:
    """The computes as autoattach attached them before seals: the tag (kept, in this world) and
    the description without a seal."""
    with sandbox.world.lock:
        for compute in sandbox.world.computes.values():
            compute.description = LEGACY_DESCRIPTION
            compute.tags = {"managed-by": "autoattach"}


def test_a_compute_an_earlier_autoattach_attached_is_detached_where_its_ledger_recorded_it(
    sandbox_for,
):
    document = ready_document()
    document["compute_tags"] = "kept"
    cluster, scenario = attached_then(document)
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    as_an_earlier_autoattach_left_them(sandbox)
    sandbox.world.apply_change({"op": "set_tags", "resource": cluster, "tags": {}})
    sandbox.bus.queues["cluster-events"].send(
        _body(arm_event(TAGS_WRITE, cluster, event_id="untag")), message_id="untag"
    )
    sandbox.deliver_pending()
    assert compute_names(sandbox) == []


def test_a_compute_claiming_autoattach_by_tag_and_old_description_alone_is_left_alone(
    sandbox_for,
):
    from shared.adapters.ledger import CONTAINER
    from tests.e2e.conftest import sweep

    document = ready_document()
    document["compute_tags"] = "kept"
    cluster, scenario = attached_then(document)
    sandbox = sandbox_for(scenario)
    sandbox.run_pass(0)
    as_an_earlier_autoattach_left_them(sandbox)
    assert sandbox.storage.lose(CONTAINER, ledger_blob(cluster))
    sandbox.world.apply_change({"op": "set_tags", "resource": cluster, "tags": {}})
    sweep(sandbox)
    # anyone could have written that tag and description: without the ledger, not autoattach's
    assert compute_names(sandbox) == ["aks-ml", "aks-ml-prod"]
