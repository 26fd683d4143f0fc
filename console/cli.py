"""The ``autoattach`` console command."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

from console.commands import completion, dead_letters, doctor, plan, reconcile, smoke, status
from console.commands import policy as policy_command
from console.output import add_output, render
from console.text import printable

# Each subcommand's module: ``register(commands)`` adds its parser; ``run(args)`` does the work.
COMMANDS: dict[str, ModuleType] = {
    "dead-letters": dead_letters,
    "policy": policy_command,
    "plan": plan,
    "status": status,
    "reconcile": reconcile,
    "doctor": doctor,
    "smoke": smoke,
    "completion": completion,
}

DESCRIPTION = """\
autoattach makes tagged AKS and Arc clusters usable as Azure Machine Learning compute.

The Functions app does the work in Azure; this command runs the same code locally."""

SANDBOX_HELP = """\
Start the local Azure double (ARM, Event Grid topic, Service Bus queues; HTTPS on loopback with
a throwaway CA), deliver ARM events through the queue double to the real Functions triggers,
and print what happened step by step. Nothing calls Azure. Time is virtual: re-checks
scheduled minutes ahead run at once.

Without --world, runs the built-in demo world. See docs/sandbox.md for the file formats."""


class Parser(argparse.ArgumentParser):
    """An option a subcommand does not know is that subcommand's error, with its usage (plain
    argparse hands unknown options up to the top parser, which prints only its own usage)."""

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="autoattach", description=DESCRIPTION)
    parser.add_argument(
        "--version", action="version", version=f"autoattach {_version()}", help="print the version"
    )
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
    add_output(
        sandbox,
        document="one object: events (each delivery's queue, event, outcome, reason), world "
        "(its notifications among it), requests, passes, contracts",
    )
    sandbox.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        help="same as --output json",
    )
    sandbox.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help="keep the queues between commands: start with the messages and dead letters kept in "
        "DIR, write them back at the end (`autoattach dead-letters ... --state DIR` works on them; "
        "docs/sandbox.md)",
    )
    sandbox.add_argument(
        "--notices",
        type=Path,
        metavar="FILE",
        help="also write the notices published during the run to FILE as CloudEvents JSON lines "
        "(one structured-mode CloudEvent per line, as sent to the topic), to test a subscriber "
        "against (docs/notifications.md)",
    )
    sandbox.add_argument(
        "--least-privilege",
        action="store_true",
        help="ARM authorizes every request of autoattach against exactly the roles infra/ "
        "grants it (the custom roles and scopes of docs/deploy.md); a refusal shows as ARM "
        "shows it: 403 AuthorizationFailed, naming the action and scope",
    )
    for command in COMMANDS.values():
        command.register(commands)
    return parser


def _version() -> str:
    """The console's version, which is the Function App version it is made for: both come from
    shared.__version__ (one place, read by pyproject.toml too)."""
    from shared import __version__

    return f"{__version__} (for autoattach Function App {__version__})"


def main(argv: list[str] | None = None) -> int:
    from console.commands.target import AzureFailed
    from console.signin import EXIT_NOT_SIGNED_IN, NotSignedIn

    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        return run_sandbox(args)
    try:
        return COMMANDS[args.command].run(args)
    except NotSignedIn as error:
        print(f"autoattach {args.command}: {printable(error)}", file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    except AzureFailed as error:
        print(f"autoattach {args.command}: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return 1


def run_sandbox(args: argparse.Namespace) -> int:
    from sandbox.report import describe_delivery, describe_world, json_report, notices_jsonl
    from sandbox.runner import Delivery, Sandbox
    from sandbox.scenario import (
        Scenario,
        ScenarioError,
        events_for_world,
        parse_steps,
        read_json,
        split_world_file,
    )
    from sandbox.state import StateError, carry_into, save
    from sandbox.world import WorldError
    from shared.decisions.policy import PolicyError
    from shared.settings import SettingsError

    if args.repeat < 1:
        print("autoattach sandbox: --repeat must be at least 1", file=sys.stderr)
        return 2
    if args.notices is not None and not _writable_file(args.notices):
        print(
            f"autoattach sandbox: --notices {args.notices}: not a file in an existing directory",
            file=sys.stderr,
        )
        return 2
    try:
        if args.world is None:
            text = resources.files("sandbox").joinpath("demo_world.json").read_text()
            document, where = json.loads(text), "built-in demo world"
        else:
            document, where = read_json(args.world, "world file"), str(args.world)
        world, policy, tag_key = split_world_file(document, where)
        if args.least_privilege:
            from sandbox.least_privilege import with_deployment_grants

            world = with_deployment_grants(world, policy)
        if args.events is None and args.world is None:
            text = resources.files("sandbox").joinpath("demo_events.json").read_text()
            steps = parse_steps(json.loads(text), "built-in demo events")
        elif args.events is None:
            steps = parse_steps(events_for_world(world), "generated events")
        else:
            steps = parse_steps(read_json(args.events, "events file"), str(args.events))
        scenario = Scenario(world=world, policy=policy, steps=steps, tag_key=tag_key)
        table = args.output == "table" and args.query is None

        def printer(delivery: Delivery) -> None:
            print(printable(describe_delivery(delivery), keep_newlines=True), flush=True)

        with Sandbox(scenario, on_delivery=printer if table else None) as sandbox:
            if args.state is not None:
                carry_into(sandbox.bus, args.state)
            passes = []
            for index in range(args.repeat):
                if table:
                    print(f"Pass {index + 1} of {args.repeat} ({where}):", flush=True)
                passes.append(sandbox.run_pass(index))
            if args.state is not None:
                save(sandbox.bus, sandbox.clock, args.state)
            if args.notices is not None:
                try:
                    args.notices.write_text(notices_jsonl(sandbox), encoding="utf-8")
                except OSError as error:
                    print(f"autoattach sandbox: --notices {args.notices}: {error}", file=sys.stderr)
                    return 2
            if table:
                print(printable(describe_world(sandbox, passes), keep_newlines=True))
            else:
                shown = render(json_report(sandbox, passes), args.output, args.query)
                if shown is not None:
                    print(shown)
    except (ScenarioError, WorldError, PolicyError, SettingsError, StateError) as error:
        print(f"autoattach sandbox: {printable(error)}", file=sys.stderr)
        return 2
    return 0


def _writable_file(path: Path) -> bool:
    """Checked before the run, so a mistyped path costs no sandbox run."""
    return not path.is_dir() and path.resolve().parent.is_dir()


if __name__ == "__main__":
    raise SystemExit(main())
