"""What a reconcile says it came to: the outcome operators read in `autoattach status`, dead
letters and the Functions log."""

from shared.decisions.arm_id import ResourceId
from shared.decisions.planner import Problem
from shared.engine.run import ReconcileResult

CLUSTER = ResourceId.parse(
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-platform/providers/"
    "Microsoft.ContainerService/managedClusters/aks-ml"
)
FAILED = "the Azure ML extension azureml on cluster aks-ml ended Failed; fix or reinstall it"


def test_a_look_that_found_only_problems_does_not_say_the_cluster_converged():
    result = ReconcileResult(CLUSTER, attachments=2, problems=[Problem(None, FAILED)])
    assert "converged" not in result.summary()
    assert FAILED in result.summary()


def test_a_problem_shared_by_several_attachments_is_named_once():
    workspaces = ("ws-research", "ws-prod")
    problems = [
        Problem(None, FAILED, workspace_id=ResourceId.parse(f"{CLUSTER.raw}/x/{w}"))
        for w in workspaces
    ]
    result = ReconcileResult(CLUSTER, attachments=2, problems=problems)
    assert result.summary().count(FAILED) == 1


def test_a_look_with_nothing_to_change_and_no_problem_says_converged():
    assert ReconcileResult(CLUSTER, attachments=2).summary() == "already converged"
