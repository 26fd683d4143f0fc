"""What a cluster's ledger record says about its computes, read against what Azure shows: which
were announced attached, which are gone since, which principals were never announced and what
autoattach granted them meanwhile. Pure: plain data in, plain data out (the record is
shared.decisions.notices.Record, written by shared.decisions.notices; the grants' entries are
kept here, ``with_grants``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.model import ComputeState, IdentityType
from shared.decisions.notices import ATTACHED, shape_parts
from shared.decisions.ownership import confirmed_by_ledger
from shared.decisions.planner import compute_key


def announced_computes(announced: Mapping[str, Mapping[str, Any]]) -> list[tuple[ResourceId, str]]:
    """(workspace, compute name) of every compute the ledger says was announced attached."""
    named = []
    for entry in announced.values():
        if entry.get("type") != ATTACHED:
            continue
        try:
            compute_id = ResourceId.parse(str(entry.get("compute", "")))
            workspace_id = ResourceId.parse(str(entry.get("workspace", "")))
        except InvalidResourceId:
            continue
        named.append((workspace_id, compute_id.name))
    return named


def departed_computes(
    cluster_id: ResourceId,
    announced: Mapping[str, Mapping[str, Any]],
    present: list[ComputeState],
) -> list[ComputeState]:
    """Computes on a user-assigned identity the ledger says were announced attached for this
    cluster and Azure no longer shows (detached meanwhile, by this or another run): as they were
    announced, so that the roles their identity may still hold are looked at. A system-assigned
    identity went with its compute."""
    shown = {compute_key(c.workspace_id, c.name) for c in present}
    departed = []
    for entry in announced.values():
        if entry.get("type") != ATTACHED or not entry.get("active", True):
            continue
        namespace, identity_type, identity, _access = shape_parts(entry)
        if identity_type != IdentityType.USER_ASSIGNED.value or not identity:
            continue
        try:
            compute_id = ResourceId.parse(str(entry.get("compute", "")))
            workspace_id = ResourceId.parse(str(entry.get("workspace", "")))
            uai = ResourceId.parse(identity)
        except InvalidResourceId:
            continue
        if compute_key(workspace_id, compute_id.name) in shown:
            continue
        departed.append(
            ComputeState(
                workspace_id=workspace_id,
                name=compute_id.name,
                cluster_id=cluster_id,
                namespace=namespace,
                identity_type=IdentityType.USER_ASSIGNED,
                principal_id=None,
                provisioning_state="Deleted",
                managed_by_autoattach=True,
                user_assigned_identity=uai,
            )
        )
    return departed


def lost_some(
    announced: Mapping[str, Mapping[str, Any]] | None,
    computes: Mapping[tuple[ResourceId, str], ComputeState],
    owned: list[ComputeState],
) -> bool:
    """An announced compute Azure no longer shows: something left, maybe half-way."""
    present = {compute_key(c.workspace_id, c.name) for c in [*computes.values(), *owned]}
    return any(
        compute_key(workspace, name) not in present
        for workspace, name in announced_computes(announced or {})
    )


def new_principals(
    owned: list[ComputeState],
    leaving: list[ComputeState],
    announced: Mapping[str, Mapping[str, Any]] | None,
) -> frozenset[str]:
    """System-assigned principals of autoattach's computes that were never announced: Azure
    made them for autoattach's own attach, and only autoattach grants them roles, so they are
    taken as holding what the ledger records autoattach granted them (``recorded_grants``) and
    nothing else. A record lost or stale costs a grant asked for again (a harmless 409), never
    one missing."""
    told = {compute_key(w, n) for w, n in announced_computes(announced or {})}
    return frozenset(
        c.principal_id.lower()
        for c in owned
        if c.identity_type is IdentityType.SYSTEM_ASSIGNED
        and c.principal_id
        and c not in leaving
        and compute_key(c.workspace_id, c.name) not in told
    )


# Not a notice: the roles autoattach granted a compute's new system-assigned identity while the
# compute was not announced attached yet (once announced, the announcement says it holds them).
# Keyed "granted|<compute id key>"; {"type", "compute", "principal", "roles": [[scope key, role
# GUID], ...], "active": false} (never active: it announces nothing, and settles nothing).
ROLES_GRANTED = "RolesGranted"

# (scope key, principal id, role GUID)
Grant = tuple[str, str, str]


def granted_key(compute_id: ResourceId) -> str:
    return f"granted|{compute_id.key}"


@dataclass
class RunGrants:
    """What one reconcile granted new system-assigned identities (each grant with the compute
    whose identity it is) and what it revoked: the grants carried across its own re-reads, and
    into the cluster's ledger record (``with_grants``)."""

    granted: dict[Grant, ResourceId] = field(default_factory=dict)
    revoked: set[Grant] = field(default_factory=set)  # principals lower-cased

    def grant(self, compute_id: ResourceId, scope: ResourceId, principal: str, role: str) -> None:
        self.granted[(scope.key, principal, role)] = compute_id
        self.revoked.discard((scope.key, principal.lower(), role))

    def revoke(self, scope: ResourceId, principal: str, role: str) -> None:
        for grant in [g for g in self.granted if _same(g, (scope.key, principal, role))]:
            del self.granted[grant]
        self.revoked.add((scope.key, principal.lower(), role))


