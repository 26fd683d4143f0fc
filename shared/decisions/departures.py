"""A compute's departure, told before autoattach detaches it. Pure.

``ComputeDetached`` was derived only from the cluster's ledger (an entry announced attached
whose compute Azure no longer shows): when the record was lost, corrupted or stale, or was never
written (the lease lapsed, the publish's answer was lost), owners were never told the compute
went. So the notice is derived from the compute itself, as Azure shows it before the detach:
its id ends the ``ComputeAttached`` id the compute has (which derives from the compute alone),
the id the ledger's entry would give. The ledger entry then records the departure told (its id
and reason), so that a later run tells it again with the same reason, or not at all, and
detaches that compute even if the policy wants it again (owners were told it went: it goes,
and a fresh compute is attached and announced under a new id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.decisions.model import FAILED_STATES, SUCCEEDED, ComputeState, Role
from shared.decisions.notices import (
    ATTACHED,
    DEPARTURE,
    DETACHED,
    Notification,
    attached_id,
    departure_id,
    told_departure,
)
from shared.decisions.planner import Observation, principal_of


@dataclass(frozen=True)
class Departure:
    notice: Notification
    key: str  # the ledger key of the compute's ComputeAttached entry
    entry: dict[str, Any]  # that entry, recording the departure told
    told: bool  # the ledger shows it told already: not published again

    def as_told(self) -> dict[str, Any]:
        """The entry once the notice is published."""
        return {**self.entry, DEPARTURE: {**self.entry[DEPARTURE], "told": True}}


def departure(
    observed: Observation,
    compute: ComputeState,
    reason: str,
    announced: Mapping[str, Mapping[str, Any]],
) -> Departure | None:
    """The ``ComputeDetached`` of autoattach's compute, to tell before detaching it; None when
    it cannot have been announced attached: no principal yet, or, with no ledger entry for it,
    neither Succeeded nor holding autoattach's grants."""
    principal = principal_of(observed, compute)
    if not principal:
        return None
    attached = attached_id(compute, principal)
    key = f"attached|{compute.id.key}"
    entry = dict(announced.get(key) or {})
    recorded = entry.get("type") == ATTACHED and entry.get("id") == attached
    if not recorded and not _maybe_announced(observed, compute, principal):
        return None
    before = entry.get(DEPARTURE)
    ident = departure_id(attached)
    told = False
    if isinstance(before, Mapping) and before.get("id") == ident:
        reason = str(before.get("reason") or reason)  # every copy gives the first reason
        told = bool(before.get("told", True))
    cluster = str(entry.get("cluster") or observed.cluster.id.raw)  # as it was announced
    if entry.get("type") != ATTACHED or entry.get("id") != attached:
        # no record of this compute (lost, stale, never written), or of another one by the name
        entry = {
            "type": ATTACHED,
            "compute": compute.id.raw,
            "workspace": compute.workspace_id.raw,
            "cluster": cluster,
            "shape": "",
            "created_on": compute.created_on,
            "id": attached,
            "episode": 0,
            "active": True,
        }
    entry[DEPARTURE] = {"id": ident, "reason": reason, "told": told}
    notice = Notification(
        type=DETACHED,
        subject=compute.id.raw,
        data={
            "workspace": compute.workspace_id.raw,
            "compute": compute.name,
            "cluster": cluster,
            "reason": reason,
        },
        id=ident,
    )
    return Departure(notice, key, entry, told)


def _maybe_announced(observed: Observation, compute: ComputeState, principal: str) -> bool:
    """Without a record of it, whether the compute may have been announced attached (which
    needed it Succeeded, holding the roles autoattach grants). Only what this run saw rules it
    out: its attach's own operation failed (``attach_errors``), or it is still being made and
    holds none of autoattach's grants. A compute that is Succeeded may have been announced; so
    may one that is Failed (it may have failed since, and its roles may be gone: the sweep takes
    a failed compute's roles away): without the record, telling is the safe side."""
    state = compute.provisioning_state.lower()
    if compute.id.key in observed.attach_errors:
        return False  # this run saw the attach itself fail: it never was Succeeded
    if state == SUCCEEDED or state in FAILED_STATES:
        return True
    workspace = observed.workspaces.get(compute.workspace_id)
    registry = workspace.container_registry if workspace is not None else None
    return registry is not None and observed.made_by_us(registry, principal, Role.ACR_PULL)


def departing(announced: Mapping[str, Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    """(compute id key, createdOn) of every compute whose departure the ledger says was told."""
    found = set()
    for entry in announced.values():
        if entry.get("type") == ATTACHED and told_departure(entry):
            found.add((str(entry.get("compute", "")).lower(), str(entry.get("created_on", ""))))
    return frozenset(found)
