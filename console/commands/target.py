"""Where ``autoattach plan``, ``status`` and ``reconcile`` look: Azure, or a sandbox world.

In Azure: the deployed app's own settings (console.app_settings: --app ID through ARM, --settings
FILE, or the environment), signed in with DefaultAzureCredential (your Azure CLI login, or the
environment), wired exactly as the Functions app is (shared.wiring).

In the sandbox (``--world FILE`` or ``--demo``): the local Azure double starts with that world and
the app is wired to it, without delivering the world's events, unless ``--run-events`` asks to
deliver them first (as ``autoattach sandbox`` would, quietly). Nothing calls Azure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.credentials import TokenCredential

from shared.decisions.arm_id import (
    CONNECTED_CLUSTER,
    MANAGED_CLUSTER,
    InvalidResourceId,
    ResourceId,
)
from shared.decisions.errors import AutoattachError
from shared.decisions.policy import PolicyError
from shared.settings import Settings, SettingsError
from shared.wiring import App, build_app

if TYPE_CHECKING:
    from sandbox.runner import Sandbox

WHERE_HELP = """\
Where: in Azure by default, signed in as you (DefaultAzureCredential: `az login`, or the
environment), with the deployed app's own settings:
read through ARM from --app ID (the Function App's resource id; after `eval "$(azd env
get-values)"`, the app azd deployed), or from --settings FILE (`az functionapp config
appsettings list -o json`), else from the environment (the names the Function App reads; a
read-only command needs only the policy and the app's storage; docs/operations.md). With --world
FILE (or --demo) against the local Azure double instead: nothing calls Azure."""


class WrongInput(ValueError):
    """Input the command cannot use; the message names the option, file, setting or id."""


class AzureFailed(Exception):
    """Azure failed before the command could start (reading the app's settings)."""


@dataclass
class Target:
    """The app wired to Azure or to a sandbox (then ``sandbox`` is the running double)."""

    app: App
    sandbox: Sandbox | None = None
    credential: TokenCredential | None = None

    def lister(self, subscription: str, resource_type: str) -> list[ResourceId]:
        """The ids of a subscription's resources of one type (ARM's resource list)."""
        from console.doctor.reads import DoctorReads
        from sandbox.credential import SandboxCredential
        from shared.adapters.arm import ArmConnection

        credential = self.credential or SandboxCredential()
        arm = ArmConnection(credential, self.app.settings.arm_endpoint)
        try:
            return DoctorReads(arm).in_subscription(subscription, resource_type)
        except AutoattachError as error:
            raise AzureFailed(str(error)) from None

    def reset_counts(self) -> None:
        if self.sandbox is not None:
            self.sandbox.arm.reset_counts()

    def arm_counts(self) -> dict[str, int] | None:
        """ARM requests since the last reset (sandbox only): reads, polls, writes."""
        if self.sandbox is None:
            return None
        counts = self.sandbox.arm.split_counts
        return {k: counts[k] for k in ("reads", "polls", "writes")}


def add_where(parser: argparse.ArgumentParser) -> None:
    """The options choosing Azure or a sandbox world."""
    world = parser.add_mutually_exclusive_group()
    world.add_argument(
        "--world",
        type=Path,
        metavar="FILE",
        help="run against the local Azure double started with this world file (Azure state plus "
        "the attach policy; docs/sandbox.md) instead of Azure",
    )
    world.add_argument(
        "--demo", action="store_true", help="run against the sandbox's built-in demo world"
    )
    world.add_argument(
        "--app",
        metavar="ID",
        help="the deployed Function App's resource id: its settings are read through ARM "
        '(default after `eval "$(azd env get-values)"`: the app azd deployed)',
    )
    world.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the deployed Function App's settings as JSON (`az functionapp config appsettings "
        "list -o json`, or a local.settings.json) instead of the environment",
    )
    parser.add_argument(
        "--run-events",
        action="store_true",
        help="with --world/--demo: first deliver the world's events (the demo's, or a write event "
        "per cluster and extension), as `autoattach sandbox` does, quietly; then look",
    )
    parser.add_argument(
        "--events",
        type=Path,
        metavar="FILE",
        help="with --world/--demo: deliver this event stream first (implies --run-events)",
    )


