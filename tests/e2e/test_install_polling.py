"""How often an install someone else started is looked at. By default its end is seen soon
(within about 5% of the time to a usable compute); a platform team may trade that latency for
fewer ARM reads and executions with INSTALL_POLL_FIRST_SECONDS and INSTALL_POLL_PERCENT_OF_WAIT."""

from dataclasses import replace
from itertools import pairwise

from shared import settings as names
from tests.e2e.conftest import INSTANT, scenario_from, simple_document

INSTALL_SECONDS = 150  # docs/examples/world.json


def install_run(sandbox_for, **app_settings: str):
    """The example world (its extension installing for 150 s), one pass of its events."""
    document = simple_document()
    document.update(INSTANT)
    assert document["clusters"][0]["extensions"][0]["succeeds_after_seconds"] == INSTALL_SECONDS
    scenario = replace(scenario_from(document), app_settings=app_settings)
    sandbox = sandbox_for(scenario)
    report = sandbox.run_pass(0)
    extension_reads = [
        entry.at
        for entry in sandbox.arm.log
        if entry.method == "GET" and "/extensions" in entry.path and entry.kind == "reads"
    ]
    attached_at = min(
        entry.at
        for entry in sandbox.arm.log
        if entry.method == "PUT" and "/computes/" in entry.path
    )
    return report, extension_reads, attached_at


def test_by_default_an_install_is_polled_often_enough_to_attach_within_fifteen_seconds_of_its_end(
    sandbox_for,
):
    report, reads, attached_at = install_run(sandbox_for)
    assert INSTALL_SECONDS <= attached_at <= INSTALL_SECONDS + 15
    assert len(reads) >= 8
    assert all(d.outcome != "dead-lettered" for d in report.deliveries)


def test_a_team_that_sets_a_slower_install_poll_pays_fewer_reads_and_waits_at_most_one_poll_longer(
    sandbox_for,
):
    _, default_reads, _ = install_run(sandbox_for)
    report, reads, attached_at = install_run(
        sandbox_for,
        **{names.INSTALL_POLL_FIRST_SECONDS: "60", names.INSTALL_POLL_PERCENT_OF_WAIT: "0"},
    )
    assert len(reads) <= 4 < len(default_reads)
    assert all(later - earlier >= 54 for earlier, later in pairwise(reads))
    assert INSTALL_SECONDS <= attached_at <= INSTALL_SECONDS + 60
    assert all(d.outcome != "dead-lettered" for d in report.deliveries)
    assert sandbox_report_attached(report)


def sandbox_report_attached(report) -> bool:
    return any("attached" in note for d in report.deliveries for note in d.notes)
