"""``autoattach doctor``: read-only checks of a deployment, live or against the sandbox."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.doctor.report import EXIT_USAGE, as_json, as_text, exit_code, ok, problem
from console.doctor.run import PRINCIPAL_SETTING, Target, run_checks
from console.output import add_output, render
from console.progress import progress, silent
from console.signin import EXIT_NOT_SIGNED_IN
from console.text import printable
from shared.decisions.arm_id import InvalidResourceId, ResourceId

DOCTOR_HELP = f"""\
Check, without changing anything, that autoattach can do its work: one line per check, "ok",
"problem" (with what to do), "warning" (works, but wider than it should be) or "cannot tell"
(a read failed: usually your own access, or nobody is signed in).

Checks, in order:
  settings       the Function App's settings are all there and well-formed (as at start)
  policy         the attach policy passes the same validation as at start; a warning for each
                 workspace open to a whole subscription's clusters (whoever may tag a cluster
                 there can attach it)
  deployment     autoattach's resource group holds its storage account and Service Bus namespace
  workspaces     every workspace the policy names exists; its container registry and storage
                 account can be read
  permissions    the app's identity holds each role infra/ gives it, at each scope (custom
                 roles by their actions; the role delegator with its ABAC condition), and
                 nothing more; a missing one comes with the `az role assignment create` that
                 fixes it, an extra one with the `az role assignment delete`
  events         per watched subscription: its Event Grid system topic exists and is Succeeded;
                 its event subscriptions deliver to both queues, are Succeeded and carry the
                 deployed filters
  queues         both queues exist with duplicate detection (window >= 1 day), lock duration
                 PT2M and max delivery count 5; how many dead letters each holds
  notifications  the notification topic exists and the app may publish to it
  clusters       each tagged cluster (or --cluster): the tag parses, which entries the policy
                 allows or refuses and why; the Azure ML extension's state; on Arc, the
                 extension's relay and the cluster's connectivity; how namespaces will be made
                 (managed namespaces need Azure RBAC on AKS; a kubeconfig secret must be
                 readable and pass the safety checks); each workspace identity's rights there

