"""Notices derived from what Azure shows and what was announced: each change told once per id,
never lost to a failure half-way, never repeated for a cluster that keeps waiting."""

from dataclasses import replace

from shared.arm_id import ResourceId
from shared.model import Role, WhenExtensionMissing
from shared.notices import ATTACHED, DETACHED, WAITING, derive
from shared.planner import plan
from tests.unit.test_planner import (
    ATTACHMENT,
    REGISTRY,
    STORAGE,
    WORKSPACE,
    compute,
    observation,
)

OTHER_WS = ResourceId.parse(str(WORKSPACE).replace("/ws", "/ws-two"))
GRANTED = {
    (REGISTRY.key, "principal-1"): frozenset({Role.ACR_PULL.value}),
    (STORAGE.key, "principal-1"): frozenset({Role.STORAGE_BLOB_DATA_CONTRIBUTOR.value}),
}


def converged():
    return observation(
        computes={(WORKSPACE, "aks-ml"): compute()},
        owned=(compute(),),
        namespaces=frozenset({"azureml"}),
        role_holdings=GRANTED,
    )


def test_a_ready_compute_is_announced_once_with_an_id_that_does_not_change():
    observed = converged()
    first = derive(observed, plan(observed), {})
    assert [n.type for n in first.notices] == [ATTACHED]
    again = derive(observed, plan(observed), first.record)
    assert again.notices == ()
    assert again.record == first.record
    # a run that failed before recording announces again, under the same id
    retried = derive(observed, plan(observed), {})
    assert retried.notices[0].id == first.notices[0].id


def test_a_compute_still_missing_a_role_is_not_announced_but_a_ready_one_beside_it_is():
    other = replace(ATTACHMENT, workspace_id=OTHER_WS)
    observed = replace(
        converged(),
        decision=replace(converged().decision, attachments=(ATTACHMENT, other)),
        computes={
            (WORKSPACE, "aks-ml"): compute(),
            (OTHER_WS, "aks-ml"): compute(workspace_id=OTHER_WS, principal_id="principal-2"),
        },
        workspaces={
            **converged().workspaces,
            OTHER_WS: replace(converged().workspaces[WORKSPACE], id=OTHER_WS),
        },
        allowed_workspaces=frozenset({WORKSPACE, OTHER_WS}),
    )
    announced = derive(observed, plan(observed), {})
    assert [n.subject.split("/workspaces/")[1] for n in announced.notices] == ["ws/computes/aks-ml"]


def test_a_compute_that_is_gone_is_announced_detached_once_with_the_reason():
    attached = derive(converged(), plan(converged()), {})
    untagged = observation(decision=replace(converged().decision, attachments=()))
    gone = derive(untagged, plan(untagged), attached.record)
    assert [n.type for n in gone.notices] == [DETACHED]
    assert "no longer tagged" in gone.notices[0].data["reason"]
    assert gone.record == {}


def test_a_cluster_that_keeps_waiting_for_its_extension_is_announced_once_per_episode():
    waiting = observation(extension=None)
    assert waiting.extension_policy.when_missing is WhenExtensionMissing.WAIT
    first = derive(waiting, plan(waiting), {})
    assert [n.type for n in first.notices] == [WAITING]
    assert derive(waiting, plan(waiting), first.record).notices == ()
    cleared = derive(converged(), plan(converged()), first.record)
    back = derive(waiting, plan(waiting), cleared.record)
    again = [n for n in back.notices if n.type == WAITING]
    assert len(again) == 1
    assert again[0].id != first.notices[0].id
