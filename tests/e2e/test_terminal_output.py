"""What the console prints from a message or from Azure reaches the terminal as text: escape
sequences and other control characters in a body, reason or description are shown visibly, never
acted on by the terminal; JSON output stays JSON."""

import io
import json
import unicodedata

import pytest

from console.cli import build_parser
from console.commands.dead_letters import run_dead_letters
from console.text import printable
from sandbox.clock import VirtualClock
from sandbox.servicebus_double import DeadLetterQueues, QueuedMessage, ServiceBusDouble
from tests.e2e.conftest import ready_document, write_json

EVENT_ID = "evt-\x1b]0;owned\x07"  # sets the terminal's title
REASON = "Bad\x1b[2K\rAttachFailed"  # erases the line, writes over it
DESCRIPTION = "fix it\x1b[1A\x1b[2Kforged\ncluster-events  evt-2  Fine\u202egnp.exe"
MESSAGE_ID = "msg-\x9b31m"  # the one-byte (C1) form of ESC [
TAG_ENTRY = "ws-\x1b]0;owned\x07typo\u202e"  # a tag value, set by whoever tags the cluster
AKS_ML = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-platform/providers/"
    "Microsoft.ContainerService/managedClusters/aks-ml"
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def store():
    bus = ServiceBusDouble(VirtualClock(), ["cluster-events", "extension-events"])
    body = json.dumps({"specversion": "1.0", "id": EVENT_ID, "type": "x", "source": "/x"})
    bus.queues["cluster-events"].carry(
        QueuedMessage(
            sequence=1,
            message_id=MESSAGE_ID,
            body=body.encode(),
            application_properties={},
            visible_at=0.0,
            settled="dead-lettered",
            dead_letter_reason=REASON,
            dead_letter_description=DESCRIPTION,
        ),
        dead_lettered=True,
    )
    return DeadLetterQueues(bus)


def dead_letters(store, capsys, *argv, stdin=None, stdout=None):
    args = build_parser().parse_args(["dead-letters", *argv, "--namespace", "sandbox"])
    code = run_dead_letters(args, store, stdin=stdin or io.StringIO(""), stdout=stdout)
    captured = capsys.readouterr()
    return code, (stdout.getvalue() if stdout else captured.out) + captured.err


def acted_on(text: str) -> list[str]:
    """Characters a terminal would act on rather than show, other than the line breaks."""
    return [
        c
        for c in text
        if c != "\n" and (unicodedata.category(c) in ("Cc", "Zl", "Zp") or c == "\u202e")
    ]


def test_a_dead_letters_table_shows_escape_sequences_from_a_message_as_text(store, capsys):
    _, out = dead_letters(store, capsys, "list", stdout=Terminal())

    assert acted_on(out) == []
    assert "evt-\\x1b]0;owned\\x07" in out
    assert "Bad\\x1b[2K\\rAttachFailed" in out
    assert "msg-\\x9b31m" in out
    assert "forged\\ncluster-events  evt-2  Fine\\u202egnp.exe" in out  # no forged row
    assert len(out.splitlines()) == 4  # the count, the header, one row, its description


def test_a_replay_and_its_dry_run_and_prompt_show_escape_sequences_as_text(store, capsys):
    _, dry = dead_letters(store, capsys, "replay", "--all", "--dry-run")
    _, asked = dead_letters(store, capsys, "replay", "--id", EVENT_ID, stdin=Terminal("y\n"))

    for out in (dry, asked):
        assert acted_on(out) == []
        assert "evt-\\x1b]0;owned\\x07" in out
    assert "replayed 1 of 1: evt-\\x1b]0;owned\\x07 (message msg-\\x9b31m, Bad\\x1b" in asked


def test_a_dead_letters_listing_as_json_keeps_every_character_as_json_escapes(store, capsys):
    _, out = dead_letters(store, capsys, "list", "--output", "json", stdout=io.StringIO())

    assert acted_on(out) == []
    (letter,) = json.loads(out)["dead_letters"]
    assert (letter["event_id"], letter["reason"]) == (EVENT_ID, REASON)
    assert (letter["description"], letter["id"]) == (DESCRIPTION, MESSAGE_ID)


@pytest.fixture
def hostile_tag_world(tmp_path):
    document = ready_document()
    document["clusters"][0]["tags"]["azureml-attach"] = f"ws-research,{TAG_ENTRY}"
    return str(write_json(tmp_path / "world.json", document))


@pytest.mark.parametrize(
    "command",
    [["plan"], ["status", "--run-events"], ["reconcile"]],
    ids=["plan", "status", "reconcile"],
)
def test_a_tag_value_with_escape_sequences_is_shown_as_text_by_plan_status_and_reconcile(
    run_cli, hostile_tag_world, command
):
    code, out, err = run_cli(*command, "--world", hostile_tag_world, "--cluster", AKS_ML)

    assert code == 0
    assert "ws-\\x1b]0;owned\\x07typo\\u202e" in out  # the refused entry, named visibly
    assert acted_on(out + err) == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, résumé, 東京", "plain text, résumé, 東京"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("tab\tnew\nline\rnul\x00del\x7f", "tab\\tnew\\nline\\rnul\\x00del\\x7f"),
        ("c1\x9b\x85", "c1\\x9b\\x85"),
        ("bidi\u202eflip\u2066\u2028", "bidi\\u202eflip\\u2066\\u2028"),
    ],
)
def test_printable_shows_control_characters_as_escapes_and_leaves_other_text_alone(text, shown):
    assert printable(text) == shown


def test_printable_can_keep_line_breaks_for_a_report_of_several_lines():
    assert printable("one\x1b[2J\ntwo", keep_newlines=True) == "one\\x1b[2J\ntwo"


def test_a_dead_letters_listing_as_yaml_shows_no_control_character_and_reads_back_the_same(
    store, capsys
):
    import yaml

    _, out = dead_letters(store, capsys, "list", "--output", "yaml", stdout=io.StringIO())

    assert acted_on(out) == []
    (letter,) = yaml.safe_load(out)["dead_letters"]
    assert (letter["event_id"], letter["reason"]) == (EVENT_ID, REASON)
    assert letter["description"] == DESCRIPTION
