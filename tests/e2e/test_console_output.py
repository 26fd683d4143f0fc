"""One output convention for every command that prints, as az has: --output/-o
json|jsonc|table|tsv|yaml|none and --query (JMESPath); a bad option prints that subcommand's
usage; --cluster takes a name or an id, and an error says its point once (issue 21.5)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.conftest import simple_document, write_json

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
AKS_ML = (
    f"/subscriptions/{SUB}/resourceGroups/rg-platform/providers/Microsoft.ContainerService/"
    "managedClusters/aks-ml"
)
WORLD = "docs/examples/world.json"


def test_a_query_picks_from_the_json_and_prints_it_in_any_format(run_cli):
    query = "attachments[].compute"
    code, out, _ = run_cli(
        "plan", "--world", WORLD, "--cluster", AKS_ML, "-o", "tsv", "--query", query
    )
    assert code == 0 and out == "aks-ml\naks-ml-prod\n"
    code, out, _ = run_cli(
        "plan", "--world", WORLD, "--cluster", AKS_ML, "-o", "json", "--query", query
    )
    assert json.loads(out) == ["aks-ml", "aks-ml-prod"]
    code, out, _ = run_cli(
        "plan", "--world", WORLD, "--cluster", AKS_ML, "-o", "yaml", "--query", query
    )
    assert yaml.safe_load(out) == ["aks-ml", "aks-ml-prod"]
    code, out, _ = run_cli(
        "plan", "--world", WORLD, "--cluster", AKS_ML, "-o", "jsonc", "--query", query
    )
    assert "\033[" in out and json.loads(out.replace("\033[32m", "").replace("\033[0m", "")) == [
        "aks-ml",
        "aks-ml-prod",
    ]


def test_a_table_of_a_query_has_a_column_per_field(run_cli):
    code, out, _ = run_cli(
        "plan", "--world", WORLD, "--cluster", AKS_ML, "--query",
        "attachments[].{Compute: compute, Namespace: namespace}",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines() == [
        "Compute      Namespace",
        "-----------  ----------------",
        "aks-ml       azureml-research",
        "aks-ml-prod  azureml-prod",
    ]


def test_output_none_prints_nothing_and_keeps_the_exit_status(run_cli, tmp_path):
    code, out, _ = run_cli("doctor", "--world", WORLD, "-o", "none")
    assert (code, out) == (0, "")
    document = simple_document()
    document["role_assignments"].pop()
    code, out, _ = run_cli(
        "doctor", "--world", str(write_json(tmp_path / "w.json", document)), "-o", "none"
    )
    assert (code, out) == (1, "")


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--world", WORLD, "--cluster", AKS_ML],
        ["status", "--world", WORLD],
        ["reconcile", "--world", WORLD, "--cluster", AKS_ML],
        ["doctor", "--world", WORLD],
        ["policy", "validate", WORLD],
        ["sandbox", "--world", WORLD, "--events", "docs/examples/events.json"],
        ["smoke", "--world", WORLD],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_that_prints_takes_output_and_query(run_cli, argv):
    code, out, err = run_cli(*argv, "--output", "yaml", "--query", "length(@)")
    assert code in (0, 1), err
    assert out.strip().isdigit()


def test_a_bad_option_or_query_prints_that_subcommands_usage(run_cli, capsys):
    from console.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["status", "--world", WORLD, "--colour"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("usage: autoattach status ")
    assert "autoattach status: error: unrecognized arguments: --colour" in err
    with pytest.raises(SystemExit):
        main(["dead-letters", "list", "--query", "dead_letters[?"])
    err = capsys.readouterr().err
    assert err.startswith("usage: autoattach dead-letters list ")
    assert "argument --query: not a JMESPath query" in err


def test_a_cluster_is_given_by_its_name_as_well_as_by_its_id(run_cli):
    by_name = run_cli("plan", "--world", WORLD, "--cluster", "aks-ml", "-o", "json")
    by_id = run_cli("plan", "--world", WORLD, "--cluster", AKS_ML, "-o", "json")
    assert by_name[0] == by_id[0] == 0
    assert json.loads(by_name[1])["cluster"] == AKS_ML
    code, out, _ = run_cli("doctor", "--world", WORLD, "--cluster", "aks-ml", "-o", "json")
    subjects = {c["subject"] for c in json.loads(out)["checks"] if c["area"] == "clusters"}
    assert code == 0 and subjects and all(s.startswith("aks-ml") for s in subjects)


def test_a_cluster_name_two_clusters_share_asks_for_the_id_naming_both(run_cli, tmp_path):
    document = simple_document()
    twin = json.loads(json.dumps(document["clusters"][0]))
    twin["id"] = twin["id"].replace("rg-platform", "rg-other")
    twin.pop("extensions", None)
    document["clusters"].append(twin)
    world = str(write_json(tmp_path / "w.json", document))
    for command in ("plan", "status", "reconcile", "doctor"):
        code, out, err = run_cli(command, "--world", world, "--cluster", "aks-ml")
        assert (code, out) == (2, ""), command
        assert err.strip() == (
            f"autoattach {command}: --cluster aks-ml: 2 clusters have that name ({twin['id']}, "
            f"{AKS_ML}); give the resource id of the one you mean"
        )
    code, _, err = run_cli("plan", "--world", world, "--cluster", "aks-nowhere")
    assert code == 2 and "--cluster aks-nowhere: no AKS or Arc cluster has that name" in err


def test_an_error_says_its_point_once(run_cli):
    code, _, err = run_cli("plan", "--world", WORLD, "--cluster", "/subscriptions")
    assert code == 2
    assert err == "autoattach plan: --cluster '/subscriptions': not an ARM resource id\n"
