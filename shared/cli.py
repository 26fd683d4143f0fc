"""The ``autoattach`` console command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path

from shared.adapters.dead_letters import DeadLetter
from shared.ports import DeadLetterQueues
from shared.settings import (
    DEFAULT_CLUSTER_EVENTS_QUEUE,
    DEFAULT_EXTENSION_EVENTS_QUEUE,
    SERVICEBUS_NAMESPACE,
)

DESCRIPTION = """\
autoattach makes tagged AKS and Arc clusters usable as Azure Machine Learning compute.

The Functions app does the work in Azure; this command runs the same code locally."""

SANDBOX_HELP = """\
Start the local Azure double (ARM, Event Grid topic, Service Bus queues; HTTPS on loopback with
a throwaway CA), deliver ARM events through the queue double to the real Functions triggers,
and print what happened step by step. Nothing calls Azure. Time is virtual: re-checks
scheduled minutes ahead run at once.

Without --world, runs the built-in demo world. See docs/sandbox.md for the file formats."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autoattach", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sandbox = commands.add_parser(
        "sandbox",
        help="run the whole pipeline against the local Azure double",
        description=SANDBOX_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sandbox.add_argument(
        "--world",
        type=Path,
        metavar="FILE",
        help="world file: Azure state plus the attach policy (default: the built-in demo)",
    )
    sandbox.add_argument(
        "--events",
        type=Path,
        metavar="FILE",
        help="event stream: timed ARM events and world changes "
        "(default: a write event for every cluster and extension in the world)",
    )
    sandbox.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="deliver the event stream N times, 25 virtual hours apart (default 1)",
    )
    sandbox.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the account"
    )
    add_dead_letter_commands(commands)
    return parser


DEAD_LETTERS_HELP = """\
Look at the messages autoattach could not handle, and send them back once the cause is fixed.
Each dead letter carries a reason (MalformedEvent, AttachFailed, RecheckLimitReached, an ARM
error code, or MaxDeliveryCountExceeded after repeated crashes) and a description of what to fix.
Replaying is safe: autoattach reconciles the cluster from what Azure says now.

Signs in with your Azure CLI login or environment (DefaultAzureCredential); you need Azure Service
Bus Data Receiver and Data Sender on the queue."""


def add_dead_letter_commands(commands: argparse._SubParsersAction) -> None:
    dead = commands.add_parser(
        "dead-letters",
        help="list or replay messages autoattach could not handle",
        description=DEAD_LETTERS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("list", "show the dead letters of a queue"), ("replay", "send them back")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--queue",
            required=True,
            choices=[DEFAULT_CLUSTER_EVENTS_QUEUE, DEFAULT_EXTENSION_EVENTS_QUEUE],
            help="which queue's dead letters",
        )
        action.add_argument(
            "--namespace",
            default=os.environ.get(SERVICEBUS_NAMESPACE),
            help="Service Bus namespace, e.g. sb-autoattach.servicebus.windows.net "
            f"(default: ${SERVICEBUS_NAMESPACE})",
        )
        if name == "list":
            action.add_argument("--json", action="store_true", help="print JSON")
        else:
            which = action.add_mutually_exclusive_group(required=True)
            which.add_argument(
                "--id",
                action="append",
                dest="ids",
                metavar="ID",
                help="replay this one (its event id or its message id)",
            )
            which.add_argument("--all", action="store_true", help="replay every dead letter")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        return run_sandbox(args)
    if not args.namespace:
        print(
            f"autoattach dead-letters: give --namespace or set {SERVICEBUS_NAMESPACE}",
            file=sys.stderr,
        )
        return 2
    from shared.wiring import operator_dead_letters

    return run_dead_letters(args, operator_dead_letters(args.namespace))


def run_dead_letters(args: argparse.Namespace, store: DeadLetterQueues) -> int:
    from shared.errors import AutoattachError

    try:
        if args.action == "list":
            letters = store.peek(args.queue)
            if args.json:
                print(json.dumps([_letter_json(letter) for letter in letters], indent=2))
            elif not letters:
                print(f"no dead letters on {args.queue}")
            for letter in [] if args.json else letters:
                print(
                    f"{letter.event_id or letter.message_id}  {letter.enqueued_at}  {letter.reason}"
                    f"  (message {letter.message_id})"
                )
                print(f"    {letter.description}")
            return 0
        replayed = store.replay(args.queue, None if args.all else args.ids)
    except AutoattachError as error:
        print(f"autoattach dead-letters: {error}", file=sys.stderr)
        return 1
    for message_id in replayed:
        print(f"replayed {message_id} to {args.queue}")
    missing = sorted(set(args.ids or []) - set(replayed))
    for message_id in missing:
        print(f"no dead letter {message_id} on {args.queue}", file=sys.stderr)
    return 1 if missing else 0


def _letter_json(letter: DeadLetter) -> dict[str, str]:
    return {
        "id": letter.message_id,
        "event_id": letter.event_id,
        "reason": letter.reason,
        "description": letter.description,
        "enqueued_at": letter.enqueued_at,
        "body": letter.body.decode("utf-8", errors="replace"),
    }


def run_sandbox(args: argparse.Namespace) -> int:
    from sandbox.report import describe_delivery, describe_world, json_report
    from sandbox.runner import Sandbox
    from sandbox.scenario import (
        Scenario,
        ScenarioError,
        events_for_world,
        parse_steps,
        read_json,
        split_world_file,
    )
    from sandbox.world import WorldError
    from shared.policy import PolicyError
    from shared.settings import SettingsError

    if args.repeat < 1:
        print("autoattach sandbox: --repeat must be at least 1", file=sys.stderr)
        return 2
    try:
        if args.world is None:
            text = resources.files("sandbox").joinpath("demo_world.json").read_text()
            document, where = json.loads(text), "built-in demo world"
        else:
            document, where = read_json(args.world, "world file"), str(args.world)
        world, policy, tag_key = split_world_file(document, where)
        if args.events is None and args.world is None:
            text = resources.files("sandbox").joinpath("demo_events.json").read_text()
            steps = parse_steps(json.loads(text), "built-in demo events")
        elif args.events is None:
            steps = parse_steps(events_for_world(world), "generated events")
        else:
            steps = parse_steps(read_json(args.events, "events file"), str(args.events))
        scenario = Scenario(world=world, policy=policy, steps=steps, tag_key=tag_key)
        printer = None if args.json else (lambda d: print(describe_delivery(d), flush=True))
        with Sandbox(scenario, on_delivery=printer) as sandbox:
            passes = []
            for index in range(args.repeat):
                if not args.json:
                    print(f"Pass {index + 1} of {args.repeat} ({where}):", flush=True)
                passes.append(sandbox.run_pass(index))
            if args.json:
                print(json.dumps(json_report(sandbox, passes), indent=2))
            else:
                print(describe_world(sandbox, passes))
    except (ScenarioError, WorldError, PolicyError, SettingsError) as error:
        print(f"autoattach sandbox: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
