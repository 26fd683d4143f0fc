"""The whole cycle through the deployed app, driven only through Azure, each step timed.

Tag the cluster; the extension (installed by the app when the policy says ``install``, else by
this run, or already there); the namespace, the attach and the grants the app makes; the notice
it records; untag; the detach and the revocation. The run writes nothing but the cluster's tag and
(when it installs it) an extension of its own; everything else it only reads: ARM for the
namespace, compute and role assignments, the app's ledger for the notices (``autoattach status``
machinery). Each step's time is set beside its floor: what Azure's own operation took when a
probe timed it (or the double's figure), so what the app adds is the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.smoke.azure import Answer, wait_for
from console.smoke.guesses import Observation, observe
from console.smoke.site import API, AZUREML_EXTENSION_TYPE, Site
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import WhenExtensionMissing
from shared.decisions.ownership import SEAL_PREFIX
from shared.decisions.policy import render_compute_name, render_namespace

# Each step's floor, as Azure's own operations set it: the time from the tag (or the untag) that
# the operations it waits for take at the least. Groups add up; within a group, work that can run
# side by side counts once, the longest (the namespace can be made while the extension installs).
FLOOR_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "extension": (("extension_install_seconds",),),
    "namespace": (("namespace_create_seconds",),),
    "attach": (
        ("extension_install_seconds", "namespace_create_seconds"),
        ("compute_attach_seconds",),
    ),
    "detach": (("compute_detach_seconds",),),
}
FLOOR_PATHS["grants"] = FLOOR_PATHS["notice ComputeAttached"] = FLOOR_PATHS["attach"]
FLOOR_PATHS["revoke"] = FLOOR_PATHS["notice ComputeDetached"] = FLOOR_PATHS["detach"]


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float  # how long this step took (from the end of the one before)
    at: float  # when it was done, in seconds from the tag write (the untag, for the second half)
    detail: str
    floor: float | None = None  # the least Azure's own operations allow for ``at``

    def as_json(self) -> dict[str, Any]:
        over = None if self.floor is None else round(self.at - self.floor, 1)
        return {
            "name": self.name,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "at_seconds": round(self.at, 1),
            "floor_seconds": None if self.floor is None else round(self.floor, 1),
            "over_floor_seconds": over,
            "detail": self.detail,
        }


@dataclass
class Expected:
    """What the app's policy says it will make for the run's cluster and workspace."""

    compute: str
    namespace: str
    installs_extension: bool
    extension_name: str


def expected(site: Site) -> Expected:
    policy = site.policy
    cluster, workspace = ResourceId.parse(site.cluster), ResourceId.parse(site.workspace)
    rule = policy.rule_for(workspace) if policy is not None else None
    if rule is None or not rule.allows(cluster):
        raise CycleRefused(
            f"the app's attach policy does not allow workspace {workspace.name} for clusters in "
            f"{ResourceId.parse(site.resource_group).name}: add the entry "
            "docs/first-deployment.md gives, redeploy, and run again"
        )
    template = rule.computes[0]
    return Expected(
        compute=render_compute_name(template.name, cluster, rule),
        namespace=render_namespace(template.namespace, cluster, rule),
        installs_extension=policy.extension.when_missing is WhenExtensionMissing.INSTALL,
        extension_name=policy.extension.name,
    )


class CycleRefused(Exception):
    """The cycle cannot start here; the message says what to change."""


def azureml_extensions(site: Site) -> list[dict[str, Any]]:
    answer = site.arm.get(site.extensions_path(), API["extensions"])
    items = (answer.body or {}).get("value", []) if answer.ok else []
    return [
        e
        for e in items
        if str((e.get("properties") or {}).get("extensionType", "")).lower()
        == AZUREML_EXTENSION_TYPE.lower()
    ]


def set_attach_tag(site: Site, value: str | None) -> Answer:
    """Read the cluster's tags and write them back with the attach tag set (or removed)."""
    path = f"{site.cluster}/providers/Microsoft.Resources/tags/default"
    current = site.arm.get(path, API["tags"])
    tags = dict(((current.body or {}).get("properties") or {}).get("tags") or {})
    tags = {k: v for k, v in tags.items() if k.lower() != site.tag_key.lower()}
    if value is not None:
        tags[site.tag_key] = value
    return site.arm.request("PUT", path, API["tags"], {"properties": {"tags": tags}})


