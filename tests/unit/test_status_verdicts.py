"""``autoattach status``'s verdicts (console/commands/verdicts.py), from plain data: one per
compute and per cluster, Ready, Waiting (for what, since when) or Needs a person (what to do)."""

from console.commands.verdicts import cluster_verdict, compute_verdict, words

WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"


def compute(state: str = "Succeeded", principal: str | None = "p1") -> dict:
    return {
        "name": "aks-ml",
        "workspace": WS,
        "state": state,
        "principal_id": principal,
        "created_on": "2026-12-07T10:00:00Z",
    }


GRANTS = [
    {"role": "AcrPull", "principal_id": "p1"},
    {"role": "Storage Blob Data Reader", "principal_id": "p1"},
]


def test_a_succeeded_compute_with_its_roles_is_ready():
    assert words(compute_verdict(compute(), GRANTS)) == "Ready"


def test_a_compute_azure_ml_is_creating_is_waiting_since_it_was_created():
    assert words(compute_verdict(compute("Creating"), GRANTS)) == (
        "Waiting: Azure ML is creating it (since 2026-12-07T10:00:00Z)"
    )


def test_a_compute_without_its_storage_role_waits_for_the_next_reconcile():
    found = compute_verdict(compute(), GRANTS[:1])
    assert found["status"] == "Waiting"
    assert found["reason"] == (
        "for its role assignments (a Storage Blob Data role): the next reconcile grants them"
    )


def test_a_failed_compute_needs_a_person_told_how_to_see_why():
    found = compute_verdict(compute("Failed"), GRANTS)
    assert found["status"] == "Needs a person"
    assert "az ml compute show --name aks-ml --workspace-name ws" in found["reason"]


def test_a_cluster_rechecked_later_waits_for_the_reason_since_it_was_recorded():
    last = {
        "outcome": "re-check later",
        "reason": "the Azure ML extension azureml on cluster aks-ml is Creating",
        "at": "2026-12-07T10:05:00+00:00",
    }
    assert words(cluster_verdict("aks-ml", last, [])) == (
        "Waiting: the Azure ML extension azureml on cluster aks-ml is Creating "
        "(since 2026-12-07T10:05:00+00:00)"
    )


def test_a_converged_cluster_waits_while_one_of_its_computes_does():
    creating = compute("Creating") | {"verdict": compute_verdict(compute("Creating"), GRANTS)}
    last = {"outcome": "completed", "summary": "2 change(s)", "at": "2026-12-07T10:06:00+00:00"}
    found = cluster_verdict("aks-ml", last, [creating])
    assert found["status"] == "Waiting"
    assert found["reason"] == "compute aks-ml: Azure ML is creating it"


def test_a_dead_lettered_cluster_needs_a_person_told_to_replay_after_the_fix():
    last = {"outcome": "dead-lettered", "reason": "AttachFailed", "at": "2026-12-07T10:07:00Z"}
    assert cluster_verdict("aks-ml", last, [])["reason"] == (
        "AttachFailed: fix the cause, then `autoattach dead-letters replay --cluster aks-ml`"
    )
