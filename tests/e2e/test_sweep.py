"""The periodic sweep catches what no event announced."""

from azure.functions.timer import TimerRequest

from functions.sweep import on_sweep
from tests.e2e.conftest import ready_document, scenario_from


def test_a_tagged_cluster_no_event_announced_is_attached_after_the_sweep(sandbox_for):
    document = ready_document()
    sandbox = sandbox_for(scenario_from(document, []))  # no events at all
    assert sandbox.run_pass(0).deliveries == []

    on_sweep(TimerRequest(past_due=False))
    report = sandbox.deliver_pending()

    assert [d.outcome for d in report.deliveries] == ["completed"]  # only the tagged cluster
    assert report.deliveries[0].label == "reconcile request"
    assert {c["name"] for c in sandbox.world.snapshot()["computes"]} == {"aks-ml", "aks-ml-prod"}


def test_a_sweep_over_converged_clusters_writes_nothing(sandbox_for):
    document = ready_document()
    sandbox = sandbox_for(scenario_from(document, []))
    on_sweep(TimerRequest(past_due=False))
    sandbox.deliver_pending()
    on_sweep(TimerRequest(past_due=False))
    again = sandbox.deliver_pending()
    assert [d.outcome for d in again.deliveries] == ["completed"]
    assert again.writes == 0
