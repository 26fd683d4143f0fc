"""Resource groups (GET) and the tags of a resource or group (``Microsoft.Resources/tags``).

``GET /subscriptions/{s}/resourcegroups/{rg}`` answers a group the world file declares
(``resource_groups``: id, location, tags) or, without tags, one that holds a resource of the world;
any other group is 404 ``ResourceGroupNotFound``, ARM's code and wording.

``GET|PUT {scope}/providers/Microsoft.Resources/tags/default`` (Tags_GetAtScope,
Tags_CreateOrUpdateAtScope; api 2024-03-01 here; azure-mgmt-resource calls the PUT a
long-running operation, ``begin_create_or_update_at_scope``: the double answers at once, 200)
reads and replaces the tags of a cluster, a workspace, a user-assigned identity or a declared
resource group: what `az tag update` and `az resource tag` write. A PUT replaces every tag;
the operation ARM runs is ``Microsoft.Resources/tags/write``, which Event Grid reports on the
tagged resource (sandbox/system_topic.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.arm_http import Ctx, arm_error, body_of
from sandbox.arm_ids import key, name_of, subscription_of
from sandbox.https import Response

TAGS_TYPE = "Microsoft.Resources/tags"
GROUP_TYPE = "Microsoft.Resources/resourceGroups"


@dataclass
class ResourceGroup:
    id: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)


def group_json(group: ResourceGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": name_of(group.id),
        "type": GROUP_TYPE,
        "location": group.location,
        "tags": dict(group.tags),
        "properties": {"provisioningState": "Succeeded"},
    }


def resource_group(ctx: Ctx) -> Response:
    group_id = f"/subscriptions/{ctx.groups['sub']}/resourceGroups/{ctx.groups['rg']}"
    with ctx.world.lock:
        declared = ctx.world.resource_groups.get(key(group_id))
        if declared is not None:
            return Response(200, group_json(declared))
        location = _location_in_group(ctx, group_id)
    if location is None:
        return arm_error(
            404, "ResourceGroupNotFound", f"Resource group '{ctx.groups['rg']}' could not be found."
        )
    return Response(200, group_json(ResourceGroup(group_id, location)))


def _location_in_group(ctx: Ctx, group_id: str) -> str | None:
    prefix = key(group_id) + "/"
    world = ctx.world
    for cluster in world.clusters.values():
        if key(cluster.id).startswith(prefix):
            return cluster.location
    for workspace in world.workspaces.values():
        if key(workspace.id).startswith(prefix):
            return workspace.location
    return None


def tags(ctx: Ctx) -> Response:
    scope = ctx.groups["scope"]
    with ctx.world.lock:
        holder = _tagged(ctx, scope)
        if holder is None:
            return arm_error(
                404,
                "ResourceNotFound",
                f"The resource '{scope}' was not found, so its tags cannot be read or written.",
            )
        if ctx.request.method == "PUT":
            body = body_of(ctx.request)
            wanted = (body.get("properties") or {}).get("tags") or {}
            if not isinstance(wanted, dict):
                return arm_error(400, "InvalidRequestContent", "properties.tags must be an object.")
            holder.tags = {str(k): str(v) for k, v in wanted.items()}
        return Response(200, _tags_json(scope, holder.tags))


def _tagged(ctx: Ctx, scope: str) -> Any:
    world = ctx.world
    found = world.cluster(scope)
    if found is not None:
        return found
    for table in (world.workspaces, world.identities, world.resource_groups):
        if key(scope) in table:
            return table[key(scope)]
    return None


def _tags_json(scope: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/{TAGS_TYPE}/default",
        "name": "default",
        "type": TAGS_TYPE,
        "properties": {"tags": dict(values)},
    }


def parse_groups(world: Any, entries: list[Any]) -> None:
    """The world file's ``resource_groups``: ``[{"id", "location", "tags"}]``."""
    from sandbox.world import WorldError

    for index, entry in enumerate(entries):
        where = f"resource_groups[{index}]"
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("location"):
            raise WorldError(f"{where}: expected an object with 'id' and 'location'")
        group_id = str(entry["id"]).rstrip("/")
        parts = group_id.strip("/").split("/")
        if (
            len(parts) != 4
            or parts[0].lower() != "subscriptions"
            or parts[2].lower() != ("resourcegroups")
        ):
            raise WorldError(f"{where}: {group_id!r} is not a resource group id")
        raw_tags = entry.get("tags") or {}
        if not isinstance(raw_tags, dict):
            raise WorldError(f"{where}: tags must be an object of strings")
        subscription_of(group_id)
        world.resource_groups[key(group_id)] = ResourceGroup(
            group_id, str(entry["location"]), {str(k): str(v) for k, v in raw_tags.items()}
        )
