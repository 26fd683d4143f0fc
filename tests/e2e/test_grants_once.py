"""A new compute's system-assigned identity is granted each of its roles once: the re-checks,
sweeps and operator requests that follow the attach know what was granted (the cluster's
ledger record keeps it, a sweep reads it), instead of taking a principal never announced as
holding nothing and asking Azure again, to be answered 409 RoleAssignmentExists."""

from __future__ import annotations

from sandbox.runner import Sandbox
from shared.adapters.ledger import CONTAINER, ledger_blob_name
from shared.decisions.arm_id import ResourceId
from shared.engine.sweep import reconcile_request
from shared.wiring import current_app
from tests.e2e.conftest import scenario_from, simple_document, sweep


def _role_puts(sandbox: Sandbox) -> list[tuple[str, int]]:
    """(path, status) of every role-assignment PUT ARM was sent since the sandbox opened."""
    return [*_earlier(sandbox), *_logged_puts(sandbox)]


def _logged_puts(sandbox: Sandbox) -> list[tuple[str, int]]:
    return [
        (r.path.lower(), r.status)
        for r in sandbox.arm.log
        if r.method == "PUT" and "/roleassignments/" in r.path.lower()
    ]


def _earlier(sandbox: Sandbox) -> list[tuple[str, int]]:
    """The role-assignment PUTs of passes whose log was cleared since (each pass clears it)."""
    kept: list[tuple[str, int]] | None = getattr(sandbox, "_role_puts_before", None)
    if kept is None:
        kept = []
        reset = sandbox.arm.reset_counts

        def keeping_reset() -> None:
            kept.extend(_logged_puts(sandbox))
            reset()

        sandbox.arm.reset_counts = keeping_reset  # type: ignore[method-assign]
        sandbox._role_puts_before = kept  # type: ignore[attr-defined]
    return kept


def _assert_granted_once(sandbox: Sandbox) -> None:
    world = sandbox.world.snapshot()
    computes = world["computes"]
    assert {c["provisioning_state"] for c in computes} == {"Succeeded"}
    principals = {c["principal_id"] for c in computes}
    held = [a for a in world["role_assignments"] if a["principal_id"] in principals]
    assert len(held) == 2 * len(computes)  # AcrPull and a storage role each
    puts = _role_puts(sandbox)
    assert [status for _path, status in puts if status == 409] == []
    assert len(puts) == len(held), puts


def _request(sandbox: Sandbox) -> None:
    """What `autoattach reconcile --cluster aks-ml` queues: a reconcile request."""
    app = current_app()
    cluster = sandbox.world.snapshot()["clusters"][0]["id"]
    body = reconcile_request(cluster, "requested by a test")
    app.scheduler.schedule_all(
        app.settings.cluster_events_queue, [(body, "request-1")], delay_seconds=0
    )


def test_a_new_compute_is_granted_each_role_once_however_many_re_checks_of_a_request_follow(
    sandbox_for,
):
    # the extension is still installing when the request comes: its re-checks attach, grant,
    # wait for the attaches, and look again (a request's re-checks read everything)
    sandbox = sandbox_for(scenario_from(simple_document(), []))
    _earlier(sandbox)
    sandbox.run_pass(0)
    _request(sandbox)
    report = sandbox.deliver_pending()

    assert report.deliveries[-1].outcome == "completed"
    assert len(report.deliveries) > 2
    _assert_granted_once(sandbox)


def test_a_new_compute_is_granted_each_role_once_through_its_event_re_checks_and_a_sweep(
    sandbox_for,
):
    sandbox = sandbox_for(scenario_from(simple_document()))
    _earlier(sandbox)
    report = sandbox.run_pass(0)
    assert report.deliveries[-1].outcome == "completed"
    sweep(sandbox)

    _assert_granted_once(sandbox)


def test_a_sweep_while_the_attach_still_runs_does_not_grant_the_new_identity_again(
    sandbox_for,
):
    document = simple_document()
    document["compute_attach_seconds"] = 3600  # the sweep comes while Azure attaches
    sandbox = sandbox_for(scenario_from(document))
    _earlier(sandbox)
    sandbox.run_pass(0)
    assert len(_role_puts(sandbox)) == 4  # granted while Azure attaches
    sweep(sandbox)
    sandbox.clock.advance_to(sandbox.clock.seconds() + 3600)
    sandbox.deliver_pending()
    sweep(sandbox)

    _assert_granted_once(sandbox)


def test_re_checks_that_read_everything_again_grant_the_new_identity_nothing_twice(sandbox_for):
    # ARM refuses the operation status reads (a deployment whose roles do not cover them): each
    # re-check of the event reads the cluster, its computes and their roles again
    document = simple_document()
    sandbox = sandbox_for(scenario_from(document))
    _earlier(sandbox)
    sandbox.arm.inject("GET", "/locations/", 403, "AuthorizationFailed", times=1000)
    report = sandbox.run_pass(0)

    assert report.deliveries[-1].outcome == "completed"
    _assert_granted_once(sandbox)


def test_a_ledger_record_lost_after_the_grants_costs_at_most_granting_again_never_a_grant(
    sandbox_for,
):
    document = simple_document()
    sandbox = sandbox_for(scenario_from(document))
    _earlier(sandbox)
    cluster = ResourceId.parse(document["clusters"][0]["id"])
    lost: list[str] = []

    def lose_the_record(delivery) -> None:
        if not lost and any(note.startswith("granted") for note in delivery.notes):
            lost.append(delivery.label)
            assert sandbox.storage.lose(CONTAINER, ledger_blob_name(cluster))

    sandbox._on_delivery = lose_the_record
    report = sandbox.run_pass(0)

    assert lost and report.deliveries[-1].outcome == "completed"
    world = sandbox.world.snapshot()
    for compute in world["computes"]:
        held = [
            a for a in world["role_assignments"] if a["principal_id"] == compute["principal_id"]
        ]
        assert len(held) == 2, compute["name"]
    assert len(_role_puts(sandbox)) <= 2 * 4  # each role asked for again at most once