def add_cluster(parser: argparse.ArgumentParser) -> None:
    """The required ``--cluster NAME_OR_ID`` of the commands about one cluster."""
    parser.add_argument(
        "--cluster",
        required=True,
        metavar="CLUSTER",
        help="the AKS or Arc cluster: its resource id (/subscriptions/.../managedClusters/NAME) "
        "or its name (looked up in the watched subscriptions and the workspaces'; an ambiguous "
        "name asks for the id)",
    )


def in_sandbox(args: argparse.Namespace) -> bool:
    return args.world is not None or bool(args.demo)


def bad_id(option: str, text: str, error: InvalidResourceId) -> str:
    """``--option 'text': why`` once: the parser's reason without the text it repeats."""
    reason = str(error).removesuffix(f": {text!r}").removesuffix(f": {text.strip()!r}")
    return f"{option} {text!r}: {reason}"


def cluster_id(text: str, option: str = "--cluster") -> ResourceId | str:
    """An AKS or Arc cluster's ARM id, or its bare name (looked up later: ``resolve_cluster``);
    WrongInput naming the option for anything else."""
    text = text.strip()
    if text and not text.startswith("/") and "/" not in text:
        return text
    try:
        parsed = ResourceId.parse(text)
        kind = parsed.resource_type
    except InvalidResourceId as error:
        raise WrongInput(bad_id(option, text, error)) from None
    if kind not in (MANAGED_CLUSTER, CONNECTED_CLUSTER):
        raise WrongInput(
            f"{option} {text}: not a cluster (expected a {MANAGED_CLUSTER} or "
            f"{CONNECTED_CLUSTER} resource id, or a cluster's name)"
        )
    return parsed


CLUSTER_TYPES = (
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.Kubernetes/connectedClusters",
)


def resolve_cluster(
    target: Target, cluster: ResourceId | str, option: str = "--cluster"
) -> ResourceId:
    """The cluster's id: as given, or the one cluster of that name in the subscriptions
    autoattach looks at (the sweep's and the policy's workspaces'). WrongInput when none or
    several have it."""
    if isinstance(cluster, ResourceId):
        return cluster
    settings = target.app.settings
    subscriptions = list(
        dict.fromkeys(
            s.lower()
            for s in (
                *settings.sweep_subscriptions,
                *(r.workspace_id.subscription for r in target.app.services.policy.workspaces),
            )
        )
    )
    return find_cluster(cluster, subscriptions, target.lister, option)


def find_cluster(
    name: str,
    subscriptions: list[str],
    lister: Callable[[str, str], list[ResourceId]],
    option: str = "--cluster",
) -> ResourceId:
    """The one cluster named ``name`` (case-insensitively, as ARM compares names) among the
    clusters ``lister(subscription, type)`` lists; WrongInput when none or several."""
    found = [
        c
        for s in subscriptions
        for kind in CLUSTER_TYPES
        for c in lister(s, kind)
        if c.name.lower() == name.lower()
    ]
    found = sorted({c.key: c for c in found}.values(), key=lambda c: c.key)
    if len(found) == 1:
        return found[0]
    where = ", ".join(subscriptions) or "none"
    if not found:
        raise WrongInput(
            f"{option} {name}: no AKS or Arc cluster has that name in the subscriptions "
            f"autoattach looks at ({where}); give its resource id"
        )
    raise WrongInput(
        f"{option} {name}: {len(found)} clusters have that name "
        f"({', '.join(c.raw for c in found)}); give the resource id of the one you mean"
    )


