import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_the_documented_example_files_run_and_show_each_outcome(run_cli):
    code, out, _ = run_cli(
        "sandbox",
        "--json",
        "--world",
        str(EXAMPLES / "world.json"),
        "--events",
        str(EXAMPLES / "events.json"),
    )
    assert code == 0
    report = json.loads(out)
    outcomes = {e["outcome"] for e in report["events"]}
    assert outcomes == {"completed", "scheduled", "dead-lettered"}
    refused = [e for e in report["events"] if "not allowed by policy: ws-unknown" in e["reason"]]
    assert len(refused) == 1
    assert len(report["world"]["computes"]) == 2


def test_help_explains_the_sandbox_options(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--world FILE", "--events FILE", "--repeat N", "--json", "docs/sandbox.md"):
        assert option in text


def test_a_missing_world_file_is_a_clear_error_not_a_traceback(run_cli, tmp_path):
    code, out, err = run_cli("sandbox", "--world", str(tmp_path / "nope.json"))
    assert code == 2
    assert out == ""
    assert "world file" in err and "nope.json" in err and "cannot read it" in err


def test_an_events_file_with_a_bad_step_names_the_step(run_cli, tmp_path):
    events = tmp_path / "events.json"
    events.write_text(json.dumps([{"at": 0, "raw": "x"}, {"at": -5, "raw": "y"}]))
    code, _, err = run_cli("sandbox", "--events", str(events))
    assert code == 2
    assert "events.json[1].at must be seconds" in err


def test_a_world_without_a_policy_is_refused_with_the_reason(run_cli, tmp_path):
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"clusters": []}))
    code, _, err = run_cli("sandbox", "--world", str(world))
    assert code == 2
    assert "needs a 'policy' object" in err


def test_a_sandbox_whose_policy_is_refused_leaves_no_double_running():
    import pytest

    from sandbox.runner import Sandbox
    from shared.decisions.policy import PolicyError
    from tests.e2e.conftest import ready_document, scenario_from

    document = ready_document()
    document["policy"]["workspaces"][0]["storage_access"] = "everything"
    sandbox = Sandbox(scenario_from(document))
    with pytest.raises(PolicyError):
        sandbox.__enter__()
    assert not sandbox.arm._server._thread.is_alive()
    assert not sandbox.storage._server._thread.is_alive()


# ---- issue 21.6: readable output ---------------------------------------------------------------


def test_the_sandbox_account_is_readable_one_line_per_outcome_roles_by_name_clusters_named(
    run_cli,
):
    code, out, _ = run_cli("sandbox")
    assert code == 0
    for raw in ("Exception Details", "Code: BadRequest", "Message: ", "\tCode:"):
        assert raw not in out  # azure-ai-ml's own rendering of an error
    roles = [line for line in out.splitlines() if line.startswith("  role ")]
    assert roles and not any(
        guid in line
        for line in roles
        for guid in ("7f951dda-4ed3-4680-a7ca-43fe172d538d", "acdd72a7-3385-48ef-bd42-f606fba81ae7")
    )
    assert "  role AcrPull on acrresearch for " in out
    extension_events = [
        line for line in out.splitlines() if "KubernetesConfiguration/extensions/write" in line
    ]
    assert extension_events
    assert all(" on aks-" in line or " on arc-" in line for line in extension_events)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_command_shows_progress_on_a_terminal_and_nothing_when_piped(capsys, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["doctor", "--world", "docs/examples/world.json"]) == 0
    shown = terminal.getvalue()
    assert "autoattach doctor: checking the app identity's role assignments" in shown
    assert "autoattach doctor: checking the tagged clusters" in shown
    assert shown.endswith("\r\033[K")  # the line is cleared before the report
    out = capsys.readouterr().out
    assert "\r" not in out and out.splitlines()[-2].startswith("34 checks")
    monkeypatch.undo()
    assert main(["doctor", "--world", "docs/examples/world.json"]) == 0
    assert capsys.readouterr().err == ""


# ---- issue 21.11: shell completion -------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_the_completion_script_lists_the_subcommands_and_is_valid_bash(run_cli, tmp_path, shell):
    code, out, _ = run_cli("completion", shell)
    assert code == 0
    for command in ("plan", "status", "reconcile", "doctor", "dead-letters", "completion"):
        assert command in out
    if shell == "zsh":
        assert out.startswith("autoload -U +X bashcompinit && bashcompinit\n")
        out = out.split("\n", 1)[1]
    script = tmp_path / "autoattach.bash"
    script.write_text(out)
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def complete(script: Path, *words: str) -> list[str]:
    """What bash offers for the last word, with the script loaded (as on <TAB>)."""
    quoted = " ".join(shlex.quote(w) for w in words)
    run = (
        f"source {shlex.quote(str(script))}; COMP_WORDS=(autoattach {quoted}); "
        f'COMP_CWORD={len(words)}; _autoattach; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    done = subprocess.run(["bash", "-c", run], capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_their_values(run_cli, tmp_path):
    _, out, _ = run_cli("completion", "bash")
    script = tmp_path / "autoattach.bash"
    script.write_text(out)
    assert complete(script, "p") == ["policy", "plan"]
    assert complete(script, "re") == ["reconcile"]
    assert complete(script, "dead-letters", "") == ["list", "replay"]
    assert complete(script, "plan", "--output", "") == [
        "json",
        "jsonc",
        "table",
        "tsv",
        "yaml",
        "none",
    ]
    assert "--cluster" in complete(script, "status", "--c")
    assert complete(script, "dead-letters", "list", "--queue", "c") == ["cluster-events"]
