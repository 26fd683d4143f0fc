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

from shared.decisions.model import ComputeState
from shared.decisions.notices import (
    ATTACHED,
    DEPARTURE,
    DETACHED,
    Notification,
    attached_id,
    departure_id,
)
from shared.decisions.planner import Observation, principal_of


@dataclass(frozen=True)
class Departure:
    notice: Notification
    key: str  # the ledger key of the compute's ComputeAttached entry
    entry: dict[str, Any]  # that entry, recording the departure told
    told: bool  # the ledger shows it told already: not published again


def departure(
    observed: Observation,
    compute: ComputeState,
    reason: str,
    announced: Mapping[str, Mapping[str, Any]],
) -> Departure | None:
    """The ``ComputeDetached`` of autoattach's compute, to tell before detaching it; None when
    the compute has no principal yet (it cannot have been announced attached)."""
    principal = principal_of(observed, compute)
    if not principal:
        return None
    attached = attached_id(compute, principal)
    key = f"attached|{compute.id.key}"
    entry = dict(announced.get(key) or {})
    before = entry.get(DEPARTURE)
    ident = departure_id(attached)
    told = isinstance(before, Mapping) and before.get("id") == ident
    if told:
        assert isinstance(before, Mapping)
        reason = str(before.get("reason") or reason)
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
    entry[DEPARTURE] = {"id": ident, "reason": reason}
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


def departing(announced: Mapping[str, Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    """(compute id key, createdOn) of every compute whose departure the ledger says was told."""
    found = set()
    for entry in announced.values():
        if entry.get("type") == ATTACHED and isinstance(entry.get(DEPARTURE), Mapping):
            found.add((str(entry.get("compute", "")).lower(), str(entry.get("created_on", ""))))
    return frozenset(found)
