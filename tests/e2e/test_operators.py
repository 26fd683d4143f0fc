"""Operators: see what failed, fix the cause, replay it (on the sandbox's queues, never Azure)."""

import io
import json

from console.cli import build_parser
from console.commands.dead_letters import run_dead_letters
from sandbox.scenario import arm_event
from sandbox.servicebus_double import DeadLetterQueues
from sandbox.state import save
from tests.e2e.conftest import ready_document, scenario_from, simple_document, write_json

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def failed_extension_document():
    document = ready_document()
    document["clusters"][0]["extensions"][0]["provisioning_state"] = "Failed"
    cluster = document["clusters"][0]["id"]
    steps = [
        {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-failed")},
        {"at": 5, "raw": "{this is not an event", "id": "raw-1"},
    ]
    return document, steps, cluster


def failed_extension_sandbox(sandbox_for):
    """Two dead letters on cluster-events: evt-failed (AttachFailed, about the cluster) and raw-1
    (MalformedEvent, about no cluster)."""
    document, steps, cluster = failed_extension_document()
    sandbox = sandbox_for(scenario_from(document, steps))
    sandbox.run_pass(0)
    return sandbox, cluster


def cli(store, capsys, *argv, stdin=None, stdout=None):
    args = build_parser().parse_args(["dead-letters", *argv, "--namespace", "sandbox"])
    code = run_dead_letters(args, store, stdin=stdin or io.StringIO(""), stdout=stdout)
    captured = capsys.readouterr()
    return code, (stdout.getvalue() if stdout else captured.out), captured.err


def test_an_operator_sees_why_a_message_was_dead_lettered(sandbox_for, capsys):
    sandbox, cluster = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "list", "--reason", "attachfailed", "--output", "json")
    assert code == 0
    listing = json.loads(out)
    assert (listing["matched"], listing["total"]) == (1, 2)
    (letter,) = listing["dead_letters"]
    assert letter["event_id"] == "evt-failed"  # the message id is Event Grid's internal id
    assert letter["reason"] == "AttachFailed"
    assert letter["cluster"] == cluster
    assert "ended Failed; fix or reinstall it, then replay" in letter["description"]
    assert json.loads(letter["body"])["id"] == "evt-failed"


