"""The probes: for each guess the product depends on, the smallest safe request that answers it.

Every probe works only on what the run makes (names with the run's prefix, tags with its run id,
role assignments described as the run's) or reads what the user named; whatever it makes it
removes again, and cleanup.py removes it on any exit. Each returns Observations (guesses.py):
the double's assumption, what Azure answered, and the requests as evidence.
"""

from __future__ import annotations

import uuid
from typing import Any

from console.smoke.azure import Answer, wait_for
from console.smoke.guesses import PROBE_NAME_LENGTH, Observation, observe
from console.smoke.site import API, DESCRIPTION, Site

PENDING = ("creating", "updating", "deleting", "accepted", "running", "inprogress")


def _state(answer: Answer) -> str:
    body = answer.body if isinstance(answer.body, dict) else {}
    return str((body.get("properties") or {}).get("provisioningState") or "")


def _see(site: Site, name: str, observed: Any, evidence: str) -> Observation:
    return observe(name, site.world, observed, evidence, poll=site.poll)


def settle(
    site: Site, path: str, api: str, timeout: float | None = None
) -> tuple[Answer | None, float]:
    """Read ``path`` until it is no longer pending: (the last answer, seconds it took); a 404
    counts as settled (a detach done). None after ``timeout`` (the site's) seconds."""

    def look() -> Answer | None:
        answer = site.arm.get(path, api)
        if answer.status == 404 or (answer.ok and _state(answer).lower() not in PENDING):
            return answer
        return None

    return wait_for(site.clock, look, timeout=timeout or site.timeout, every=site.poll)


def compute_body(site: Site, *, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "location": site.workspace_location,
        "identity": {"type": "SystemAssigned"},
        "tags": tags or {},
        "properties": {
            "computeType": "Kubernetes",
            "resourceId": site.cluster,
            "description": f"{DESCRIPTION} {site.run_id}",
            "properties": {"namespace": "default"},
        },
    }


def reads(site: Site) -> list[Observation]:
    """Reads only: the workspace (compression, throttling headers), a resource group and a role
    assignment that do not exist, and a detach of a compute that does not exist."""
    found: list[Observation] = []
    workspace = site.arm.get(site.workspace, API["workspace"])
    encoding = (workspace.header("content-encoding") or "plain").lower()
    found.append(
        _see(
            site,
            "get_compression",
            encoding if workspace.ok else None,
            f"{workspace.summary()}, Content-Encoding: {encoding}",
        )
    )
    sub = workspace.header("x-ms-ratelimit-remaining-subscription-reads")
    glob = workspace.header("x-ms-ratelimit-remaining-subscription-global-reads")
    kinds = {(True, True): "both", (True, False): "subscription only"}
    seen = kinds.get((sub is not None, glob is not None), "global only" if glob else "none")
    found.append(
        _see(
            site,
            "ratelimit_headers",
            seen,
            f"{workspace.summary()}: x-ms-ratelimit-remaining-subscription-reads={sub}, "
            f"-global-reads={glob}",
        )
    )
    missing_group = f"/subscriptions/{site.subscription}/resourceGroups/{site.name('nogroup')}"
    group = site.arm.get(missing_group, API["group"])
    found.append(
        _see(
            site, "resource_group_missing", f"{group.status} {group.code}".strip(), group.summary()
        )
    )
    role = site.arm.get(site.role_path(str(uuid.uuid4())), API["roles"])
    found.append(
        _see(site, "role_assignment_missing", f"{role.status} {role.code}".strip(), role.summary())
    )
    detach = site.arm.request(
        "DELETE",
        site.compute_path(site.name("gone")),
        API["compute"],
        underlyingResourceAction="Detach",
    )
    found.append(_see(site, "detach_missing_compute", detach.status, detach.summary()))
    return found


