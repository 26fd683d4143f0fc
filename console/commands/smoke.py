"""``autoattach smoke``: the first-deployment check, against a real subscription or the sandbox."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console.output import add_output, render
from console.smoke.run import SmokeRefused, new_run_id
from console.smoke.site import GROUP_MARK, PREFIX, RUN_MARK
from console.text import printable

EXIT_NOT_OK = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

SMOKE_HELP = f"""\
Check a first deployment end to end in a resource group made for it, and probe what the local
Azure double guesses about Azure (docs/first-deployment.md, section 9).

It drives the deployed app only through Azure: it tags the cluster with the workspace, installs
the Azure ML extension when the cluster has none and the policy does not install it, waits for the
app's managed namespace, attach, grants and notice, untags, and waits for the detach and the
revocation, timing each step beside the floor Azure's own operation set. Around the cycle, each
guess the product depends on is probed with the smallest safe request (a compute of its own, a
managed namespace, a role assignment, Reader for you timed until it is among your permissions,
reads), and the answer is set beside what the double assumes.

Safety: it starts only in a resource group tagged {GROUP_MARK} (anything as value), with the
cluster and workspace in it; what it makes is named {PREFIX}<run id>... and tagged
{RUN_MARK}=<run id> (role assignments: described as a smoke run), and removed again and read
back on any exit, Ctrl-C included; a run first removes what an earlier run left.

Against Azure: signed in with DefaultAzureCredential (`az login`, as someone who may create role
assignments in the group), the app's settings read from the app (--app ID, or the app azd
deployed), from --settings FILE, or from the environment, as for the other commands. With
--world FILE: against the local double, with the group, cluster and workspace the doc's commands
would make added to that world; there every guess must agree.

Exit status: 0 every step ok, every guess agrees, nothing left; 1 otherwise; 2 it did not start
(wrong input, or the group is not marked: nothing was written); 130 interrupted (cleaned up)."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "smoke",
        help="first-deployment check: the whole cycle through the app, and the double's guesses",
        description=SMOKE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--world", type=Path, metavar="FILE", help="run against the sandbox")
    parser.add_argument("--resource-group", metavar="ID", help="the marked resource group's id")
    parser.add_argument("--cluster", metavar="ID", help="the AKS cluster made for the run")
    parser.add_argument("--workspace", metavar="ID", help="the workspace made for the run")
    parser.add_argument(
        "--app",
        metavar="ID",
        help="the deployed Function App's resource id: its settings are read through ARM "
        '(default after `eval "$(azd env get-values)"`: the app azd deployed)',
    )
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the Function App's settings as JSON (`az functionapp config appsettings list -o "
        "json`) instead of --app or the environment",
    )
    add_output(parser, document="one object with guesses, steps, cleanup (and sandbox)")
    parser.add_argument(
        "--write-world",
        type=Path,
        metavar="FILE",
        help="also write the observed guesses as world settings the double loads",
    )
    parser.add_argument(
        "--poll", type=float, default=10.0, metavar="S", help="seconds between reads (10)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="S", help="longest wait per step (1800)"
    )


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"autoattach smoke: {printable(message, keep_newlines=True)}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if args.poll <= 0 or args.timeout <= 0:
        return _fail("--poll and --timeout must be positive")
    if args.write_world is not None and not args.write_world.resolve().parent.is_dir():
        return _fail(f"--write-world {args.write_world}: not in an existing directory")
    if args.world is not None:
        if args.resource_group or args.cluster or args.workspace or args.settings or args.app:
            return _fail("--world makes its own group, cluster and workspace; give none of them")
        return _in_sandbox(args)
    return _in_azure(args)


def _say(args: argparse.Namespace) -> Any:
    if args.output != "table" or args.query is not None:  # stdout holds the document alone
        return lambda text: print(printable(text, keep_newlines=True), file=sys.stderr, flush=True)
    return lambda text: print(printable(text, keep_newlines=True), flush=True)


