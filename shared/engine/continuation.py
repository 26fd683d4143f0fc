"""What a waiting reconcile leaves for its own re-check, kept in the cluster's ledger.

A reconcile that waits only for writes it started (a managed namespace being made, an attach)
keeps what it saw (the cluster, the computes the tag asks for, the namespaces that exist) and
each write's status URL. Its re-check then polls those writes and, once they are done, goes on
from what was seen: a poll instead of reading the cluster, its computes and namespaces again.
Any other reconcile of the cluster (an event, a sweep, a person's request) reads everything and
replaces or clears it, so it is only ever the state the last reconcile left. Pure: plain data in,
plain data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.model import ClusterState, ComputeState, IdentityType
from shared.decisions.planner import Observation, extension_failed, in_progress, readiness

NAMESPACE = "namespace"
COMPUTE = "compute"
# The Azure ML extension installing (by whoever): its "status URL" is the extension's own id, and
# its poll one read of the cluster's extensions (there is no status URL or event for an install's
# progress: azure-facts.md).
EXTENSION = "extension"
# Set by an event that joined the chain (shared.engine.handling): the cluster may differ from
# what was seen, so the re-check reads it before going on from the rest.
REREAD_CLUSTER = "reread_cluster"


@dataclass(frozen=True)
class Pending:
    """A write autoattach started that is still running: what it makes, and its status URL."""

    kind: str  # NAMESPACE or COMPUTE
    name: str  # the namespace, or the compute's resource id
    url: str


@dataclass(frozen=True)
class Continuation:
    cluster: ClusterState
    computes: tuple[ComputeState, ...]
    namespaces: frozenset[str]
    pending: tuple[Pending, ...]
    relay: ResourceId | None = None  # the Arc extension's relay, as that reconcile read it
    reread_cluster: bool = False  # an event since said the cluster may have changed


def capture(observed: Observation, running: Iterable[Pending]) -> dict[str, Any] | None:
    """The continuation to keep, or None when the wait is not only for autoattach's own writes
    (a compute being detached, the extension installing, a cluster not ready): then the re-check
    reads everything."""
    pending = list(running)
    if any(not p.url for p in pending):
        return None  # a write running whose status cannot be polled
    if observed.extension_read and readiness(observed.cluster, observed.extension) is not None:
        if not installing(observed):
            return None  # the cluster itself is not ready, or there is no extension to wait for
        assert observed.extension is not None
        extension = observed.extension.id.raw
        pending.append(Pending(EXTENSION, extension, extension))
    computes = list(observed.computes.values())
    for compute in computes:
        if in_progress(compute):
            if not compute.operation:
                return None
            pending.append(Pending(COMPUTE, compute.id.raw, compute.operation))
    if not pending or any(in_progress(c) and not c.operation for c in observed.owned):
        return None
    return {
        "cluster": _cluster_json(observed.cluster),
        "computes": [_compute_json(c) for c in computes],
        "namespaces": sorted(observed.namespaces),
        "relay": observed.relay.raw if observed.relay else None,
        "pending": [{"kind": p.kind, "name": p.name, "url": p.url} for p in pending],
    }


def installing(observed: Observation) -> bool:
    """The cluster is ready and its Azure ML extension is on its way (neither missing, failed
    nor done): what a re-check waits for is the install alone."""
    extension = observed.extension
    return (
        observed.extension_read
        and extension is not None
        and readiness(observed.cluster, None, extension_read=False) is None
        and not extension_failed(extension)
        and readiness(observed.cluster, extension) is not None
    )


def settled(state: Mapping[str, Any], done: Iterable[Pending]) -> dict[str, Any]:
    """The continuation without the namespace and extension waits that are over (a namespace
    made joins the namespaces seen); attaches stay until all is done."""
    over = {(p.kind, p.name) for p in done if p.kind in (NAMESPACE, EXTENSION)}
    made = {name for kind, name in over if kind == NAMESPACE}
    return {
        **state,
        "namespaces": sorted({*state.get("namespaces", []), *made}),
        "pending": [p for p in state.get("pending", []) if (p["kind"], p["name"]) not in over],
    }


def restore(state: Mapping[str, Any]) -> Continuation | None:
    """The continuation as kept, or None when it cannot be read (then everything is read)."""
    try:
        cluster = state["cluster"]
        return Continuation(
            cluster=ClusterState(
                id=ResourceId.parse(cluster["id"]),
                exists=True,
                provisioning_state=str(cluster["provisioning_state"]),
                location=str(cluster["location"]),
                tags={str(k): str(v) for k, v in dict(cluster["tags"]).items()},
                azure_rbac=bool(cluster["azure_rbac"]),
                connectivity_status=str(cluster["connectivity_status"]),
                api_server_hosts=tuple(str(h) for h in cluster.get("api_server_hosts") or ()),
            ),
            computes=tuple(_compute(c) for c in state["computes"]),
            namespaces=frozenset(str(n) for n in state["namespaces"]),
            pending=tuple(
                Pending(str(p["kind"]), str(p["name"]), str(p["url"])) for p in state["pending"]
            ),
            relay=ResourceId.parse(state["relay"]) if state.get("relay") else None,
            reread_cluster=bool(state.get(REREAD_CLUSTER)),
        )
    except (KeyError, TypeError, ValueError, InvalidResourceId):
        return None


def _cluster_json(cluster: ClusterState) -> dict[str, Any]:
    return {
        "id": cluster.id.raw,
        "provisioning_state": cluster.provisioning_state,
        "location": cluster.location,
        "tags": dict(cluster.tags),
        "azure_rbac": cluster.azure_rbac,
        "connectivity_status": cluster.connectivity_status,
        "api_server_hosts": list(cluster.api_server_hosts),
    }


def _compute_json(compute: ComputeState) -> dict[str, Any]:
    return {
        "workspace": compute.workspace_id.raw,
        "name": compute.name,
        "cluster": compute.cluster_id.raw if compute.cluster_id else None,
        "namespace": compute.namespace,
        "identity_type": compute.identity_type.value if compute.identity_type else None,
        "principal_id": compute.principal_id,
        "provisioning_state": compute.provisioning_state,
        "managed_by_autoattach": compute.managed_by_autoattach,
        "user_assigned_identity": (
            compute.user_assigned_identity.raw if compute.user_assigned_identity else None
        ),
        "created_on": compute.created_on,
        "operation": compute.operation,
    }


def _compute(data: Mapping[str, Any]) -> ComputeState:
    identity = data["identity_type"]
    uai = data["user_assigned_identity"]
    return ComputeState(
        workspace_id=ResourceId.parse(data["workspace"]),
        name=str(data["name"]),
        cluster_id=ResourceId.parse(data["cluster"]) if data["cluster"] else None,
        namespace=str(data["namespace"]),
        identity_type=IdentityType(identity) if identity else None,
        principal_id=data["principal_id"] or None,
        provisioning_state=str(data["provisioning_state"]),
        managed_by_autoattach=bool(data["managed_by_autoattach"]),
        user_assigned_identity=ResourceId.parse(uai) if uai else None,
        created_on=str(data["created_on"]),
        operation=data["operation"] or None,
    )
