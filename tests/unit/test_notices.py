"""Notices derived from what Azure shows and what was announced: each change told once per id,
never lost to a failure half-way, never repeated for a cluster that keeps waiting."""

from dataclasses import replace

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import Role, WhenExtensionMissing
from shared.decisions.notices import ATTACHED, DETACHED, TAG_REFUSED, WAITING, derive, settled
from shared.decisions.planner import plan
from shared.decisions.policy import decide_attachments
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


# ---- refused tag entries reach the platform team -------------------------------------------


def refusing(*entries: str, **changes):
    """The converged cluster, its tag also naming ``entries`` the policy refuses."""
    decision = replace(
        converged().decision,
        refused=entries,
        reasons=tuple(f"no workspace in the attach policy is named {e!r}" for e in entries),
        tag_key="azureml-attach",
    )
    return replace(converged(), decision=decision, **changes)


def test_each_refused_tag_entry_carries_the_reason_the_policy_refused_it():
    from tests.unit.test_policy import CLUSTER as POLICY_CLUSTER
    from tests.unit.test_policy import OTHER_CLUSTER, policy

    tags = {"azureml-attach": "ws-research,ws-unknown"}
    decision = decide_attachments(OTHER_CLUSTER, tags, "azureml-attach", policy())
    reasons = dict(decision.refusals)
    assert "does not let cluster aks-x join" in reasons["ws-research"]
    assert "no workspace in the attach policy is named 'ws-unknown'" in reasons["ws-unknown"]
    assert decision.tag_key == "azureml-attach"
    allowed = decide_attachments(
        POLICY_CLUSTER, {"azureml-attach": "ws-prod"}, "azureml-attach", policy()
    )
    assert allowed.refusals == ()


def test_a_refused_tag_entry_is_announced_to_the_platform_team_once_with_the_reason():
    observed = refusing("ws-unknown")
    first = derive(observed, plan(observed), {})
    refused = [n for n in first.notices if n.type == TAG_REFUSED]
    assert len(refused) == 1
    assert refused[0].subject == observed.cluster.id.raw
    assert refused[0].data == {
        "cluster": observed.cluster.id.raw,
        "tag_key": "azureml-attach",
        "entries": [
            {
                "entry": "ws-unknown",
                "reason": "no workspace in the attach policy is named 'ws-unknown'",
            }
        ],
    }
    assert derive(observed, plan(observed), first.record).notices == ()
    # a run that failed before recording announces it again, under the same id
    assert [
        n.id for n in derive(observed, plan(observed), {}).notices if n.type == TAG_REFUSED
    ] == [refused[0].id]


def test_another_refusal_is_news_and_the_old_one_clears():
    first = derive(refusing("ws-unknown"), plan(refusing("ws-unknown")), {})
    changed = refusing("ws-unknown", "ws-other")
    second = derive(changed, plan(changed), first.record)
    assert [n.type for n in second.notices] == [TAG_REFUSED]
    assert [e["entry"] for e in second.notices[0].data["entries"]] == ["ws-unknown", "ws-other"]
    assert second.notices[0].id != first.notices[-1].id
    fixed = derive(converged(), plan(converged()), second.record)
    assert fixed.notices == ()
    assert not any(e.get("active", True) for e in fixed.record.values() if e["type"] == TAG_REFUSED)


def test_a_converged_cluster_whose_tag_keeps_a_refused_entry_is_settled_once_the_refusal_was_told():
    observed = refusing("ws-unknown")
    cluster, decision = observed.cluster, observed.decision
    told = derive(observed, plan(observed), {}).record
    assert settled(cluster, decision, told)  # a replay reads nothing more
    # attached and announced before the tag grew a refused entry: not settled, the refusal is news
    before = derive(converged(), plan(converged()), {}).record
    assert settled(cluster, converged().decision, before)
    assert not settled(cluster, decision, before)
    # the refusal changed: news again
    other = refusing("ws-other").decision
    assert not settled(cluster, other, told)
    # the refused entry was removed from the tag: the open refusal must be cleared first
    assert not settled(cluster, converged().decision, told)
