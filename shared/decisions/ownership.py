"""Which computes are autoattach's: pure, from what Azure keeps and what the ledger recorded.

Azure ML lists computes as not supporting tags, so a tag is no proof (and a person can write one
anyway). What Azure keeps on every compute is ``properties.description``; autoattach writes one
that carries a *seal*: a digest of the workspace, the compute's name and the cluster it was
attached for. The seal holds only on that very compute: copied onto another compute (another
name, workspace or cluster) it no longer matches, so it is no claim at all there.

- sealed: the description's seal matches the compute: autoattach's, for everything, even when the
  cluster's ledger record is lost. The one thing a seal cannot tell is a compute a person made
  again at that very name, for that very cluster, with the description copied: only someone who
  may write (and so delete) computes in that workspace can, so treating it as autoattach's gives
  nobody a right they lack (docs/decisions.md, *Ownership of computes*).
- a legacy claim: the tag ``managed-by: autoattach`` or the description autoattach wrote before
  seals, "Attached by autoattach from cluster <name>". Anyone can write either onto any compute,
  so it counts only where the cluster's ledger recorded autoattach's attach of that compute (its
  id, and its ``createdOn`` where recorded): never alone, never for a detach.
- anything else is a person's: never detached, never granted roles.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import MANAGED_BY_TAG, MANAGED_BY_VALUE

SEAL_PREFIX = "autoattach-seal:"
_SEAL = re.compile(r"autoattach-seal:([0-9a-f]{20})")
_LEGACY = re.compile(r"^Attached by autoattach from cluster (\S+)$")


class Claim(StrEnum):
    SEALED = "sealed"  # autoattach's: the description's seal matches this compute
    LEGACY = "legacy"  # says autoattach, but anyone could have written it: needs the ledger
    NONE = "none"  # a person's


def seal(workspace_id: ResourceId, name: str, cluster_id: ResourceId) -> str:
    """The digest binding a description to one compute of one workspace for one cluster."""
    text = "|".join(("autoattach", workspace_id.key, name.lower(), cluster_id.key))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def description_for(workspace_id: ResourceId, name: str, cluster_id: ResourceId) -> str:
    """The description autoattach attaches a compute with: words for people, and the seal."""
    return (
        f"Attached by autoattach from cluster {cluster_id.name} "
        f"({SEAL_PREFIX}{seal(workspace_id, name, cluster_id)})"
    )


def claim_of(
    workspace_id: ResourceId,
    name: str,
    cluster_id: ResourceId | None,
    description: str | None,
    tags: Mapping[str, Any] | None,
) -> Claim:
    """What the compute's own description and tags claim (the ledger is not consulted here)."""
    text = str(description or "")
    if cluster_id is not None:
        found = _SEAL.search(text)
        if found and found.group(1) == seal(workspace_id, name, cluster_id):
            return Claim.SEALED
        legacy = _LEGACY.match(text.strip())
        if legacy and legacy.group(1).lower() == cluster_id.name.lower():
            return Claim.LEGACY
    if str((tags or {}).get(MANAGED_BY_TAG, "")).lower() == MANAGED_BY_VALUE:
        return Claim.LEGACY
    return Claim.NONE


def confirmed_by_ledger(
    compute_id: ResourceId, created_on: str, entry: Mapping[str, Any] | None
) -> bool:
    """The ledger entry records autoattach's attach of this very compute: its id, and its
    ``createdOn`` when the entry has one (entries written before it was recorded have none)."""
    if entry is None:
        return False
    try:
        recorded = ResourceId.parse(str(entry.get("compute", "")))
    except ValueError:
        return False
    if recorded != compute_id:
        return False
    when = str(entry.get("created_on") or "")
    return not when or when == created_on
