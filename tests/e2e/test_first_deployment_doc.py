"""docs/first-deployment.md: every command block marked runnable against the sandbox is run as
written, and says what the doc says it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "first-deployment.md"
MARK = "<!-- runnable: sandbox -->"


def runnable_commands() -> list[list[str]]:
    """The ``autoattach`` lines of each fenced block right after the runnable mark."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(re.escape(MARK) + r"\n```sh\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            assert line.startswith("autoattach "), f"not a sandbox command: {line}"
            commands.append(shlex.split(line)[1:])
    return commands


def test_the_walkthrough_has_sandbox_commands_for_doctor_plan_status_and_sandbox():
    verbs = {command[0] for command in runnable_commands()}
    assert {"doctor", "plan", "status", "sandbox"} <= verbs
    assert all("--world" in command for command in runnable_commands())


def test_every_runnable_command_of_the_walkthrough_succeeds_on_the_sandbox(run_cli):
    for command in runnable_commands():
        code, out, err = run_cli(*command)
        assert code == 0, (command, err)
        if command[0] == "doctor":
            assert "0 problem(s)" in out and ", 0 writes" in out


def test_the_doctor_summary_quoted_in_the_walkthrough_is_what_doctor_prints(run_cli):
    code, out, _ = run_cli("doctor", "--world", "docs/examples/world.json")
    text = DOC.read_text(encoding="utf-8")
    summary, requests = out.strip().splitlines()[-2:]
    assert code == 0
    assert f"`{summary}`" in text and f"`{requests}`" in text
