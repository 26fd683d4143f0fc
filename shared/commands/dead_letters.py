"""``autoattach dead-letters``: look at what autoattach could not handle, and replay it."""

from __future__ import annotations

import argparse
import json
import os
import sys

from shared.adapters.dead_letters import DeadLetter
from shared.ports import DeadLetterQueues
from shared.settings import (
    DEFAULT_CLUSTER_EVENTS_QUEUE,
    DEFAULT_EXTENSION_EVENTS_QUEUE,
    SERVICEBUS_NAMESPACE,
)

DEAD_LETTERS_HELP = """\
Look at the messages autoattach could not handle, and send them back once the cause is fixed.
Each dead letter carries a reason (MalformedEvent, AttachFailed, RecheckLimitReached, an ARM
error code, or MaxDeliveryCountExceeded after repeated crashes) and a description of what to fix.
Replaying is safe: autoattach reconciles the cluster from what Azure says now.

Signs in with your Azure CLI login or environment (DefaultAzureCredential); you need Azure Service
Bus Data Receiver and Data Sender on the queue."""


def register(commands: argparse._SubParsersAction) -> None:
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


def run(args: argparse.Namespace) -> int:
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
