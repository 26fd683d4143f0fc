"""Carry an observation forward: what Azure shows after writes whose answers are known.

Reconcile plans in rounds, because what one step makes (a compute's identity) is what the next
needs (its role assignments). Reading everything again between rounds would spend ARM's read
budget to learn what the writes' own answers already said, so each applied action updates the
observation instead. Only what an answer does not settle (an extension install, a detach, a
revoke: Azure decides what remains) sends reconcile back to read again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.decisions.model import ComputeState, IdentityType
from shared.decisions.planner import (
    Action,
    AttachCompute,
    CreateNamespace,
    GrantRole,
    Observation,
    compute_key,
)


@dataclass(frozen=True)
class Applied:
    """One action that Azure accepted, with what its answer showed (the compute an attach
    returned)."""

    action: Action
    compute: ComputeState | None = None


def carried(observed: Observation, applied: Iterable[Applied]) -> Observation | None:
    """The observation once ``applied`` took effect as their answers say; None when one of them
    leaves Azure's state to be read again."""
    namespaces = set(observed.namespaces)
    computes = dict(observed.computes)
    owned = {compute_key(c.workspace_id, c.name): c for c in observed.owned}
    new_principals = set(observed.new_principals)
    holdings = dict(observed.role_holdings)
    ours = dict(observed.our_roles)
    for done in applied:
        action = done.action
        if isinstance(action, CreateNamespace):
            namespaces.add(action.namespace)
        elif isinstance(action, AttachCompute) and done.compute is not None:
            compute = done.compute
            key = compute_key(compute.workspace_id, compute.name)
            computes[key] = compute
            owned[key] = compute
            if compute.identity_type is IdentityType.SYSTEM_ASSIGNED and compute.principal_id:
                new_principals.add(compute.principal_id.lower())
        elif isinstance(action, GrantRole):
            pair = (action.scope.key, action.principal_id)
            holdings[pair] = holdings.get(pair, frozenset()) | {action.role.value}
            ours[pair] = ours.get(pair, frozenset()) | {action.role.value}
        else:
            return None
    changes: dict[str, Any] = {
        "namespaces": frozenset(namespaces),
        "computes": computes,
        "owned": tuple(owned.values()),
        "new_principals": frozenset(new_principals),
        "role_holdings": holdings,
        "our_roles": ours,
    }
    return Observation(**{**observed.__dict__, **changes})
