"""``autoattach policy validate``: the app's own policy check, from the command line."""

import json

import pytest

from console.cli import main
from tests.e2e.conftest import EXAMPLES, demo_document, simple_document, write_json

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
WS = SUB + "/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/"


def bare_policy(**rule):
    return {
        "workspaces": [
            {"workspace": WS + "ws-research", "clusters": [SUB + "/resourceGroups/rg-platform"]}
            | rule
        ]
    }


def test_the_example_policy_file_is_valid(run_cli):
    code, out, err = run_cli("policy", "validate", str(EXAMPLES / "attach-policy.json"))

    assert (code, err) == (0, "")
    assert out == f"{EXAMPLES / 'attach-policy.json'}: ok\n"


def test_world_files_are_checked_by_their_policy(run_cli, tmp_path):
    demo = write_json(tmp_path / "demo.json", demo_document())
    example = EXAMPLES / "world.json"

    code, out, _ = run_cli("policy", "validate", str(demo), str(example))

    assert code == 0
    assert out.splitlines() == [f"{demo}: ok", f"{example}: ok"]


def test_a_misspelt_storage_access_exits_2_naming_the_file_and_the_path(run_cli, tmp_path):
    path = write_json(tmp_path / "policy.json", bare_policy(storage_acess="read-write"))

    code, out, err = run_cli("policy", "validate", str(path))

    assert (code, out) == (2, "")
    assert err.startswith(f"{path}: workspaces[0].storage_acess: unknown key")
    assert "did you mean 'storage_access'?" in err


def test_each_problem_is_printed_on_its_own_line(run_cli, tmp_path):
    document = bare_policy(storage_access="write")
    document["extention"] = {"when_missing": "install"}
    path = write_json(tmp_path / "policy.json", document)

    code, _, err = run_cli("policy", "validate", str(path))

    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}: extention: unknown key (did you mean 'extension'?)")
    assert lines[1] == (
        f"{path}: workspaces[0].storage_access must be 'read' or 'read-write', got 'write'"
    )


def test_a_world_files_bad_policy_is_named_as_its_policy(run_cli, tmp_path):
    document = simple_document()
    document["policy"]["clusters"] = [
        {
            "scope": SUB + "/resourceGroups/rg-edge",
            "kubeconfig_secret": "{sandbox_vault}/secrets/kubeconfig-edge",
        }
    ]
    path = write_json(tmp_path / "world.json", document)

    code, _, err = run_cli("policy", "validate", str(path))

    assert code == 2
    assert err.startswith(
        f"{path} (its 'policy'): clusters[0].kubeconfig_secret names one secret for every cluster"
    )


def test_a_semantic_problem_after_the_schema_is_reported_too(run_cli, tmp_path):
    path = write_json(tmp_path / "policy.json", bare_policy(workspace="ws-research"))

    code, _, err = run_cli("policy", "validate", str(path))

    assert code == 2
    assert err.startswith(f"{path}: workspaces[0].workspace: not an ARM resource id")


def test_a_user_assigned_identity_written_as_a_string_exits_2_naming_its_path(run_cli, tmp_path):
    path = write_json(
        tmp_path / "policy.json", bare_policy(computes=[{"identity": "user_assigned"}])
    )

    code, out, err = run_cli("policy", "validate", str(path))

    assert (code, out) == (2, "")
    assert err.startswith(
        f"{path}: workspaces[0].computes[0].identity must be 'system_assigned', got 'user_assigned'"
    )
    assert '{"type": "user_assigned", "resource_id": "<identity id>"}' in err


def test_every_semantic_problem_is_printed_in_one_run(run_cli, tmp_path):
    document = bare_policy(
        computes=[
            {"name": "{cluster}_GPU", "namespace": "team-a"},
            {"name": "{cluster}-gpu", "namespace": "kube-system"},
        ]
    )
    document["extension"] = {"when_missing": "install", "settings": {"enableTraining": False}}
    path = write_json(tmp_path / "policy.json", document)

    code, _, err = run_cli("policy", "validate", str(path))

    assert code == 2
    starts = [line.removeprefix(f"{path}: ").split(" ", 1)[0] for line in err.splitlines()]
    assert starts == [
        "workspaces[0].computes[0].name",
        "workspaces[0].computes[1].namespace",
        "extension.settings:",
    ]


@pytest.mark.parametrize(
    ("content", "message"), [(None, "cannot read it"), ("{", "not JSON: Expecting")]
)
def test_an_unreadable_file_exits_2_naming_it(run_cli, tmp_path, content, message):
    path = tmp_path / "policy.json"
    if content is not None:
        path.write_text(content)

    code, _, err = run_cli("policy", "validate", str(path))

    assert code == 2
    assert err.startswith(f"{path}: {message}")


def test_one_bad_file_among_good_ones_fails_the_run(run_cli, tmp_path):
    good = write_json(tmp_path / "good.json", bare_policy())
    bad = write_json(tmp_path / "bad.json", json.loads('{"workspaces": {}}'))

    code, out, err = run_cli("policy", "validate", str(good), str(bad))

    assert code == 2
    assert out == f"{good}: ok\n"
    assert err == f"{bad}: workspaces must be a list, got an object {{}}\n"


def test_validate_help_explains_the_checks_and_the_exit_status(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["policy", "validate", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "attach-policy.schema.json" in out
    assert "sandbox world file" in out
    assert "Exit status: 0 when every file is valid, 2" in out
