"""The campaign's invariants are pure functions over plain data: each catches what it is for."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from campaign.generate import AKS, ROLE_DEFINITIONS, WS_RESEARCH, cluster_id, generate, rg
from campaign.invariants import (
    ClusterFacts,
    FinalState,
    MessageFacts,
    WorkspaceFacts,
    check,
)
from shared.decisions.notices import departure_id
from shared.decisions.policy import AttachPolicy

CLUSTER = cluster_id(AKS, "rg-platform", "aks-t-a")
COMPUTE = f"{WS_RESEARCH}/computes/aks-t-a"
PRINCIPAL = "11111111-2222-4333-8444-555555555555"
ACR = f"{rg('rg-ml')}/providers/Microsoft.ContainerRegistry/registries/acrresearch"
STORAGE = f"{rg('rg-ml')}/providers/Microsoft.Storage/storageAccounts/stresearch"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
PERSONS = {
    "name": "0f0e0d0c-0000-4000-8000-00000000a001",
    "scope": ACR,
    "role_definition_id": f"{ROLE_DEFINITIONS}/{ACR_PULL}",
    "principal_id": "99999999-2222-4333-8444-555555555555",
    "description": "granted by a person",
}


def _policy() -> AttachPolicy:
    text = json.dumps(generate(1, 0).policy).replace("{sandbox_vault}", "https://kv.example")
    return AttachPolicy.from_json(text)


def _assignment(scope: str, role: str, name: str) -> dict[str, Any]:
    return {
        "scope": scope,
        "role_definition_id": f"{ROLE_DEFINITIONS}/{role}",
        "principal_id": PRINCIPAL,
        "name": name,
        "description": "Created by autoattach",
    }


def converged() -> FinalState:
    """Cluster aks-t-a asks for ws-research; its compute, namespace and roles are there."""
    compute = {
        "workspace": WS_RESEARCH,
        "name": "aks-t-a",
        "resource_id": CLUSTER,
        "namespace": "azureml-research",
        "identity_type": "system_assigned",
        "principal_id": PRINCIPAL,
        "provisioning_state": "Succeeded",
        "tags": {"managed-by": "autoattach"},
    }
    return FinalState(
        seed=7,
        tag_key="azureml-attach",
        policy=_policy(),
        clusters=(
            ClusterFacts(
                id=CLUSTER,
                exists=True,
                tags={"azureml-attach": "ws-research"},
                provisioning_state="Succeeded",
                azure_rbac=True,
                extension_state="Succeeded",
                relay=None,
            ),
        ),
        workspaces=(WorkspaceFacts(WS_RESEARCH, ACR, STORAGE, None),),
        snapshot={
            "computes": [compute],
            "role_assignments": [
                PERSONS,
                _assignment(ACR, ACR_PULL, "a1"),
                _assignment(STORAGE, BLOB_READER, "a2"),
            ],
        },
        namespaces=((CLUSTER, "azureml-research"),),
        initial={"computes": [], "role_assignments": [PERSONS]},
        notifications=(
            {"id": "n1", "type": "Autoattach.ComputeAttached", "subject": COMPUTE, "data": {}},
        ),
        messages=(MessageFacts("cluster-events", "m1", "completed", ""),),
    )


def _invariants(state: FinalState) -> list[str]:
    return [v.invariant for v in check(state)]


def test_a_converged_world_keeps_every_invariant():
    assert check(converged()) == []


def test_a_compute_kept_for_a_deleted_cluster_is_a_violation():
    state = converged()
    gone = dataclasses.replace(state.clusters[0], exists=False)
    assert "world equals policy and tags" in _invariants(
        dataclasses.replace(state, clusters=(gone,))
    )


def test_a_ready_cluster_without_the_compute_its_tag_asks_for_is_a_violation():
    state = converged()
    snapshot = {**state.snapshot, "computes": []}
    assert "world equals policy and tags" in _invariants(
        dataclasses.replace(state, snapshot=snapshot)
    )


def test_a_cluster_whose_extension_failed_need_not_have_its_compute():
    state = converged()
    failed = dataclasses.replace(state.clusters[0], extension_state="Failed")
    snapshot = {**state.snapshot, "computes": [], "role_assignments": [PERSONS]}
    assert (
        check(dataclasses.replace(state, clusters=(failed,), snapshot=snapshot, notifications=()))
        == []
    )


def test_a_persons_role_assignment_removed_is_a_violation():
    state = converged()
    snapshot = {**state.snapshot, "role_assignments": state.snapshot["role_assignments"][1:]}
    assert "nothing a person made was changed" in _invariants(
        dataclasses.replace(state, snapshot=snapshot)
    )


def test_a_role_autoattach_made_that_no_compute_needs_is_a_violation():
    state = converged()
    extra = _assignment(STORAGE, "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "a3")
    snapshot = {**state.snapshot, "role_assignments": [*state.snapshot["role_assignments"], extra]}
    assert _invariants(dataclasses.replace(state, snapshot=snapshot)) == [
        "no role autoattach made lacks a compute that needs it"
    ]


def test_a_role_a_kept_compute_needs_missing_is_a_violation():
    state = converged()
    snapshot = {**state.snapshot, "role_assignments": state.snapshot["role_assignments"][:2]}
    assert _invariants(dataclasses.replace(state, snapshot=snapshot)) == [
        "no role a kept compute needs is missing"
    ]


def test_a_message_left_on_the_queue_or_dead_lettered_without_a_reason_is_a_violation():
    state = converged()
    messages = (
        MessageFacts("cluster-events", "m2", "active", ""),
        MessageFacts("cluster-events", "m3", "dead-lettered", ""),
        MessageFacts("cluster-events", "m4", "dead-lettered", "AttachFailed"),
    )
    assert (
        _invariants(dataclasses.replace(state, messages=messages))
        == ["every message completed or dead-lettered with a reason"] * 2
    )


def test_one_notice_id_with_two_contents_is_a_violation_and_a_plain_repeat_is_not():
    state = converged()
    first = state.notifications[0]
    assert check(dataclasses.replace(state, notifications=(first, dict(first)))) == []
    other = {**first, "data": {"changes": ["granted AcrPull"]}}
    assert _invariants(dataclasses.replace(state, notifications=(first, other))) == [
        "each change announced once per deterministic id"
    ]


def test_two_attached_ids_for_one_compute_with_no_detach_between_is_a_violation():
    state = converged()
    first = state.notifications[0]
    again = {**first, "id": "n2"}
    detached = {**first, "id": departure_id("n1"), "type": "Autoattach.ComputeDetached"}
    assert _invariants(dataclasses.replace(state, notifications=(first, again))) == [
        "each change announced once per deterministic id",
        "every compute announced as attached is announced as detached once it goes",
    ]
    assert check(dataclasses.replace(state, notifications=(first, detached, again))) == []


def test_a_compute_announced_attached_that_went_without_a_detach_notice_is_a_violation():
    state = converged()
    gone = {
        **state.snapshot,
        "computes": [],
        "role_assignments": [PERSONS],
    }
    untagged = dataclasses.replace(state.clusters[0], tags={})
    history = dataclasses.replace(state, clusters=(untagged,), snapshot=gone)
    assert _invariants(history) == [
        "every compute announced as attached is announced as detached once it goes"
    ]
    # told under another id than the one ending that attachment: still never told
    stray = {**state.notifications[0], "id": "d9", "type": "Autoattach.ComputeDetached"}
    assert _invariants(dataclasses.replace(history, notifications=(*state.notifications, stray)))
    told = {**stray, "id": departure_id("n1")}
    assert check(dataclasses.replace(history, notifications=(*state.notifications, told))) == []


def test_a_compute_made_again_since_its_attach_was_announced_went_without_a_detach_notice():
    state = converged()
    attached = {**state.notifications[0], "data": {"principal_id": "old-principal"}}
    assert _invariants(dataclasses.replace(state, notifications=(attached,))) == [
        "every compute announced as attached is announced as detached once it goes"
    ]


def test_a_detach_notice_told_again_with_a_later_reason_is_the_same_change():
    state = converged()
    told = {
        "id": departure_id("n1"),
        "type": "Autoattach.ComputeDetached",
        "subject": COMPUTE,
        "data": {"compute": "aks-t-a", "reason": "cluster aks-t-a is no longer tagged"},
    }
    later = {**told, "data": {**told["data"], "reason": "cluster aks-t-a was deleted"}}
    other = {**told, "data": {**told["data"], "compute": "aks-t-b"}}

    def twice(*notices):
        history = dataclasses.replace(state, notifications=(*state.notifications, *notices))
        return [v.description for v in check(history) if "published twice" in v.description]

    assert twice(told, later) == []
    assert twice(told, other) != []