def attach_without_extension(site: Site) -> list[Observation]:
    """An attach to the cluster before it has the Azure ML extension: refused at once, or
    accepted and failed by its operation. The compute, if made, is detached again."""
    name = site.name("x")
    path = site.compute_path(name)
    answer = site.arm.request("PUT", path, API["compute"], compute_body(site, tags=site.run_tags))
    if not answer.ok:
        codes = "/".join([answer.code, *answer.detail_codes])
        return [_see(site, "attach_failures", "refusal", f"{answer.summary()} ({codes})")]
    # a failing attach has been seen to stay Creating for an hour: look for a quarter of that
    last, seconds = settle(site, path, API["compute"], timeout=min(site.timeout, 900.0))
    state = _state(last) if last is not None else f"still pending after {seconds:.0f} s"
    if last is not None:
        detach(site, name)  # else the cleanup detaches it once it settles
    observed = "operation" if state.lower() == "failed" else f"accepted ({state})"
    return [_see(site, "attach_failures", observed, f"{answer.summary()}; then {state}")]


def detach(site: Site, name: str) -> tuple[Answer, float]:
    """Detach a compute this run made and wait until it is gone: (the DELETE's answer, seconds)."""
    path = site.compute_path(name)
    answer = site.arm.request("DELETE", path, API["compute"], underlyingResourceAction="Detach")
    if answer.status == 204 or answer.status == 404:
        return answer, 0.0
    _last, seconds = settle(site, path, API["compute"])
    return answer, seconds


def attach(site: Site) -> list[Observation]:
    """One system-assigned compute attached to the cluster, its principal then used for the role
    assignment probes; detached at the end. Needs the extension installed."""
    found: list[Observation] = []
    name = site.name("p")
    path = site.compute_path(name)
    put = site.arm.request("PUT", path, API["compute"], compute_body(site, tags=site.run_tags))
    if not put.ok:
        why = f"the probe's attach was refused: {put.summary()}"
        return [
            _see(site, n, None, why)
            for n in ("compute_principal_on_put", "compute_attach_seconds", "compute_tags")
        ]
    identity = (put.body or {}).get("identity") or {}
    found.append(
        _see(
            site,
            "compute_principal_on_put",
            bool(identity.get("principalId")),
            f"{put.summary()}: identity {sorted(identity)}, state {_state(put) or '?'}",
        )
    )
    retry_after = put.header("retry-after")
    found.append(
        _see(
            site,
            "lro_retry_after_seconds",
            float(retry_after) if retry_after else None,
            f"{put.summary()}: Retry-After {retry_after!r}"
            + ("" if retry_after else f", Retry-After-Ms {put.header('retry-after-ms')!r}"),
        )
    )
    found.append(
        _see(
            site,
            "write_compression",
            (put.header("content-encoding") or "plain").lower(),
            f"{put.summary()}: Content-Encoding {put.header('content-encoding')!r}",
        )
    )
    status_url = put.header("azure-asyncoperation") or ""
    found.append(
        _see(site, "operation_status_url", _status_url_kind(status_url, path), status_url or "none")
    )
    last, seconds = settle(site, path, API["compute"])
    state = _state(last) if last is not None else "still pending"
    found.append(
        _see(
            site,
            "compute_attach_seconds",
            round(seconds) if state == "Succeeded" else None,
            f"PUT {path} -> {state} after {seconds:.0f} s (read every {site.poll:.0f} s)",
        )
    )
    tags = ((last.body if last is not None else None) or {}).get("tags") or {}
    kept = all(tags.get(k) == v for k, v in site.run_tags.items())
    found.append(
        _see(site, "compute_tags", "kept" if kept else "dropped", f"GET {path}: tags {tags}")
    )
    principal = ((last.body if last is not None else None) or {}).get("identity", {}).get(
        "principalId"
    ) or identity.get("principalId")
    if principal:
        found += role_assignments(site, str(principal))
    if state == "Succeeded":
        again = site.arm.request(
            "PUT", path, API["compute"], compute_body(site, tags=site.run_tags)
        )
        found.append(
            _see(site, "compute_reput", "accepted" if again.ok else "refused", again.summary())
        )
        settle(site, path, API["compute"])
    answer, seconds = detach(site, name)
    found.append(
        _see(
            site,
            "compute_detach_seconds",
            round(seconds) if answer.ok else None,
            f"{answer.summary()}; gone after {seconds:.0f} s (read every {site.poll:.0f} s)",
        )
    )
    return found