@contextmanager
def opened(args: argparse.Namespace, *, sends: bool = False) -> Iterator[Target]:
    """The app, wired where the arguments say; WrongInput for a file or setting it cannot use.
    ``sends``: the command sends on Service Bus (needs the namespace); read-only ones do not."""
    if in_sandbox(args):
        with _sandbox(args) as target:
            yield target
        return
    if args.run_events or args.events is not None:
        raise WrongInput("--run-events and --events need --world FILE or --demo (the sandbox)")
    from console.app_settings import POINT_AT_THE_APP, deployed
    from console.signin import require_sign_in, resource_scope

    try:
        app_settings = deployed(args.settings, args.app, sends=sends)
    except ValueError as error:
        raise WrongInput(str(error)) from None
    except AutoattachError as error:
        raise AzureFailed(str(error)) from None
    source = app_settings.source
    try:
        settings = Settings.from_environment(app_settings.env)
    except SettingsError as error:
        raise WrongInput(f"{error} (read from {source}): {POINT_AT_THE_APP}") from None
    credential = app_settings.credential
    require_sign_in(credential, resource_scope(settings.arm_endpoint))  # NotSignedIn: cli.main
    try:
        app = build_app(settings, credential, scheduler=None if sends else _NoScheduler())
    except (SettingsError, PolicyError) as error:
        raise WrongInput(f"{error} (the app's settings, read from {source})") from None
    yield Target(app, credential=credential)


def app_environment(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """The deployed app's settings exactly as found (--settings FILE, --app ID, the environment,
    or the app azd names), without the console's defaults, and where they came from."""
    from console.app_settings import deployed

    try:
        found = deployed(
            getattr(args, "settings", None),
            getattr(args, "app", None),
            sends=True,
            as_deployed=True,
        )
    except ValueError as error:
        raise WrongInput(str(error)) from None
    except AutoattachError as error:
        raise AzureFailed(str(error)) from None
    return found.env, found.source


class _NoScheduler:
    """A read-only command's app: it never sends on Service Bus."""

    def schedule(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a read-only command never sends")

    def schedule_all(self, *args: Any, **kwargs: Any) -> int:
        raise AssertionError("a read-only command never sends")

    def now(self) -> datetime:
        return datetime.now(UTC)


@contextmanager
def _sandbox(args: argparse.Namespace) -> Iterator[Target]:
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

    try:
        document, where = _world_document(args)
        world, policy, tag_key = split_world_file(document, where)
        steps: tuple[Any, ...] = ()
        if args.events is not None:
            steps = parse_steps(read_json(args.events, "events file"), str(args.events))
        elif args.run_events and args.world is None:
            text = resources.files("sandbox").joinpath("demo_events.json").read_text()
            steps = parse_steps(json.loads(text), "built-in demo events")
        elif args.run_events:
            steps = parse_steps(events_for_world(world), "generated events")
        scenario = Scenario(world=world, policy=policy, steps=steps, tag_key=tag_key)
        sandbox = Sandbox(scenario)
    except (ScenarioError, WorldError) as error:
        raise WrongInput(str(error)) from None
    try:
        entered = sandbox.__enter__()
    except (PolicyError, SettingsError) as error:
        sandbox.__exit__(None, None, None)
        raise WrongInput(f"{where}: {error}") from None
    try:
        if steps:
            entered.run_pass(0)
        target = Target(entered.app, entered)
        target.reset_counts()
        yield target
    finally:
        sandbox.__exit__(*sys.exc_info())


def _world_document(args: argparse.Namespace) -> tuple[Any, str]:
    from sandbox.scenario import read_json

    if args.world is None:
        text = resources.files("sandbox").joinpath("demo_world.json").read_text()
        return json.loads(text), "built-in demo world"
    return read_json(args.world, "world file"), str(args.world)


def counts_line(target: Target) -> str:
    """In the sandbox: a last line with the ARM requests the command made; else nothing."""
    counts = target.arm_counts()
    if counts is None:
        return ""
    return (
        f"\nARM requests (sandbox): {counts['reads']} reads, {counts['polls']} polls, "
        f"{counts['writes']} writes"
    )