def test_the_listing_is_a_table_with_counts_on_a_terminal_and_json_when_piped(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    _, table, _ = cli(store, capsys, "list", stdout=Terminal())
    assert table.splitlines()[0] == "2 of 2 dead letters on cluster-events, extension-events"
    assert "evt-failed" in table and "MalformedEvent" in table
    _, piped, _ = cli(store, capsys, "list", stdout=io.StringIO())
    assert json.loads(piped)["total"] == 2
    _, alias, _ = cli(store, capsys, "list", "--json", stdout=Terminal())
    assert json.loads(alias)["total"] == 2


def test_a_cluster_is_matched_by_its_id_in_any_case_or_by_its_name(sandbox_for, capsys):
    sandbox, cluster = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    for given in (cluster.upper().replace("RESOURCEGROUPS", "resourcegroups"), "AKS-ML"):
        code, out, _ = cli(store, capsys, "list", "--cluster", given, "-o", "json")
        assert code == 0
        assert [d["event_id"] for d in json.loads(out)["dead_letters"]] == ["evt-failed"], given
    code, _, err = cli(store, capsys, "list", "--cluster", "/subscriptions//x")
    assert code == 2 and "--cluster '/subscriptions//x'" in err


def test_since_takes_a_duration_back_from_now_or_an_iso_time(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    now = sandbox.clock.now()
    later = now.replace(year=now.year + 1).isoformat()

    def matched(since):
        code, out, _ = cli(store, capsys, "list", "--since", since, "-o", "json")
        assert code == 0
        return json.loads(out)["matched"]

    assert matched("1d") == 2
    assert matched(later) == 0
    assert matched("2026-01-01") == 2  # a date: UTC midnight
    code, _, err = cli(store, capsys, "list", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in err


def test_a_dry_run_prints_what_would_be_replayed_and_sends_nothing(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "replay", "--all", "--dry-run")
    assert code == 0
    assert "would replay 1 of 2: evt-failed" in out and "would replay 2 of 2: raw-1" in out
    assert len(store.peek("cluster-events")) == 2
    assert sandbox.bus.queues["cluster-events"].active == []


def test_a_bulk_replay_is_refused_without_yes_when_no_terminal_can_confirm_it(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, _, err = cli(store, capsys, "replay", "--all", stdin=io.StringIO("y\n"))
    assert code == 2
    assert "2 dead letters chosen and no terminal to confirm on: give --yes" in err
    assert len(store.peek("cluster-events")) == 2


def test_a_bulk_replay_asks_first_then_reports_each_message(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "replay", "--all", stdin=Terminal("n\n"))
    assert code == 1 and "Replay these 2 dead letters? [y/N]" in out
    assert "nothing replayed" in out and len(store.peek("cluster-events")) == 2
    code, out, _ = cli(store, capsys, "replay", "--all", stdin=Terminal("y\n"))
    assert code == 0
    assert "replayed 1 of 2: evt-failed" in out and "replayed 2 of 2: raw-1" in out
    assert store.peek("cluster-events") == []


def test_a_replayed_message_is_handled_again_once_the_cause_is_fixed(sandbox_for, capsys):
    sandbox, cluster = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    sandbox.world.apply_change(
        {
            "op": "set_extension_state",
            "cluster": cluster,
            "name": "azureml",
            "provisioning_state": "Succeeded",
        }
    )
    code, out, _ = cli(store, capsys, "replay", "--reason", "AttachFailed")
    assert code == 0
    assert "replayed 1 of 1: evt-failed (message " in out
    assert ", cluster aks-ml, AttachFailed) to cluster-events\n" in out
    report = sandbox.deliver_pending()
    assert {d.id for d in report.deliveries} == {"evt-failed"}
    assert report.deliveries[-1].outcome == "completed"  # perhaps after re-checks of its own
    assert len(sandbox.world.snapshot()["computes"]) == 2
    assert [letter.event_id for letter in store.peek("cluster-events")] == ["raw-1"]


def test_replaying_an_id_that_is_not_dead_lettered_names_it_and_replays_nothing(
    sandbox_for, capsys
):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, _, err = cli(store, capsys, "replay", "--id", "evt-failed", "--id", "nope")
    assert code == 2
    assert "no dead letter nope on cluster-events, extension-events; nothing replayed" in err
    assert len(store.peek("cluster-events")) == 2  # evt-failed was not replayed either
    code, _, err = cli(store, capsys, "replay")
    assert code == 2 and "say which: --id ID, --all, or a filter" in err


def test_a_replayed_event_is_rechecked_again_not_silently_dropped(sandbox_for, capsys):
    document = simple_document()
    extension = document["clusters"][0]["extensions"][0]
    extension.pop("succeeds_after_seconds")  # installing, until the steps below say otherwise
    cluster = document["clusters"][0]["id"]
    steps = [
        {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-flaky")},
        {
            "at": 150,
            "change": {
                "op": "set_extension_state",
                "cluster": cluster,
                "name": "azureml",
                "provisioning_state": "Failed",
            },
        },
    ]
    sandbox = sandbox_for(scenario_from(document, steps))
    first = sandbox.run_pass(0)
    assert [d.outcome for d in first.deliveries][-1] == "dead-lettered"  # after some re-checks
    assert sum(d.outcome == "scheduled" for d in first.deliveries) >= 2
    # The team reinstalls the extension; it takes a few minutes. The operator replays at once.
    now = sandbox.clock.seconds()
    sandbox.world.apply_change(
        {
            "op": "set_extension_state",
            "cluster": cluster,
            "name": "azureml",
            "provisioning_state": "Creating",
            "succeeds_after_seconds": now + 150,
        }
    )
    store = DeadLetterQueues(sandbox.bus)
    (letter,) = store.peek("cluster-events")
    attempts = letter.properties["autoattach-attempt"]
    assert attempts >= 2
    code, out, _ = cli(store, capsys, "replay", "--queue", "cluster-events", "--id", "evt-flaky")
    assert code == 0
    assert "replayed 1 of 1: evt-flaky" in out
    (copy,) = sandbox.bus.queues["cluster-events"].active
    assert copy.application_properties["autoattach-attempt"] == attempts  # the limit counts on
    replay = sandbox.deliver_pending()
    outcomes = [d.outcome for d in replay.deliveries]
    assert outcomes[0] == "scheduled"  # still installing: its re-check must come back
    assert outcomes[-1] == "completed"
    assert len(sandbox.world.snapshot()["computes"]) == 2


def test_an_operator_rehearses_a_replay_on_the_sandbox_state(tmp_path, run_cli):
    document, steps, _ = failed_extension_document()
    world = write_json(tmp_path / "world.json", document)
    events = write_json(tmp_path / "events.json", steps)
    state = tmp_path / "state"
    code, _, _ = run_cli(
        "sandbox", "--world", str(world), "--events", str(events), "--state", str(state)
    )
    assert code == 0
    code, out, _ = run_cli("dead-letters", "list", "--state", str(state), "-o", "json")
    assert code == 0 and json.loads(out)["total"] == 2
    code, out, _ = run_cli(
        "dead-letters", "replay", "--state", str(state), "--cluster", "aks-ml", "--dry-run"
    )
    assert code == 0 and "would replay 1 of 1: evt-failed" in out
    # The team fixes the extension; the world file says so. The operator replays evt-failed.
    document["clusters"][0]["extensions"][0]["provisioning_state"] = "Succeeded"
    write_json(world, document)
    code, out, _ = run_cli("dead-letters", "replay", "--state", str(state), "--id", "evt-failed")
    assert code == 0 and "replayed 1 of 1: evt-failed" in out
    saved = json.loads((state / "servicebus.json").read_text())["queues"]["cluster-events"]
    assert [json.loads(m["body"])["id"] for m in saved["messages"]] == ["evt-failed"]
    assert [m["message_id"] for m in saved["dead_letters"]] == ["raw-1"]
    # The next sandbox run starts with the replayed message on the queue (and no new events).
    write_json(events, [])
    code, out, _ = run_cli(
        "sandbox", "--world", str(world), "--events", str(events), "--state", str(state), "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert [(e["id"], e["outcome"]) for e in report["events"]][-1] == ("evt-failed", "completed")
    assert len(report["world"]["computes"]) == 2
    code, out, _ = run_cli("dead-letters", "list", "--state", str(state), "-o", "json")
    assert [d["event_id"] for d in json.loads(out)["dead_letters"]] == ["raw-1"]


def test_the_dead_letters_commands_name_what_is_missing(tmp_path, run_cli, monkeypatch):
    monkeypatch.delenv("SERVICEBUS_CONNECTION__fullyQualifiedNamespace", raising=False)
    code, _, err = run_cli("dead-letters", "list")
    assert code == 2 and "give --namespace" in err
    code, _, err = run_cli("dead-letters", "list", "--state", str(tmp_path / "nowhere"))
    assert code == 2 and "no servicebus.json there" in err
    (tmp_path / "servicebus.json").write_text('{"format": "something else"}')
    code, _, err = run_cli("dead-letters", "list", "--state", str(tmp_path))
    assert code == 2 and "servicebus.json: 'format' must be" in err


def test_autoattach_prints_its_version(run_cli, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("autoattach ")


def test_a_state_saved_by_a_sandbox_keeps_dead_letters_in_order(sandbox_for, tmp_path):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    path = save(sandbox.bus, sandbox.clock, tmp_path)
    letters = json.loads(path.read_text())["queues"]["cluster-events"]["dead_letters"]
    assert [d["dead_letter_reason"] for d in letters] == ["AttachFailed", "MalformedEvent"]


# ---- issue 21.9: what a replay says, and where it goes -----------------------------------------


def test_each_replay_line_names_the_event_once_and_a_summary_closes_the_replay(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "replay", "--all", "--yes")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("replayed 1 of 2: evt-failed (message ")
    assert lines[0].endswith(", cluster aks-ml, AttachFailed) to cluster-events")
    assert lines[1] == "replayed 2 of 2: raw-1 (MalformedEvent) to cluster-events"
    assert lines[2] == "replayed 2 of 2 dead letters on cluster-events, extension-events"
    for line in lines[:2]:
        event_id = line.split(": ", 1)[1].split(" ", 1)[0]
        assert line.count(event_id) == 1  # the copy's id (the event id again) is not printed


def test_a_replay_in_json_lists_what_was_replayed(sandbox_for, capsys):
    sandbox, _ = failed_extension_sandbox(sandbox_for)
    store = DeadLetterQueues(sandbox.bus)
    code, out, _ = cli(store, capsys, "replay", "--reason", "AttachFailed", "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert report["chosen"] == 1 and report["skipped"] == []
    assert [(r["event_id"], r["reason"]) for r in report["replayed"]] == [
        ("evt-failed", "AttachFailed")
    ]


def test_a_replayed_dead_letter_is_named_as_the_event_it_replays_in_the_next_run(tmp_path, run_cli):
    document, steps, _ = failed_extension_document()
    world = write_json(tmp_path / "world.json", document)
    events = write_json(tmp_path / "events.json", steps)
    state = tmp_path / "state"
    run_cli("sandbox", "--world", str(world), "--events", str(events), "--state", str(state))
    run_cli("dead-letters", "replay", "--state", str(state), "--id", "evt-failed")
    write_json(events, [])
    code, out, _ = run_cli(
        "sandbox", "--world", str(world), "--events", str(events), "--state", str(state)
    )
    assert code == 0
    assert f"replayed {CLUSTER_WRITE} aks-ml" in out
    assert "reconcile request" not in out


def test_a_short_namespace_is_completed_and_an_unreachable_one_fails_at_once_in_one_line(
    run_cli, monkeypatch
):
    import socket

    asked: list[str] = []

    def no_such_host(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    code, out, err = run_cli("dead-letters", "list", "--namespace", "sb-gone")
    assert asked == ["sb-gone.servicebus.windows.net"]
    assert (code, out) == (2, "")
    assert err == (
        "autoattach dead-letters list: Service Bus namespace sb-gone.servicebus.windows.net: no "
        "such host; check --namespace (a namespace's host name, or its short name)\n"
    )