def _status_url_kind(url: str, resource_path: str) -> str | None:
    if not url:
        return None
    lower = url.lower()
    if "/locations/" in lower and "/computeoperationsstatus/" in lower:
        return "location-based (.../locations/{region}/computeOperationsStatus/{id})"
    if resource_path.lower() in lower:
        return "under the resource"
    return "elsewhere"


def role_assignments(site: Site, principal: str) -> list[Observation]:
    """Reader on the marked resource group for the probe compute's new principal: accepted at
    once with principalType, listed at once, and a repeat under another name refused. Removed."""
    found: list[Observation] = []
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"autoattach-smoke/{site.run_id}/reader"))
    body = {
        "properties": {
            "roleDefinitionId": site.reader_role(),
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "description": f"{DESCRIPTION} {site.run_id}",
        }
    }
    made = site.arm.request("PUT", site.role_path(name), API["roles"], body)
    found.append(
        _see(
            site,
            "role_assignment_new_principal",
            "accepted" if made.ok else f"refused: {made.status} {made.code}",
            made.summary(),
        )
    )
    if not made.ok:
        return found
    listed = site.arm.request(
        "GET",
        f"{site.resource_group}/providers/Microsoft.Authorization/roleAssignments",
        API["roles"],
        **{"$filter": f"principalId eq '{principal}'"},
    )
    names = [str(a.get("name")) for a in (listed.body or {}).get("value", [])]
    found.append(
        _see(
            site,
            "role_assignment_listed_at_once",
            "listed" if name in names else "not yet",
            f"{listed.summary()}: {len(names)} assignment(s) for the principal",
        )
    )
    other = str(uuid.uuid5(uuid.NAMESPACE_URL, f"autoattach-smoke/{site.run_id}/again"))
    again = site.arm.request("PUT", site.role_path(other), API["roles"], body)
    observed = "accepted" if again.ok else f"refused: {again.status} {again.code}"
    found.append(_see(site, "role_assignment_duplicate", observed, again.summary()))
    for each in (name, other):
        site.arm.request("DELETE", site.role_path(each), API["roles"])
    return found


def compute_name(site: Site) -> list[Observation]:
    """A 17-character compute name: refused, or accepted (and then detached)."""
    name = site.name("x" * (PROBE_NAME_LENGTH - len(site.name(""))))
    answer = site.arm.request(
        "PUT", site.compute_path(name), API["compute"], compute_body(site, tags=site.run_tags)
    )
    if answer.ok:
        settle(site, site.compute_path(name), API["compute"])
        detach(site, name)
    observed = "accepted" if answer.ok else "refused"
    return [_see(site, "compute_name_17_characters", observed, f"{answer.summary()} ({name})")]


