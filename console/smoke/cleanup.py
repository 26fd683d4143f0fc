"""What smoke runs leave, found by their marks, removed, and read back.

A run's traces, in the marked resource group and on the cluster and workspace the user named:
computes whose name starts with the prefix, managed namespaces and cluster extensions likewise,
role assignments at the resource group whose description names a smoke run, and the attach tag
on the cluster. Nothing else is touched: the computes and role assignments the app made go when
the tag goes (the app detaches and revokes them), and are only read here. ``sweep`` runs before a
run (what an interrupted earlier run left) and after it, on every exit; ``left`` reads back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.smoke.azure import wait_for
from console.smoke.cycle import azureml_extensions, set_attach_tag
from console.smoke.site import API, DESCRIPTION, PREFIX, Site


@dataclass
class Trace:
    kind: str  # compute, managed namespace, extension, role assignment, attach tag
    path: str  # what to DELETE (or the cluster, for the tag)

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.path}


@dataclass
class Sweep:
    removed: list[Trace] = field(default_factory=list)
    left: list[Trace] = field(default_factory=list)  # read back after removing: must be empty
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.left

    def as_json(self) -> dict[str, Any]:
        return {
            "removed": [t.as_json() for t in self.removed],
            "left": [t.as_json() for t in self.left],
            "verified_clean": self.clean,
            "problems": self.problems,
        }


def _ours(name: str) -> bool:
    return name.lower().startswith(PREFIX)


def traces(site: Site) -> list[Trace]:
    """Every mark of a smoke run that is still there."""
    found: list[Trace] = []
    computes = site.arm.get(f"{site.workspace}/computes", API["compute"])
    for c in (computes.body or {}).get("value", []) if computes.ok else []:
        if _ours(str(c.get("name", ""))):
            found.append(Trace("compute", site.compute_path(str(c["name"]))))
    if "/managedclusters/" in site.cluster.lower():
        listed = site.arm.get(f"{site.cluster}/managedNamespaces", API["namespaces"])
        for n in (listed.body or {}).get("value", []) if listed.ok else []:
            if _ours(str(n.get("name", ""))):
                found.append(Trace("managed namespace", site.namespace_path(str(n["name"]))))
    for e in azureml_extensions(site):
        if _ours(str(e.get("name", ""))):
            found.append(Trace("extension", site.extensions_path(str(e["name"]))))
    roles = site.arm.request(
        "GET",
        f"{site.resource_group}/providers/Microsoft.Authorization/roleAssignments",
        API["roles"],
        **{"$filter": "atScope()"},
    )
    for a in (roles.body or {}).get("value", []) if roles.ok else []:
        description = str((a.get("properties") or {}).get("description") or "")
        if description.startswith(DESCRIPTION):
            found.append(Trace("role assignment", str(a.get("id"))))
    tags = site.arm.get(f"{site.cluster}/providers/Microsoft.Resources/tags/default", API["tags"])
    current = ((tags.body or {}).get("properties") or {}).get("tags") or {}
    if any(k.lower() == site.tag_key.lower() for k in current):
        found.append(Trace("attach tag", site.cluster))
    return found


_API_OF = {
    "compute": API["compute"],
    "managed namespace": API["namespaces"],
    "extension": API["extensions"],
    "role assignment": API["roles"],
}


def remove(site: Site, trace: Trace) -> str | None:
    """Remove one trace and wait until it is gone; a problem in words, or None."""
    if trace.kind == "attach tag":
        answer = set_attach_tag(site, None)
        return None if answer.ok else f"untag {trace.path}: {answer.summary()}"
    api = _API_OF[trace.kind]
    query = {"underlyingResourceAction": "Detach"} if trace.kind == "compute" else {}
    if trace.kind == "compute":
        # a compute still being made cannot be detached yet (409): let it settle first
        wait_for(
            site.clock,
            lambda: True if _settled_or_gone(site, trace.path, api) else None,
            timeout=site.timeout,
            every=site.poll,
        )
    answer = site.arm.request("DELETE", trace.path, api, **query)
    if not answer.ok and answer.status != 404:
        return f"delete {trace.kind} {trace.path}: {answer.summary()}"
    gone = _gone(site, trace.path, api)
    return None if gone else f"{trace.kind} {trace.path} still there after its DELETE"


def _gone(site: Site, path: str, api: str) -> bool:
    """Wait until ``path`` answers 404; False if it still does not by the timeout."""
    gone, _seconds = wait_for(
        site.clock,
        lambda: True if site.arm.get(path, api).status == 404 else None,
        timeout=site.timeout,
        every=site.poll,
    )
    return bool(gone)


def _settled_or_gone(site: Site, path: str, api: str) -> bool:
    answer = site.arm.get(path, api)
    if answer.status == 404:
        return True
    state = str(((answer.body or {}).get("properties") or {}).get("provisioningState") or "")
    return state.lower() not in ("creating", "updating", "deleting")


def sweep(site: Site, app_compute: str | None = None) -> Sweep:
    """Remove every trace (the tag first, so the app starts detaching its own compute, and the
    extension last, once nothing is attached through it), then read back what is left.
    ``app_compute``: the name of the compute the app makes for the run's cluster; once the tag
    is gone, the extension waits until the app has detached it."""
    order = {"attach tag": 0, "compute": 1, "role assignment": 2, "managed namespace": 3}
    result = Sweep()
    found = sorted(traces(site), key=lambda t: order.get(t.kind, 9))
    for trace in found:
        if trace.kind == "extension" and app_compute is not None:
            gone = _gone(site, site.compute_path(app_compute), API["compute"])
            if not gone:
                result.problems.append(f"the app has not detached {app_compute}: extension kept")
                continue
        problem = remove(site, trace)
        if problem is None:
            result.removed.append(trace)
        else:
            result.problems.append(problem)
    result.left = traces(site)
    return result