class Cycle:
    """Runs the steps in order; ``steps`` and ``observations`` fill as it goes."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.steps: list[Step] = []
        self.observations: list[Observation] = []
        self.installed_extension: str | None = None  # the extension this run made
        self.principal: str | None = None
        self.extension_before = False  # the cluster had the extension before the run
        self._mark = self._start = site.clock.now()
        # The app makes the namespace while the extension installs: it is looked at meanwhile.
        self._namespace_path: str | None = None  # AKS: the managed namespace the app makes
        self._namespace_seen: str | None = None  # its settled state, once seen
        self._namespace_at: float | None = None  # and when

    def _look_at_namespace(self) -> None:
        """While waiting for something else: note when the app's namespace has settled."""
        if self._namespace_path is None or self._namespace_seen is not None:
            return
        state = _settled(self.site.arm.get(self._namespace_path, API["namespaces"]))
        if state is not None:
            self._namespace_seen, self._namespace_at = state, self.site.clock.now()

    def _step(self, name: str, ok: bool, detail: str, at: float | None = None) -> Step:
        """Record a step done now (or at ``at``, when it was seen done while waiting for an
        earlier one: it then took no time of its own)."""
        now = self.site.clock.now() if at is None else at
        step = Step(name, ok, max(0.0, now - self._mark), now - self._start, detail)
        self._mark = max(self._mark, now)
        self.steps.append(step)
        short = detail.replace(self.site.resource_group, "RG")
        self.site.say(f"step {name}: {'ok' if ok else 'FAILED'} in {step.seconds:.0f} s: {short}")
        return step

    def _wait(self, check: Any) -> Any:
        found, _seconds = wait_for(
            self.site.clock, check, timeout=self.site.timeout, every=self.site.poll
        )
        return found

    def attach_half(self, plan: Expected) -> bool:
        """Tag, extension, namespace, attach, grants, notice; False at the first step that fails."""
        site = self.site
        self._mark = self._start = site.clock.now()
        if "/managedclusters/" in site.cluster.lower():
            self._namespace_path = site.namespace_path(plan.namespace)
        tagged = set_attach_tag(site, ResourceId.parse(site.workspace).name)
        if not self._step("tag", tagged.ok, tagged.summary()).ok:
            return False
        if not self._extension(plan):
            return False
        if self._namespace_path is not None:
            path = self._namespace_path
            done = self._namespace_seen or self._wait(
                lambda: _settled(site.arm.get(path, API["namespaces"]))
            )
            self._step(
                "namespace",
                done == "Succeeded",
                f"managed namespace {plan.namespace}: {done or 'not there in time'}",
                at=self._namespace_at,
            )
        compute = self._wait(lambda: _attached(site, plan.compute))
        ok = compute is not None
        self.principal = _principal(compute or {})
        self._step(
            "attach",
            ok,
            f"compute {plan.compute}: "
            + (f"Succeeded on the cluster{_managed(compute)}" if ok else "not attached in time"),
        )
        if not ok:
            return False
        granted = self._wait(lambda: _grants(site, self.principal) or None)
        self._step(
            "grants",
            bool(granted),
            f"{len(granted or [])} role assignment(s) for the compute's principal on the "
            "workspace's registry and storage account",
        )
        told = self._notice(plan.compute, attached=True)
        return bool(granted) and told is not False

    def detach_half(self, plan: Expected) -> None:
        """Untag; the app detaches its compute and revokes its grants; the notice."""
        site = self.site
        self._mark = self._start = site.clock.now()
        untagged = set_attach_tag(site, None)
        self._step("untag", untagged.ok, untagged.summary())
        path = site.compute_path(plan.compute)
        gone = self._wait(
            lambda: True if site.arm.get(path, API["compute"]).status == 404 else None
        )
        self._step(
            "detach",
            bool(gone),
            f"compute {plan.compute}: " + ("gone" if gone else "still there"),
        )
        principal = self.principal
        revoked = self._wait(lambda: True if not _grants(site, principal) else None)
        self._step(
            "revoke",
            bool(revoked),
            "the compute's role assignments: " + ("removed" if revoked else "still there"),
        )
        self._notice(plan.compute, attached=False)

    def _extension(self, plan: Expected) -> bool:
        site = self.site
        present = azureml_extensions(site)
        if present:
            state = _state_of(present[0])
            if state.lower() == "succeeded":
                self.extension_before = True
                self._step("extension", True, f"{present[0].get('name')}: installed before the run")
                why = "the cluster had the Azure ML extension before the run"
                for name in ("extension_install_seconds", "extension_install_outcome"):
                    self.observations.append(observe(name, site.world, None, why))
                return True
        if not present and not plan.installs_extension:
            name = site.name("ml")
            body = {
                "properties": {
                    "extensionType": AZUREML_EXTENSION_TYPE,
                    "releaseTrain": "stable",
                    "autoUpgradeMinorVersion": True,
                    "scope": {"cluster": {"releaseNamespace": "azureml"}},
                    "configurationSettings": {"enableTraining": "true", "enableInference": "false"},
                }
            }
            put = site.arm.request("PUT", site.extensions_path(name), API["extensions"], body)
            if not put.ok:
                self._step("extension", False, f"installing {name}: {put.summary()}")
                return False
            self.installed_extension = name
        started = site.clock.now()

        def installed() -> str | None:
            self._look_at_namespace()
            return _settled_extension(site)

        state = self._wait(installed)
        seconds = site.clock.now() - started
        who = "by this run" if self.installed_extension else "by the app (policy: install)"
        detail = f"Azure ML extension installed {who}: {state or 'still installing'}"
        if self.installed_extension:
            self.observations.append(
                observe(
                    "extension_install_seconds",
                    site.world,
                    round(seconds) if state == "Succeeded" else None,
                    f"PUT {site.extensions_path(self.installed_extension)}; {state} after "
                    f"{seconds:.0f} s (read every {site.poll:.0f} s)",
                    poll=site.poll,
                )
            )
            self.observations.append(
                observe("extension_install_outcome", site.world, state, detail, poll=site.poll)
            )
        return self._step("extension", state == "Succeeded", detail).ok

    def _notice(self, compute: str, *, attached: bool) -> bool | None:
        """The app's ledger (what it announced for the cluster, as ``autoattach status`` shows
        it) holds the compute's ``ComputeAttached`` notice (``attached``), or no longer holds it:
        the ledger drops that entry once the ``ComputeDetached`` notice is published. None: no
        way to read the ledger."""
        name = "notice " + ("ComputeAttached" if attached else "ComputeDetached")
        target = self.site.status
        if target is None:
            self._step(name, True, "not read: give the app's settings (--settings) to read it")
            return None
        from console.commands.status import gather

        cluster = ResourceId.parse(self.site.cluster)

        def told() -> bool | None:
            report = gather(target, cluster=cluster)
            entries = report["clusters"][0]["announced"] if report["clusters"] else []
            holds = any(
                e.get("type") == "Autoattach.ComputeAttached"
                and str(e.get("compute", "")).lower().rsplit("/", 1)[-1] == compute.lower()
                and e.get("active", True)
                for e in entries
            )
            return True if holds == attached else None

        found = self._wait(told)
        what = (
            "the app's ledger holds its ComputeAttached notice for " + compute
            if attached
            else "the app's ledger dropped the ComputeAttached entry: ComputeDetached published"
        )
        self._step(name, bool(found), what if found else "not announced in time")
        return bool(found)


