"""End-to-end: the real triggers, real SDK clients and the local Azure double, via the sandbox."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from sandbox.runner import Sandbox
from sandbox.scenario import Scenario, events_for_world, parse_steps, split_world_file
from shared.cli import main


def demo_document() -> dict[str, Any]:
    text = resources.files("sandbox").joinpath("demo_world.json").read_text()
    return json.loads(text)


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def simple_document() -> dict[str, Any]:
    """docs/examples/world.json: one tagged AKS cluster, two workspaces, one untagged cluster."""
    return json.loads((EXAMPLES / "world.json").read_text())


def ready_document() -> dict[str, Any]:
    """The small example world with its Azure ML extension already installed."""
    document = simple_document()
    extension = document["clusters"][0]["extensions"][0]
    extension["provisioning_state"] = "Succeeded"
    extension.pop("succeeds_after_seconds")
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
        return code, captured.out, captured.err

    return run


@pytest.fixture
def sandbox_for():
    opened: list[Sandbox] = []

    def open_sandbox(scenario: Scenario) -> Sandbox:
        sandbox = Sandbox(scenario).__enter__()
        opened.append(sandbox)
        return sandbox

    yield open_sandbox
    for sandbox in opened:
        sandbox.__exit__(None, None, None)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
