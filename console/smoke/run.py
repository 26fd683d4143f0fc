"""One smoke run, in order, with its cleanup on every exit.

1. Preflight, before any write: the resource group exists and carries the ``autoattach-smoke``
   tag; the cluster and the workspace are in it; the app's policy allows that workspace there.
2. Remove what earlier runs left (cleanup.py).
3. Probes that need no extension (reads; an attach before the extension; managed namespaces).
4. The cycle's first half: tag, extension, namespace, attach, grants, notice.
5. Probes that need the extension (a compute of the run's own, role assignments, a long name).
6. The cycle's second half: untag, detach, revoke, notice.
7. Always (an error, Ctrl-C or SIGTERM included): cleanup, read back.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from console.smoke import cleanup, probes
from console.smoke.cycle import (
    FLOOR_PATHS,
    Cycle,
    CycleRefused,
    Expected,
    Step,
    azureml_extensions,
    expected,
)
from console.smoke.guesses import GUESSES, NOT_PROBED, Observation, assumed, observe
from console.smoke.site import API, GROUP_MARK, Site


class SmokeRefused(Exception):
    """The run will not start here (nothing was written); the message says why and what to do."""


def new_run_id() -> str:
    return secrets.token_hex(3)  # 6 hex: names stay within Azure ML's 16 characters


@dataclass
class Result:
    run_id: str
    resource_group: str
    cluster: str
    workspace: str
    guesses: list[Observation] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    earlier: cleanup.Sweep | None = None
    final: cleanup.Sweep | None = None
    interrupted: bool = False
    error: str | None = None
    requests: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.interrupted
            and all(s.ok for s in self.steps)
            and all(g.agrees is not False for g in self.guesses)
            and self.final is not None
            and self.final.clean
            and not self.final.problems
        )


def preflight(site: Site) -> None:
    """Refuse to start unless the resource group is marked and holds what the user named."""
    group = site.arm.get(site.resource_group, API["group"])
    if group.status == 404:
        raise SmokeRefused(f"resource group {site.resource_group} does not exist")
    if not group.ok:
        raise SmokeRefused(f"cannot read resource group {site.resource_group}: {group.summary()}")
    tags = (group.body or {}).get("tags") or {}
    if not any(k.lower() == GROUP_MARK for k in tags):
        name = site.resource_group.rsplit("/", 1)[-1]
        raise SmokeRefused(
            f"resource group {name} does not carry the tag {GROUP_MARK}: smoke runs only in a "
            f"group made for it (`az group update -n {name} --set tags.{GROUP_MARK}=yes`)"
        )
    prefix = site.resource_group.lower() + "/"
    for what, resource in (("--cluster", site.cluster), ("--workspace", site.workspace)):
        if not resource.lower().startswith(prefix):
            raise SmokeRefused(f"{what} {resource} is not in resource group {site.resource_group}")
    cluster = site.arm.get(site.cluster, site.cluster_api)
    if not cluster.ok:
        raise SmokeRefused(f"cannot read the cluster: {cluster.summary()}")
    site.cluster_location = str((cluster.body or {}).get("location") or "")
    aad = ((cluster.body or {}).get("properties") or {}).get("aadProfile") or {}
    site.azure_rbac = bool(aad.get("enableAzureRBAC"))
    workspace = site.arm.get(site.workspace, API["workspace"])
    if not workspace.ok:
        raise SmokeRefused(f"cannot read the workspace: {workspace.summary()}")
    site.workspace_location = str((workspace.body or {}).get("location") or "")


@contextmanager
def _interrupts_raise() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C does: through the cleanup."""

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _shielded(site: Site) -> Iterator[None]:
    """While cleaning up, Ctrl-C says it is cleaning up instead of stopping it."""

    def hold(_signum: int, _frame: Any) -> None:
        site.say("cleaning up what this run made; one moment (it is read back when done)")

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(site: Site) -> Result:
    result = Result(site.run_id, site.resource_group, site.cluster, site.workspace)
    preflight(site)  # SmokeRefused before anything is written
    try:
        plan = expected(site)
    except CycleRefused as error:
        raise SmokeRefused(str(error)) from None
    cycle = Cycle(site)
    with _interrupts_raise():
        try:
            site.say(f"run {site.run_id} in RG = {site.resource_group}")
            site.say("removing what earlier runs left")
            result.earlier = cleanup.sweep(site, plan.compute)
            _probe_and_cycle(site, plan, cycle, result)
        except KeyboardInterrupt:
            result.interrupted = True
        except Exception as error:  # reported, after the cleanup below
            result.error = f"{type(error).__name__}: {error}"
        finally:
            with _shielded(site):
                site.say("cleaning up")
                result.final = cleanup.sweep(site, plan.compute)
    result.steps = cycle.steps
    _floors(result, cycle)
    result.requests = len(site.arm.sent)
    return result