Against Azure it signs in with DefaultAzureCredential (e.g. `az login`) and reads the app's
settings from the app itself through ARM (--app ID, the Function App's resource id; after
`eval "$(azd env get-values)"` the app azd deployed), or from --settings FILE (the JSON of
`az functionapp config appsettings list`, or a local.settings.json), else from the environment.
The app identity's principal id and autoattach's resource group come from --principal-id and
--resource-group, else from the azd environment ({PRINCIPAL_SETTING}, AZURE_SUBSCRIPTION_ID
and AZURE_RESOURCE_GROUP); the resource group, else from --app (the app's own).

With --world FILE it starts the local Azure double with that world (no events delivered) and
checks it the same way; the report then counts the double's ARM requests (0 writes).

Exit status: 0 when no check is a problem (warnings do not count), 1 when any is, 2 on wrong
input (a file or id doctor cannot use), 3 when nobody is signed in to Azure. See
docs/first-deployment.md."""


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check a deployment, read-only: settings, rights, events, queues, clusters",
        description=DOCTOR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = doctor.add_mutually_exclusive_group()
    where.add_argument("--world", type=Path, metavar="FILE", help="check a sandbox world")
    where.add_argument(
        "--app",
        metavar="ID",
        help="the deployed Function App's resource id: its settings are read through ARM "
        '(default after `eval "$(azd env get-values)"`: the app azd deployed)',
    )
    where.add_argument(
        "--settings", type=Path, metavar="FILE", help="the Function App's settings as JSON"
    )
    doctor.add_argument("--principal-id", metavar="ID", help="the app identity's principal id")
    doctor.add_argument(
        "--resource-group", metavar="ID", help="autoattach's resource group (full resource id)"
    )
    doctor.add_argument(
        "--cluster", metavar="CLUSTER", help="check only this cluster (its resource id or name)"
    )
    add_output(
        doctor,
        document="{checks: [{area, subject, status, detail, fix}], problems, exit_code} "
        "(and sandbox: the double's request counts)",
        aliases=("text",),
    )


def _fail(message: str) -> int:
    print(f"autoattach doctor: {printable(message, keep_newlines=True)}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    from console.commands.target import WrongInput, cluster_id

    cluster = None
    if args.cluster:
        try:
            cluster = cluster_id(args.cluster)
        except WrongInput as error:
            return _fail(str(error))
    if args.world is not None:
        return _run_in_sandbox(args, cluster)
    from console.app_settings import deployed
    from shared.adapters.dead_letters import ServiceBusDeadLetters
    from shared.adapters.servicebus import ServiceBusLink
    from shared.decisions.errors import AutoattachError

    try:
        found = deployed(args.settings, args.app, sends=False, as_deployed=True)
    except ValueError as error:
        return _fail(str(error))
    except AutoattachError as error:
        print(f"autoattach doctor: {error}", file=sys.stderr)
        return 1
    env = found.env
    group_text = args.resource_group or _group_from_azd(env)
    if group_text is None and found.site is not None:  # autoattach's group holds its app
        site = found.site
        group_text = f"/subscriptions/{site.subscription}/resourceGroups/{site.resource_group}"
    try:
        group = ResourceId.parse(group_text) if group_text else None
    except InvalidResourceId as error:
        return _fail(f"--resource-group: {error}")
    target = Target(
        env=env,
        credential=found.credential,
        principal_id=args.principal_id or env.get(PRINCIPAL_SETTING) or None,
        resource_group=group,
        dead_letters=lambda settings: ServiceBusDeadLetters(
            ServiceBusLink(settings.servicebus_namespace, found.credential)
        ),
        cluster=cluster,
    )
    try:
        with progress("autoattach doctor") as step:
            target.progress = step
            checks = run_checks(target)
    except WrongInput as error:  # a cluster name none or several clusters have
        return _fail(str(error))
    _print(args, checks)
    if signed_out(checks):
        return EXIT_NOT_SIGNED_IN
    return exit_code(checks)


def signed_out(checks: list[Any]) -> bool:
    """Whether doctor could not read Azure because nobody is signed in (run.AZURE_AREAS)."""
    return any(c.subject == "not checked" and "signed in" in c.detail for c in checks)


def _group_from_azd(env: dict[str, str]) -> str | None:
    subscription, group = env.get("AZURE_SUBSCRIPTION_ID"), env.get("AZURE_RESOURCE_GROUP")
    if subscription and group:
        return f"/subscriptions/{subscription}/resourceGroups/{group}"
    return None


def _run_in_sandbox(args: argparse.Namespace, cluster: ResourceId | str | None) -> int:
    from sandbox.scenario import ScenarioError, read_json
    from sandbox.world import WorldError

    try:
        document = read_json(args.world, "world file")
        with progress("autoattach doctor") as step:
            checks, requests = doctor_in_sandbox(document, str(args.world), cluster, step)
    except (ScenarioError, WorldError, ValueError) as error:
        return _fail(str(error))
    counts = requests["arm"]
    _print(
        args,
        checks,
        {"sandbox": requests},
        f"sandbox ARM requests: {counts['reads']} reads, {counts['writes']} writes",
    )
    return exit_code(checks)


def _print(
    args: argparse.Namespace,
    checks: list[Any],
    extra: dict[str, Any] | None = None,
    footer: str = "",
) -> None:
    """The checks in the --output format (table: one line per check), after --query."""
    report = json.loads(as_json(checks)) | (extra or {})
    output = "table" if args.output == "text" else args.output
    text = render(
        report,
        output,
        args.query,
        lambda _: as_text(checks) + (f"\n{footer}" if footer else ""),
    )
    if text is not None:
        print(text)


def doctor_in_sandbox(
    document: Any,
    where: str,
    cluster: ResourceId | str | None = None,
    step: Callable[[str], None] = silent,
) -> tuple[list[Any], dict[str, Any]]:
    """Start the local double with the world (no events), run every check against it; the
    checks and the double's request counts and contract summary."""
    from sandbox.credential import SandboxCredential
    from sandbox.runner import Sandbox
    from sandbox.scenario import Scenario, split_world_file
    from sandbox.servicebus_double import DeadLetterQueues
    from shared.decisions.policy import PolicyError

    world, policy, tag_key = split_world_file(document, where)
    deployment = world.get("autoattach") or {}
    group = deployment.get("resource_group")
    scenario = Scenario(world=world, policy=policy, steps=(), tag_key=tag_key)
    sandbox = Sandbox(scenario)
    try:
        sandbox.__enter__()  # builds the app, which refuses an invalid policy as at start
    except PolicyError as error:
        sandbox.__exit__(None, None, None)
        refused = [
            ok("settings", "app settings", "all present and well-formed"),
            problem(
                "policy",
                "attach policy",
                "; ".join(str(error).splitlines()),
                "fix it (`autoattach policy validate FILE` says the same), then redeploy",
            ),
        ]
        return refused, {"arm": sandbox.arm.split_counts, "contracts": sandbox.arm.contracts}
    try:
        sandbox.arm.reset_counts()
        target = Target(
            env=sandbox.app_settings(),
            credential=SandboxCredential(),
            principal_id=deployment.get("principal_id") or None,
            resource_group=ResourceId.parse(group) if group else None,
            dead_letters=lambda _settings: DeadLetterQueues(sandbox.bus),
            cluster=cluster,
            progress=step,
        )
        checks = run_checks(target)
        counts = sandbox.arm.split_counts
        contracts = sandbox.arm.contracts
    finally:
        sandbox.__exit__(None, None, None)
    return checks, {"arm": counts, "contracts": contracts}
