"""What a cluster's ledger record says about its computes, read against what Azure shows: which
were announced attached, which are gone since, which principals were never announced. Pure:
plain data in, plain data out (the record is shared.decisions.notices.Record, written by
shared.decisions.notices)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
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
    taken as holding none yet (a grant that exists already is a harmless 409)."""
    told = {compute_key(w, n) for w, n in announced_computes(announced or {})}
    return frozenset(
        c.principal_id.lower()
        for c in owned
        if c.identity_type is IdentityType.SYSTEM_ASSIGNED
        and c.principal_id
        and c not in leaving
        and compute_key(c.workspace_id, c.name) not in told
    )


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
