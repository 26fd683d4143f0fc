"""A world holding exactly what autoattach's infra grants its identity, with ARM's authorization
on (``arm_authorization``, sandbox/arm_rbac.py): the custom roles of console/doctor/grants.py
``CUSTOM_ROLES`` (the actions of infra/modules/custom-roles.bicep) and one assignment per
``expected_grants`` need, with the ABAC condition infra/ puts on each role delegator. Used by the
least-privilege tests and ``python -m campaign --least-privilege``."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable
from typing import Any

from console.doctor.grants import (
    CUSTOM_ROLES,
    HubResources,
    WorkspaceFacts,
    condition_for,
    expected_grants,
)
from shared.decisions.arm_id import ResourceId
from shared.decisions.policy import AttachPolicy

APP = "5e1f0c3a-9a7e-4b1d-8c2f-6d3a1b0e9f41"  # the deployment's identity in these worlds
ROLE_NAMESPACE = uuid.UUID("1b6f1a7e-0c3e-4f7b-9a55-6a0d3c2b1e90")


def role_id(subscription: str, role: str) -> str:
    """A custom role's id in a subscription (by title), or a built-in role's (by GUID)."""
    guid = (
        str(uuid.uuid5(ROLE_NAMESPACE, f"{subscription}/{role}")) if role in CUSTOM_ROLES else role
    )
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def with_deployment_grants(
    world: dict[str, Any],
    policy: dict[str, Any],
    *,
    watched: Iterable[str] = (),
    without: str | None = None,
) -> dict[str, Any]:
    """``world`` (a world document, without its policy) with RBAC enforced and exactly the grants
    infra/ makes for ``policy``, less any whose ``role @ scope`` contains ``without``. The watched
    subscriptions are those of the world's clusters and of the ``watched`` cluster ids."""
    world = copy.deepcopy(world)
    parsed = AttachPolicy.from_json(
        json.dumps(policy).replace("{sandbox_vault}", "https://kv.example")
    )
    clusters = [c["id"] for c in world.get("clusters", [])] + list(watched)
    subscriptions_watched = sorted({ResourceId.parse(c).subscription.lower() for c in clusters})
    needs = expected_grants(HubResources(), subscriptions_watched, parsed, workspace_facts(world))
    subscriptions = sorted({n.scope.subscription.lower() for n in needs})
    world["role_definitions"] = [
        *world.get("role_definitions", []),
        *(
            {
                "id": role_id(sub, title),
                "role_name": f"autoattach {title} (sandbox, {sub})",
                "actions": list(actions),
                "assignable_scopes": [f"/subscriptions/{sub}"],
            }
            for sub in subscriptions
            for title, actions in CUSTOM_ROLES.items()
        ),
    ]
    world["role_assignments"] = [
        *world.get("role_assignments", []),
        *(
            {
                "scope": need.scope.raw,
                "role_definition_id": role_id(need.scope.subscription.lower(), need.role),
                "principal_id": APP,
                "principal_type": "ServicePrincipal",
                "description": f"{need.role} @ {need.scope.raw}",
                **(
                    {"condition": condition_for(need.grantable, APP, need.principals)}
                    if need.grantable
                    else {}
                ),
            }
            for need in needs
            if without is None or without.lower() not in f"{need.role} @ {need.scope.raw}".lower()
        ),
    ]
    world["autoattach"] = {
        "resource_group": f"/subscriptions/{subscriptions[0]}/resourceGroups/rg-autoattach",
        "principal_id": APP,
    }
    world["arm_authorization"] = True
    return world


def workspace_facts(world: dict[str, Any]) -> list[WorkspaceFacts]:
    """What infra's preflight reads of each workspace in the world: its registry, storage account
    and, under a user-assigned identity, that identity's principal id."""
    principals = {
        ResourceId.parse(i["id"]).key: str(i["principal_id"]) for i in world.get("identities", [])
    }
    facts = []
    for workspace in world.get("workspaces", []):
        identity = workspace.get("identity") or {}
        assigned = identity.get("user_assigned_identity")
        facts.append(
            WorkspaceFacts(
                ResourceId.parse(workspace["id"]),
                _id(workspace.get("container_registry")),
                _id(workspace.get("storage_account")),
                principals.get(ResourceId.parse(assigned).key) if assigned else None,
            )
        )
    return facts


def _id(text: str | None) -> ResourceId | None:
    return ResourceId.parse(text) if text else None
