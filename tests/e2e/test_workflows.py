"""The GitHub workflows call the console with options it has (actionlint checks the rest)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from console.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def console_calls(text: str) -> list[list[str]]:
    """Each `autoattach ...` command line in a workflow, continuation lines joined, variables
    given a placeholder value, redirections dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    calls = []
    for line in joined.splitlines():
        found = re.match(r"(?:\.venv/bin/)?autoattach (\S.*)$", line.strip())
        if not found:  # not a command line (a comment, a step's name)
            continue
        command = re.sub(r"\$\{?\w+\}?", "value", found.group(1)).split(">")[0]
        calls.append(shlex.split(command))
    return calls


def test_the_workflows_run_the_console_where_they_should():
    called = {
        path.name: [call[0] for call in console_calls(path.read_text())] for path in WORKFLOWS
    }
    assert "doctor" in called["azure-dev.yml"]
    assert "smoke" in called["smoke.yml"]
    assert "--version" in called["ci.yml"] and "--help" in called["ci.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_console_call_in_a_workflow_parses(path: Path):
    for call in console_calls(path.read_text()):
        if call[0] in ("--help", "--version"):
            continue
        build_parser().parse_args(call)  # argparse exits (SystemExit) on an unknown option