def recorded_grants(
    announced: Mapping[str, Mapping[str, Any]] | None, computes: Iterable[ComputeState]
) -> set[Grant]:
    """The grants the ledger records to each compute's system-assigned identity as Azure shows
    it now (an entry for another principal, such as a compute attached again since, says
    nothing). An entry that cannot be read records nothing."""
    found: set[Grant] = set()
    for compute in computes:
        principal = compute.principal_id
        if compute.identity_type is not IdentityType.SYSTEM_ASSIGNED or not principal:
            continue
        entry = (announced or {}).get(granted_key(compute.id))
        if not isinstance(entry, Mapping) or entry.get("type") != ROLES_GRANTED:
            continue
        if str(entry.get("principal", "")).lower() != principal.lower():
            continue
        found.update((scope, principal, role) for scope, role in _roles(entry))
    return found


def grants_held(
    recorded: Iterable[Grant], run: RunGrants | None, principals: frozenset[str]
) -> set[Grant]:
    """What new principals (``principals``, lower-cased) hold: what the ledger records granted
    them, less what this reconcile revoked, with what it granted."""
    run = run or RunGrants()
    held = {g for g in recorded if not any(_same(g, r) for r in run.revoked)}
    held |= set(run.granted)
    return {g for g in held if g[1].lower() in principals}


def with_grants(
    record: Mapping[str, Mapping[str, Any]], run: RunGrants, shown: Iterable[ComputeState]
) -> dict[str, dict[str, Any]]:
    """The cluster's record with its grants' entries brought up to date: this reconcile's grants
    added, its revokes taken out; an entry leaves once its compute is announced attached, or when
    Azure no longer shows that compute with that principal (unless granted just now)."""
    result = {k: dict(v) for k, v in record.items() if v.get("type") != ROLES_GRANTED}
    entries = {
        key: (str(entry.get("principal", "")), set(_roles(entry)))
        for key, entry in record.items()
        if entry.get("type") == ROLES_GRANTED
    }
    fresh: dict[str, ResourceId] = {}
    for (scope, principal, role), compute_id in run.granted.items():
        key = granted_key(compute_id)
        before = entries.get(key)
        if before is None or before[0].lower() != principal.lower():
            before = (principal, set())  # another identity's entry: it says nothing any more
        entries[key] = (principal, {*before[1], (scope, role)})
        fresh[key] = compute_id
    shows = {c.id.key: (c.principal_id or "").lower() for c in shown}
    for key, (principal, roles) in entries.items():
        compute = key.split("|", 1)[1]
        kept = sorted(
            [scope, role]
            for scope, role in roles
            if (scope, principal.lower(), role) not in run.revoked
        )
        announced = record.get(f"attached|{compute}") or {}
        if not kept or (announced.get("type") == ATTACHED and announced.get("active", True)):
            continue
        if key not in fresh and shows.get(compute) != principal.lower():
            continue
        raw = fresh[key].raw if key in fresh else str(record[key].get("compute", compute))
        result[key] = {
            "type": ROLES_GRANTED,
            "compute": raw,
            "principal": principal,
            "roles": kept,
            "active": False,
        }
    return result


def _roles(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """An entry's (scope key, role GUID) pairs; what cannot be read is left out."""
    roles = entry.get("roles")
    return [
        (item[0].lower(), item[1].lower())
        for item in (roles if isinstance(roles, list) else ())
        if isinstance(item, list) and len(item) == 2 and all(isinstance(p, str) for p in item)
    ]


def _same(one: Grant, other: Grant) -> bool:
    return (one[0], one[1].lower(), one[2]) == (other[0], other[1].lower(), other[2])


def with_ledger_claim(
    compute: ComputeState, announced: Mapping[str, Mapping[str, Any]] | None
) -> ComputeState:
    """The compute as autoattach's when it only claims so in a way anyone could write (a tag,
    the description autoattach wrote before seals) and the ledger recorded autoattach's attach
    of this very compute (shared.decisions.ownership)."""
    if compute.managed_by_autoattach or not compute.legacy_claim:
        return compute
    entry = (announced or {}).get(f"attached|{compute.id.key}")
    if entry is None or entry.get("type") != ATTACHED:
        return compute
    if not confirmed_by_ledger(compute.id, compute.created_on, entry):
        return compute
    return replace(compute, managed_by_autoattach=True)