def namespaces(site: Site) -> list[Observation]:
    """Managed namespaces on the cluster: one of the run's own (its creation time; removed, the
    Kubernetes namespace with it), ``default`` with adoptionPolicy Never, and ``kube-system``."""
    found: list[Observation] = []
    name = site.name("ns")
    path = site.namespace_path(name)
    body = {
        "location": site.cluster_location,
        "tags": site.run_tags,
        "properties": {"adoptionPolicy": "Never", "deletePolicy": "Delete"},
    }
    put = site.arm.request("PUT", path, API["namespaces"], body)
    if put.ok:
        last, seconds = settle(site, path, API["namespaces"])
        state = _state(last) if last is not None else "still pending"
        found.append(
            _see(
                site,
                "namespace_create_seconds",
                round(seconds) if state == "Succeeded" else None,
                f"{put.summary()}; {state} after {seconds:.0f} s (read every {site.poll:.0f} s)",
            )
        )
        site.arm.request("DELETE", path, API["namespaces"])
        settle(site, path, API["namespaces"])
    else:
        found.append(_see(site, "namespace_create_seconds", None, put.summary()))
    keep = {"properties": {"adoptionPolicy": "Never", "deletePolicy": "Keep"}}
    default = site.namespace_path("default")
    adopt = site.arm.request("PUT", default, API["namespaces"], {**body, **keep})
    if adopt.ok:
        last, _seconds = settle(site, default, API["namespaces"])
        state = _state(last) if last is not None else "still pending"
        error = _operation_error(site, adopt)
        observed = f"operation failed: {error}" if state == "Failed" else f"adopted ({state})"
        site.arm.request("DELETE", default, API["namespaces"])  # Keep: the namespace stays
        settle(site, default, API["namespaces"])
    else:
        observed = f"refused: {adopt.status} {adopt.code}"
    found.append(_see(site, "namespace_adoption_never", observed, adopt.summary()))
    system = site.namespace_path("kube-system")
    refused = site.arm.request("PUT", system, API["namespaces"], {**body, **keep})
    if refused.ok:
        settle(site, system, API["namespaces"])
        site.arm.request("DELETE", system, API["namespaces"])
        observed = "accepted"
    else:
        observed = f"refused: {refused.status} {refused.code}"
    found.append(_see(site, "namespace_system", observed, refused.summary()))
    return found


def _operation_error(site: Site, first: Answer) -> str:
    """The error code of a finished long-running write, from its status URL."""
    url = first.header("azure-asyncoperation")
    if not url:
        return "?"
    path = url.split("://", 1)[-1]
    path = path[path.find("/") :].split("?", 1)[0]
    query = dict(p.split("=", 1) for p in url.split("?", 1)[-1].split("&") if "=" in p)
    answer = site.arm.get(path, query.get("api-version", API["namespaces"]))
    error = (answer.body or {}).get("error") if isinstance(answer.body, dict) else None
    return str((error or {}).get("code") or "?")


def propagation(site: Site) -> list[Observation]:
    """Reader on the marked group for you, the caller; the seconds until ARM lists it among your
    own permissions there (Permissions - List For Resource Group, one entry per assignment);
    then removed. You already holding Reader there makes it unobservable."""
    permissions = f"{site.resource_group}/providers/Microsoft.Authorization/permissions"

    def readers() -> int:
        answer = site.arm.get(permissions, API["roles"])
        entries = (answer.body or {}).get("value", []) if answer.ok else []
        return sum(1 for e in entries if e.get("actions") == ["*/read"] and not e.get("notActions"))

    oid, kind = site.arm.caller()
    if oid is None:
        return [_see(site, "role_propagation_seconds", None, "no object id in your token")]
    before = readers()
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"autoattach-smoke/{site.run_id}/propagation"))
    body = {
        "properties": {
            "roleDefinitionId": site.reader_role(),
            "principalId": oid,
            "principalType": kind,
            "description": f"{DESCRIPTION} {site.run_id}",
        }
    }
    made = site.arm.request("PUT", site.role_path(name), API["roles"], body)
    if not made.ok:
        why = f"could not give you Reader on the group: {made.summary()}"
        return [_see(site, "role_propagation_seconds", None, why)]
    seen, seconds = wait_for(
        site.clock,
        lambda: True if readers() > before else None,
        timeout=site.timeout,
        every=site.poll,
    )
    site.arm.request("DELETE", site.role_path(name), API["roles"])
    evidence = (
        f"{made.summary()}; GET {permissions} lists it after {seconds:.0f} s "
        f"(read every {site.poll:.0f} s)"
        if seen
        else f"{made.summary()}; not among your permissions after {seconds:.0f} s"
    )
    return [_see(site, "role_propagation_seconds", round(seconds) if seen else None, evidence)]
