"""Platform teams asking "why is (or isn't) my cluster attached?": ``autoattach plan``,
``status`` and ``reconcile`` against the sandbox, as a person runs them; and the two things they
read that the pipeline keeps: the last outcome per cluster, and the TagRefused notice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from shared.decisions.arm_id import ResourceId
from shared.decisions.notices import TAG_REFUSED
from tests.e2e.conftest import ready_document, scenario_from, write_json

AKS_ML = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-platform/providers/"
    "Microsoft.ContainerService/managedClusters/aks-ml"
)
WS_RESEARCH = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-ml/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws-research"
)
NOWHERE = AKS_ML.replace("/aks-ml", "/aks-nowhere")


def ready_world(tmp_path: Path, tag: str = "ws-research,ws-prod") -> Path:
    document = ready_document()
    document["clusters"][0]["tags"]["azureml-attach"] = tag
    return write_json(tmp_path / "world.json", document)


# ---- plan ------------------------------------------------------------------------------------


def test_plan_on_a_ready_cluster_lists_each_namespace_and_attach_it_would_make_and_writes_nothing(
    run_cli, tmp_path
):
    code, out, err = run_cli(
        "plan", "--world", str(ready_world(tmp_path)), "--cluster", AKS_ML, "-o", "json"
    )
    assert (code, err) == (0, "")
    report = json.loads(out)
    now = [a["action"] for a in report["actions"]]
    then = [a["action"] for a in report["then"]]
    assert sorted(now + then) == ["attach", "attach", "create-namespace", "create-namespace"]
    assert now[0] == "create-namespace"  # a compute is attached into its namespace
    assert "attach aks-ml as compute aks-ml in workspace ws-research" in json.dumps(report)
    assert "then grant its identity AcrPull on acrresearch" in json.dumps(report)
    assert report["refused"] == [] and report["waiting"] is None
    assert report["converged"] is False
    assert report["arm_requests"]["writes"] == 0
    assert report["arm_requests"]["reads"] > 0


def test_plan_on_the_demo_world_prints_the_plan_and_zero_arm_writes(run_cli):
    code, out, _ = run_cli("plan", "--demo", "--cluster", AKS_ML)
    assert code == 0
    assert "Waiting: the Azure ML extension azureml on cluster aks-ml is Creating" in out
    assert "compute aks-ml-prod in workspace ws-prod" in out
    assert out.rstrip().splitlines()[-1].endswith(" 0 writes")


def test_plan_after_the_events_ran_says_the_cluster_is_converged(run_cli):
    code, out, _ = run_cli("plan", "--demo", "--run-events", "--cluster", AKS_ML, "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert report["converged"] is True and report["actions"] == []
    assert report["arm_requests"]["writes"] == 0


def test_plan_names_each_refused_tag_entry_with_the_reason(run_cli, tmp_path):
    world = ready_world(tmp_path, tag="ws-research,ws-typo")
    code, out, _ = run_cli("plan", "--world", str(world), "--cluster", AKS_ML)
    assert code == 0
    assert "Refused tag entries:" in out
    assert "  - ws-typo: no workspace in the attach policy is named 'ws-typo'" in out


def test_plan_names_a_compute_autoattach_did_not_make_as_a_problem_for_a_person(run_cli, tmp_path):
    document = ready_document()
    document["computes"] = [
        {
            "workspace": WS_RESEARCH,
            "name": "aks-ml",
            "resource_id": AKS_ML,
            "namespace": "azureml-research",
        }
    ]
    world = write_json(tmp_path / "world.json", document)
    code, out, _ = run_cli("plan", "--world", str(world), "--cluster", AKS_ML, "-o", "json")
    assert code == 0
    problems = json.loads(out)["problems"]
    assert [p["compute"] for p in problems] == ["aks-ml"]
    assert "was not made by autoattach" in problems[0]["problem"]


# ---- status ----------------------------------------------------------------------------------


def test_status_shows_the_computes_grants_and_last_outcome_autoattach_keeps(run_cli, tmp_path):
    world = ready_world(tmp_path)
    code, out, _ = run_cli(
        "status", "--world", str(world), "--run-events", "--cluster", AKS_ML, "-o", "json"
    )
    assert code == 0
    report = json.loads(out)
    assert sorted(c["name"] for c in report["computes"]) == ["aks-ml", "aks-ml-prod"]
    assert {c["state"] for c in report["computes"]} == {"Succeeded"}
    assert sorted(g["role"] for g in report["grants"]) == [
        "AcrPull",
        "AcrPull",
        "Storage Blob Data Contributor",
        "Storage Blob Data Reader",
    ]
    [cluster] = report["clusters"]
    assert cluster["cluster"].lower() == AKS_ML.lower()
    assert cluster["last_outcome"]["outcome"] == "completed"
    assert {a["type"] for a in cluster["announced"]} == {"Autoattach.ComputeAttached"}
    assert report["arm_requests"]["writes"] == 0


def test_status_for_a_workspace_shows_only_its_computes(run_cli, tmp_path):
    world = ready_world(tmp_path)
    code, out, _ = run_cli(
        "status", "--world", str(world), "--run-events", "--workspace", WS_RESEARCH
    )
    assert code == 0
    assert "aks-ml in ws-research: Succeeded" in out
    assert "aks-ml-prod" not in out
    assert "last outcome: completed" in out


def test_status_of_a_world_where_nothing_ran_yet_shows_nothing_kept(run_cli, tmp_path):
    code, out, _ = run_cli("status", "--world", str(ready_world(tmp_path)), "--cluster", AKS_ML)
    assert code == 0
    assert "Computes autoattach attached (0):" in out
    assert "last outcome: none recorded" in out


# ---- reconcile -------------------------------------------------------------------------------


def test_reconcile_in_the_sandbox_delivers_the_request_through_the_queue_and_prints_the_outcome(
    run_cli, tmp_path
):
    code, out, err = run_cli(
        "reconcile", "--world", str(ready_world(tmp_path)), "--cluster", AKS_ML
    )
    assert (code, err) == (0, "")
    assert "queued a reconcile request for" in out
    assert "cluster-events" in out and "reconcile request" in out
    assert "attached aks-ml as compute aks-ml in workspace ws-research" in out
    assert "=> completed:" in out


def test_a_reconcile_queued_in_a_state_directory_is_delivered_by_the_next_sandbox_run(
    run_cli, tmp_path
):
    state = tmp_path / "state"
    world = ready_world(tmp_path)
    code, out, _ = run_cli("reconcile", "--state", str(state), "--cluster", AKS_ML)
    assert code == 0
    assert "the next `autoattach sandbox --world FILE --state" in out
    no_events = write_json(tmp_path / "events.json", [])
    code, out, _ = run_cli(
        "sandbox", "--world", str(world), "--events", str(no_events), "--state", str(state)
    )
    assert code == 0
    assert "reconcile request" in out
    assert "attached aks-ml as compute aks-ml in workspace ws-research" in out
    kept = json.loads((state / "servicebus.json").read_text())
    assert kept["queues"]["cluster-events"]["messages"] == []  # delivered, not kept again


# ---- help and wrong input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "phrase"),
    [
        ("plan", "writes nothing to ARM"),
        ("status", "last outcome"),
        ("reconcile", "Queue a reconcile request"),
    ],
)
def test_each_command_has_a_help_that_explains_it_and_where_it_runs(capsys, command, phrase):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert phrase in text
    assert "--world FILE" in text and "DefaultAzureCredential" in text


@pytest.mark.parametrize("command", ["plan", "status", "reconcile"])
def test_a_cluster_id_that_is_not_one_exits_2_naming_it(run_cli, command):
    code, _, err = run_cli(command, "--demo", "--cluster", WS_RESEARCH)
    assert code == 2
    assert f"--cluster {WS_RESEARCH}: not a cluster" in err
    code, _, err = run_cli(command, "--demo", "--cluster", "/aks-ml")
    assert code == 2
    assert err.strip().endswith("--cluster '/aks-ml': not an ARM resource id")


@pytest.mark.parametrize("command", ["plan", "status", "reconcile"])
def test_a_missing_world_file_exits_2_naming_the_file(run_cli, tmp_path, command):
    missing = tmp_path / "nope.json"
    code, _, err = run_cli(command, "--world", str(missing), "--cluster", AKS_ML)
    assert code == 2
    assert str(missing) in err and "cannot read it" in err


def test_plan_of_a_cluster_arm_does_not_know_exits_2_naming_it(run_cli):
    code, _, err = run_cli("plan", "--demo", "--cluster", NOWHERE)
    assert code == 2
    assert f"--cluster {NOWHERE}: no such cluster in ARM" in err


def test_status_of_something_that_is_not_a_workspace_exits_2_naming_it(run_cli):
    code, _, err = run_cli("status", "--demo", "--workspace", AKS_ML)
    assert code == 2
    assert f"--workspace {AKS_ML}: not a workspace" in err


def test_against_azure_a_missing_app_setting_exits_2_naming_it_and_how_to_point_at_the_app(
    run_cli, monkeypatch
):
    from shared import settings

    for name in (*settings.REQUIRED_APP_SETTINGS, *settings.OPTIONAL_APP_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    for name in ("AZURE_FUNCTION_APP_NAME", "SERVICEBUS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    for command in ("plan", "status"):  # read-only: no queue, schedule or Service Bus asked for
        code, _, err = run_cli(command, "--cluster", AKS_ML)
        assert code == 2
        assert "set exactly one of ATTACH_POLICY" in err
        assert "point at the deployed app with --app <function app resource id>" in err
    code, _, err = run_cli("reconcile", "--cluster", AKS_ML)
    assert code == 2
    assert "missing app settings: SERVICEBUS_CONNECTION__fullyQualifiedNamespace" in err


def test_reconcile_with_a_state_directory_and_a_world_exits_2_saying_which_to_drop(
    run_cli, tmp_path
):
    code, _, err = run_cli("reconcile", "--demo", "--state", str(tmp_path), "--cluster", AKS_ML)
    assert code == 2
    assert "--state DIR queues the request" in err


# ---- what the pipeline keeps for them --------------------------------------------------------


def test_each_handled_message_leaves_its_outcome_in_the_clusters_ledger(sandbox_for):
    sandbox = sandbox_for(scenario_from(ready_document()))
    report = sandbox.run_pass(0)
    cluster = ResourceId.parse(AKS_ML)
    last = sandbox.app.services.ledger.view(cluster).last_outcome
    assert last is not None
    # aks-ml's write event, aks-web's, then aks-ml's extension's: the last about aks-ml
    assert "extensions/write" in report.deliveries[-1].label
    assert last["event_id"] == report.deliveries[-1].id
    assert last["outcome"] == "completed"
    assert last["attempt"] == 0 and last["at"]


def test_a_ledger_that_cannot_keep_the_outcome_changes_nothing_else(sandbox_for):
    sandbox = sandbox_for(scenario_from(ready_document()))
    ledger = sandbox.app.services.ledger

    def broken(cluster_id, outcome):
        raise RuntimeError("storage said no")

    ledger.record_outcome = broken  # type: ignore[method-assign]
    report = sandbox.run_pass(0)
    assert {d.outcome for d in report.deliveries} == {"completed"}
    assert len(sandbox.world.snapshot()["computes"]) == 2
    assert ledger.view(ResourceId.parse(AKS_ML)).last_outcome is None


def test_a_refused_tag_entry_reaches_the_platform_team_once_and_a_replay_stays_settled(
    sandbox_for,
):
    document = ready_document()
    document["clusters"][0]["tags"]["azureml-attach"] = "ws-research,ws-typo"
    sandbox = sandbox_for(scenario_from(document))
    sandbox.run_pass(0)
    refused = [n for n in sandbox.topic.notifications if n["type"] == TAG_REFUSED]
    assert len(refused) == 1
    assert refused[0]["subject"].lower() == AKS_ML.lower()
    assert refused[0]["data"]["tag_key"] == "azureml-attach"
    [entry] = refused[0]["data"]["entries"]
    assert entry["entry"] == "ws-typo"
    assert entry["reason"].startswith("no workspace in the attach policy is named 'ws-typo'")
    replay = sandbox.run_pass(1)
    assert [n for n in sandbox.topic.notifications if n["type"] == TAG_REFUSED] == refused
    about_aks_ml = [d for d in replay.deliveries if "aks-web" not in d.label]
    assert len(about_aks_ml) == 2  # its write event and its extension's
    assert all("already converged, as last announced" in d.reason for d in about_aks_ml)
    assert replay.writes == 0


def test_status_records_the_app_version_and_is_silent_when_it_is_the_consoles(run_cli, tmp_path):
    from shared import __version__

    world = ready_world(tmp_path)
    code, out, err = run_cli(
        "status", "--world", str(world), "--run-events", "--cluster", AKS_ML, "-o", "json"
    )
    assert code == 0
    [cluster] = json.loads(out)["clusters"]
    assert cluster["last_outcome"]["app_version"] == __version__
    assert "warning" not in err


def test_status_warns_when_the_deployed_app_runs_another_version_than_the_console(
    run_cli, tmp_path, monkeypatch
):
    import console.versions

    monkeypatch.setattr(console.versions, "__version__", "9.9.9")  # a newer console
    code, _, err = run_cli("status", "--world", str(ready_world(tmp_path)), "--run-events")
    assert code == 0
    assert "warning: the deployed app recorded version 0." in err
    assert "this console is 9.9.9" in err


# ---- issue 21.8: one verdict per cluster and per compute -------------------------------------


def test_status_gives_each_compute_and_cluster_a_verdict_and_keeps_every_principal(run_cli):
    code, out, _ = run_cli("status", "--demo", "--run-events", "-o", "json")
    assert code == 0
    report = json.loads(out)
    computes = {c["name"]: c for c in report["computes"]}
    # two computes run under one user-assigned identity: both show its principal
    shared = [c for c in computes.values() if c["identity"] and "uai-edge-jobs" in c["identity"]]
    assert len(shared) == 2 and all(c["principal_id"] for c in shared)
    assert all(c["principal_id"] for c in computes.values())
    assert {c["verdict"]["status"] for c in computes.values()} == {"Ready"}
    assert {c["verdict"]["status"] for c in report["clusters"]} <= {"Ready", "Waiting"}
    keys = [(g["for"], g["role"], g["scope"].lower()) for g in report["grants"]]
    assert keys == sorted(keys)


def test_a_cluster_that_waited_past_the_recheck_limit_needs_a_person(run_cli, tmp_path):
    from tests.e2e.conftest import simple_document

    document = simple_document()
    document["clusters"][0]["extensions"][0].pop("succeeds_after_seconds")  # Creating, for good
    world = write_json(tmp_path / "world.json", document)
    code, out, _ = run_cli("status", "--world", str(world), "--run-events", "--cluster", AKS_ML)
    assert code == 0
    lines = out.splitlines()
    verdict = lines[lines.index(f"  aks-ml  {AKS_ML}") + 1].strip()
    assert verdict.startswith("Needs a person: RecheckLimitReached: fix the cause, then ")
    assert "(since 20" in verdict


def test_a_dead_lettered_cluster_needs_a_person_and_says_what_to_do(run_cli, tmp_path):
    document = ready_document()
    document["clusters"][0]["extensions"][0]["provisioning_state"] = "Failed"
    world = write_json(tmp_path / "world.json", document)
    code, out, _ = run_cli(
        "status", "--world", str(world), "--run-events", "--cluster", "aks-ml", "-o", "json"
    )
    assert code == 0
    (cluster,) = json.loads(out)["clusters"]
    assert cluster["verdict"]["status"] == "Needs a person"
    assert cluster["verdict"]["reason"].endswith(
        "fix the cause, then `autoattach dead-letters replay --cluster aks-ml`"
    )
