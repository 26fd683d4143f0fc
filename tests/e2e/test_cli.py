import json
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
