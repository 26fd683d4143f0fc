"""End-to-end: the real triggers, real SDK clients and the local Azure double, via the sandbox."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from console.cli import main
from sandbox.runner import Sandbox
from sandbox.scenario import Scenario, events_for_world, parse_steps, split_world_file


def demo_document() -> dict[str, Any]:
    text = resources.files("sandbox").joinpath("demo_world.json").read_text()
    return json.loads(text)


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def simple_document() -> dict[str, Any]:
    """docs/examples/world.json: one tagged AKS cluster, two workspaces, one untagged cluster."""
    return json.loads((EXAMPLES / "world.json").read_text())


# Azure's long-running operations and role propagation take realistic virtual time by default
# (tests/double/test_long_running_operations.py, tests/e2e/test_long_running.py); tests about
# other behaviour set them to finish at once, so their timelines stay what they describe.
INSTANT = {
    "compute_attach_seconds": 0,
    "compute_detach_seconds": 0,
    "namespace_create_seconds": 0,
    "role_propagation_seconds": 0,
}


def ready_document(*, realistic_timing: bool = False) -> dict[str, Any]:
    """The small example world with its Azure ML extension already installed; Azure's
    operations finish at once unless ``realistic_timing``."""
    document = simple_document()
    extension = document["clusters"][0]["extensions"][0]
    extension["provisioning_state"] = "Succeeded"
    extension.pop("succeeds_after_seconds")
    if not realistic_timing:
        document.update(INSTANT)
    return document


def scenario_from(document: dict[str, Any], events: list[dict[str, Any]] | None = None) -> Scenario:
    world, policy, tag_key = split_world_file(document, "test world")
    steps = parse_steps(events if events is not None else events_for_world(world), "test events")
    return Scenario(world=world, policy=policy, steps=steps, tag_key=tag_key)


@pytest.fixture
def run_cli(capsys):
    """Run ``autoattach`` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        if code == 0 and argv[:1] == ("sandbox",) and "--json" in argv:
            report = json.loads(captured.out)
            requests = sum(report["requests"].values())  # reads, polls and writes
            assert_contracts_kept(report["contracts"], requests)
        return code, captured.out, captured.err

    return run


@pytest.fixture
def sandbox_for():
    opened: list[tuple[Sandbox, list[int]]] = []

    def open_sandbox(scenario: Scenario) -> Sandbox:
        sandbox = Sandbox(scenario).__enter__()
        served = [0]  # requests of the passes whose counts were reset since
        reset = sandbox.arm.reset_counts

        def counting_reset() -> None:
            counts = sandbox.arm.counts
            served[0] += counts["reads"] + counts["writes"]
            reset()

        sandbox.arm.reset_counts = counting_reset  # type: ignore[method-assign]
        opened.append((sandbox, served))
        return sandbox

    yield open_sandbox
    for sandbox, _ in opened:
        sandbox.__exit__(None, None, None)
    for sandbox, served in opened:
        counts = sandbox.arm.counts
        assert_contracts_kept(sandbox.arm.contracts, served[0] + counts["reads"] + counts["writes"])


def assert_contracts_kept(contracts: dict[str, Any], requests: int) -> None:
    """Every ARM request of a run was checked against the published types (sandbox/contracts.py)
    and neither side broke them: no request the double refused, no answer that does not fit."""
    assert contracts["violations"] == []
    assert contracts["checked"] == requests


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def sweep(sandbox):
    """An hour later, the timer's sweep: its requests are delivered; the deliveries are returned."""
    from shared.engine.sweep import request_reconciles
    from shared.wiring import current_app

    sandbox.clock.advance_to(sandbox.clock.seconds() + 3600)
    request_reconciles(current_app(), now=sandbox.clock.now())
    return sandbox.deliver_pending()