def _probe_and_cycle(site: Site, plan: Expected, cycle: Cycle, result: Result) -> None:
    site.say("probing: reads")
    result.guesses += probes.reads(site)
    site.say("probing: how long a new role takes to show among your permissions")
    result.guesses += probes.propagation(site)
    if not azureml_extensions(site):
        site.say("probing: an attach before the extension")
        result.guesses += probes.attach_without_extension(site)
    else:
        result.guesses.append(
            observe("attach_failures", site.world, None, "the cluster had the extension already")
        )
    if site.azure_rbac:
        site.say("probing: managed namespaces")
        result.guesses += probes.namespaces(site)
    else:
        for name in ("namespace_create_seconds", "namespace_adoption_never", "namespace_system"):
            why = "the cluster has no Azure RBAC: no managed namespaces"
            result.guesses.append(observe(name, site.world, None, why))
    site.say("cycle: tag, extension, namespace, attach, grants, notice")
    attached = cycle.attach_half(plan)
    result.guesses += cycle.observations
    if any(_installed(e) for e in azureml_extensions(site)):
        site.say("probing: a compute of the run's own, role assignments, a 17-character name")
        result.guesses += probes.attach(site)
        result.guesses += probes.compute_name(site)
    else:
        why = "not probed: the cluster has no Azure ML extension installed (see the steps)"
        for name in AFTER_EXTENSION:
            result.guesses.append(observe(name, site.world, None, why))
    site.say("cycle: untag, detach, revoke, notice")
    if attached or cycle.steps:
        cycle.detach_half(plan)


# The guesses probed on a compute of the run's own, which needs the extension installed.
AFTER_EXTENSION = (
    "compute_principal_on_put",
    "lro_retry_after_seconds",
    "write_compression",
    "operation_status_url",
    "compute_attach_seconds",
    "compute_tags",
    "role_assignment_new_principal",
    "role_assignment_listed_at_once",
    "role_assignment_duplicate",
    "compute_reput",
    "compute_detach_seconds",
    "compute_name_17_characters",
)


def _installed(extension: dict[str, Any]) -> bool:
    state = (extension.get("properties") or {}).get("provisioningState")
    return str(state or "").lower() == "succeeded"


def _floors(result: Result, cycle: Cycle) -> None:
    """Each step's floor (cycle.FLOOR_PATHS): the durations the probes observed, else the
    double's figures; an extension there before the run takes no time."""
    seen = {g.name: g.observed for g in result.guesses if g.observed is not None}

    def duration(name: str) -> float:
        if name == "extension_install_seconds" and cycle.extension_before:
            return 0.0
        value = seen.get(name)
        return float(value if value is not None else assumed(GUESSES[name], None))

    for step in result.steps:
        path = FLOOR_PATHS.get(step.name)
        if path is not None:
            step.floor = sum(max(duration(n) for n in group) for group in path)


def not_probed(world: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "double_assumes": getattr(world, name, None) if world is not None else None,
            "why": why,
        }
        for name, why in NOT_PROBED.items()
    ]