def _in_sandbox(args: argparse.Namespace) -> int:
    from console.smoke.rehearsal import Rehearsal
    from sandbox.scenario import ScenarioError, read_json
    from sandbox.world import WorldError
    from shared.decisions.policy import PolicyError

    try:
        document = read_json(args.world, "world file")
        rehearsal = Rehearsal(document, str(args.world))
    except (ScenarioError, WorldError, ValueError) as error:
        return _fail(str(error))
    try:
        with rehearsal:
            site = rehearsal.site(
                new_run_id(), poll=args.poll, timeout=args.timeout, say=_say(args)
            )
            sandbox = rehearsal.sandbox
            return _report(
                args,
                site,
                f"sandbox world {args.world}",
                lambda: {"arm": sandbox.arm.split_counts, "contracts": sandbox.arm.contracts},
            )
    except (PolicyError, WorldError) as error:
        return _fail(f"{args.world}: {error}")


def _in_azure(args: argparse.Namespace) -> int:
    missing = [
        o
        for o, v in (
            ("--resource-group", args.resource_group),
            ("--cluster", args.cluster),
            ("--workspace", args.workspace),
        )
        if not v
    ]
    if missing:
        return _fail(f"against Azure it needs {', '.join(missing)} (or --world FILE)")
    from console.commands.target import AzureFailed, Target, WrongInput, app_environment
    from console.signin import azure_credential, require_sign_in, resource_scope
    from console.smoke.azure import Arm, RealClock
    from console.smoke.site import Site
    from sandbox.world import World
    from shared.adapters.arm import ArmConnection
    from shared.decisions.policy import PolicyError
    from shared.settings import Settings, SettingsError
    from shared.wiring import build_app

    try:
        env, source = app_environment(args)
        settings = Settings.from_environment(env)
    except (WrongInput, SettingsError) as error:
        return _fail(f"the app's settings: {error}")
    except AzureFailed as error:
        return _fail(f"reading the app's settings: {error}", EXIT_NOT_OK)
    credential = azure_credential()  # you, not the app: `az login`
    require_sign_in(credential, resource_scope(settings.arm_endpoint))  # NotSignedIn: cli.main
    try:
        app = build_app(settings, credential)
    except (SettingsError, PolicyError) as error:
        return _fail(f"the app's settings (from {source}): {error}")
    group = args.resource_group.rstrip("/")
    parts = group.split("/")
    if len(parts) != 5 or parts[1].lower() != "subscriptions":
        return _fail(
            f"--resource-group {group}: expected /subscriptions/<id>/resourceGroups/<name>"
        )
    site = Site(
        arm=Arm(ArmConnection(credential, endpoint=settings.arm_endpoint), parts[2]),
        clock=RealClock(),
        run_id=new_run_id(),
        resource_group=group,
        cluster=args.cluster.rstrip("/"),
        workspace=args.workspace.rstrip("/"),
        world=World(),  # the double's defaults: what a sandbox run assumes
        tag_key=settings.tag_key,
        poll=args.poll,
        timeout=args.timeout,
        say=_say(args),
        status=Target(app),
        policy=app.services.policy,
    )
    return _report(args, site, "Azure")


def _report(args: argparse.Namespace, site: Any, where: str, double: Any = None) -> int:
    """Run, print the report; ``double``: the sandbox's request counts and contract summary
    (the JSON's ``sandbox`` key)."""
    from console.smoke import report
    from console.smoke.run import run as run_smoke

    try:
        result = run_smoke(site)
    except SmokeRefused as error:
        return _fail(f"not started: {error}")
    document = report.as_json(result, site.world, where=where)
    if double is not None:
        document["sandbox"] = double()
    text = render(document, args.output, args.query, report.as_table)
    if text is not None:
        print(text)
    if args.write_world is not None:
        written = report.write_world(result, args.write_world)
        print(
            f"autoattach smoke: wrote {len(written)} world setting(s) to {args.write_world}",
            file=sys.stderr,
        )
    if result.interrupted:
        return EXIT_INTERRUPTED
    return 0 if result.ok else EXIT_NOT_OK
