"""The periodic sweep catches what no event announced."""

from azure.functions.timer import TimerRequest

from functions.sweep import on_sweep
from shared.engine.handling import SWEEP_MAX_RECHECKS
from shared.engine.sweep import request_reconciles
from shared.wiring import current_app
from tests.e2e.conftest import ready_document, scenario_from, simple_document


def test_a_tagged_cluster_no_event_announced_is_attached_after_the_sweep(sandbox_for):
    document = ready_document()
    sandbox = sandbox_for(scenario_from(document, []))  # no events at all
    assert sandbox.run_pass(0).deliveries == []

    on_sweep(TimerRequest(past_due=False))
    report = sandbox.deliver_pending()

    # only the tagged cluster, converged within the sweep's own short chain of re-checks
    assert [d.label for d in report.deliveries].count("sweep request for aks-ml") == 1
    assert len(report.deliveries) <= 1 + SWEEP_MAX_RECHECKS
    assert report.deliveries[-1].outcome == "completed"
    assert "the next sweep looks again" not in report.deliveries[-1].reason
    assert {c["name"] for c in sandbox.world.snapshot()["computes"]} == {"aks-ml", "aks-ml-prod"}


def sweep_at(sandbox, seconds: float) -> int:
    """The timer firing at a virtual time (the sweep's window comes from the time it runs)."""
    sandbox.clock.advance_to(seconds)
    return request_reconciles(current_app(), now=sandbox.clock.now())


def test_a_sweep_over_converged_clusters_writes_nothing(sandbox_for):
    document = ready_document()
    sandbox = sandbox_for(scenario_from(document, []))
    sweep_at(sandbox, 0)
    sandbox.deliver_pending()
    sweep_at(sandbox, 15 * 60)
    again = sandbox.deliver_pending()
    assert [d.outcome for d in again.deliveries] == ["completed"]
    assert again.writes == 0


def test_two_sweeps_in_one_window_ask_once_per_cluster(sandbox_for):
    document = ready_document()
    sandbox = sandbox_for(scenario_from(document, []))
    assert sweep_at(sandbox, 0) == 1
    assert sweep_at(sandbox, 60) == 1  # a catch-up run a minute later: duplicate detection
    first = sandbox.deliver_pending()
    assert [d.label for d in first.deliveries].count("sweep request for aks-ml") == 1
    sweep_at(sandbox, 15 * 60)  # the next scheduled sweep is a new window
    again = sandbox.deliver_pending()
    assert [d.label for d in again.deliveries].count("sweep request for aks-ml") == 1


def test_sweeps_over_a_cluster_waiting_for_an_extension_nobody_installs_do_not_pile_up(
    sandbox_for,
):
    document = simple_document()
    document["clusters"][0]["extensions"] = []  # and the policy says wait for it
    sandbox = sandbox_for(scenario_from(document, []))
    queue = sandbox.bus.queues["cluster-events"]
    deliveries = []
    for sweep in range(24):  # every 15 minutes for 6 hours
        sweep_at(sandbox, sweep * 900.0)
        report = sandbox.deliver_pending()
        deliveries += report.deliveries
        # this sweep's chain is over before the next sweep: never two chains at once
        assert queue.active == []
        assert sandbox.clock.seconds() < (sweep + 1) * 900.0
        assert 1 <= len(report.deliveries) <= 1 + SWEEP_MAX_RECHECKS
    assert queue.dead_letters == []
    assert {d.outcome for d in deliveries} == {"scheduled", "completed"}
    assert all("the next sweep looks again" in d.reason for d in deliveries[-1:])