def _state_of(resource: dict[str, Any]) -> str:
    return str((resource.get("properties") or {}).get("provisioningState") or "")


def _settled(answer: Answer) -> str | None:
    if not answer.ok:
        return None
    state = _state_of(answer.body or {})
    return state if state.lower() in ("succeeded", "failed", "canceled") else None


def _settled_extension(site: Site) -> str | None:
    present = azureml_extensions(site)
    if not present:
        return None
    state = _state_of(present[0])
    return state if state.lower() in ("succeeded", "failed", "canceled") else None


def _attached(site: Site, name: str) -> dict[str, Any] | None:
    """The app's compute, once Succeeded on the run's cluster. Not by its tags: Azure ML computes
    may not keep tags (the ``compute_tags`` guess), so the name and the cluster say it."""
    answer = site.arm.get(site.compute_path(name), API["compute"])
    if not answer.ok or _state_of(answer.body or {}) != "Succeeded":
        return None
    body: dict[str, Any] = answer.body
    resource = str((body.get("properties") or {}).get("resourceId") or "")
    return body if resource.lower() == site.cluster.lower() else None


def _managed(compute: dict[str, Any] | None) -> str:
    """Whether the compute carries the app's mark: its sealed description (computes keep no
    tags, shared.decisions.ownership)."""
    description = str(((compute or {}).get("properties") or {}).get("description") or "")
    if SEAL_PREFIX in description:
        return ", with the app's sealed description"
    return ", without the app's sealed description"


def _principal(compute: dict[str, Any]) -> str | None:
    identity = compute.get("identity") or {}
    if identity.get("principalId"):
        return str(identity["principalId"])
    for entry in (identity.get("userAssignedIdentities") or {}).values():
        if isinstance(entry, dict) and entry.get("principalId"):
            return str(entry["principalId"])
    return None


def _grants(site: Site, principal: str | None) -> list[str]:
    """Role assignments for ``principal`` on the workspace's registry and storage account."""
    if not principal:
        return []
    workspace = site.arm.get(site.workspace, API["workspace"])
    properties = (workspace.body or {}).get("properties") or {}
    found: list[str] = []
    for scope in (properties.get("containerRegistry"), properties.get("storageAccount")):
        if not scope:
            continue
        listed = site.arm.request(
            "GET",
            f"{scope}/providers/Microsoft.Authorization/roleAssignments",
            API["roles"],
            **{"$filter": f"principalId eq '{principal}'"},
        )
        found += [str(a.get("id")) for a in (listed.body or {}).get("value", []) if listed.ok]
    return found
