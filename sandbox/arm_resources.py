"""Generic ARM resources: GET by id (clusters, identities, relays) and the two list calls.

Shapes follow the Microsoft.ContainerService managedClusters, Microsoft.Kubernetes
connectedClusters, Microsoft.ManagedIdentity userAssignedIdentities and Microsoft.Relay namespaces
specs, as returned through ``ResourceManagementClient.resources.get_by_id`` (a GenericResource),
``resources.list`` (``GET /subscriptions/{s}/resources``) and ``resources.list_by_resource_group``
(``GET /subscriptions/{s}/resourcegroups/{rg}/resources``; the SDK sends ``resourcegroups`` in
lower case and ``$filter`` as a query parameter).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from sandbox.arm_http import Ctx, bad_request, not_found
from sandbox.arm_ids import (
    AKS_TYPE,
    ARC_TYPE,
    HYBRID_CONNECTION_TYPE,
    RELAY_RULE_TYPE,
    RELAY_TYPE,
    SANDBOX_TENANT_ID,
    UAI_TYPE,
    WORKSPACE_TYPE,
    deterministic_principal,
    key,
    name_of,
    resource_group_of,
    same_id,
    subscription_of,
    type_of,
)
from sandbox.https import Response
from sandbox.world import Cluster, HybridConnection, Identity, Relay, World

LIST_PAGE_SIZE = 100
_CLAUSE = re.compile(r"^\s*(tagName|tagValue|resourceType)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


_ARC_AGENT_KEY = "c2FuZGJveC1hcmMtYWdlbnQta2V5"  # base64 of "sandbox-arc-agent-key"


def cluster_json(cluster: Cluster, seconds: float) -> dict[str, Any]:
    properties: dict[str, Any] = {"provisioningState": cluster.state_at(seconds)}
    if cluster.kind == "aks":
        properties.update(
            {
                "kubernetesVersion": "1.33.2",
                "dnsPrefix": name_of(cluster.id),
                "aadProfile": {"managed": True, "enableAzureRBAC": cluster.azure_rbac},
                "enableRBAC": True,
            }
        )
        resource_type = AKS_TYPE
    else:
        properties.update(
            {
                "connectivityStatus": cluster.connectivity_status,
                "distribution": "generic",
                "kubernetesVersion": "1.33.2",
                "infrastructure": "generic",
                # Required by the connectedClusters type (sandbox/azure_types): the agent's key.
                "agentPublicKeyCertificate": _ARC_AGENT_KEY,
            }
        )
        resource_type = ARC_TYPE
    body = {
        "id": cluster.id,
        "name": name_of(cluster.id),
        "type": resource_type,
        "location": cluster.location,
        "tags": dict(cluster.tags),
        "properties": properties,
    }
    if cluster.kind != "aks":  # connectedClusters always carry their (required) identity
        body["identity"] = {
            "type": "SystemAssigned",
            "principalId": deterministic_principal(cluster.id),
            "tenantId": SANDBOX_TENANT_ID,
        }
    return body


def identity_json(identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "name": name_of(identity.id),
        "type": UAI_TYPE,
        "location": identity.location,
        "tags": dict(identity.tags),
        "properties": {
            "tenantId": identity.tenant_id,
            "principalId": identity.principal_id,
            "clientId": identity.client_id,
        },
    }


def relay_json(relay: Relay, created: str) -> dict[str, Any]:
    """A Microsoft.Relay namespace (2021-11-01 shape), as the Azure CLI leaves it."""
    subscription = subscription_of(relay.id)
    return {
        "id": relay.id,
        "name": relay.name,
        "type": RELAY_TYPE,
        "location": relay.location,
        "tags": relay.tags,
        "sku": {"name": "Standard", "tier": "Standard"},
        "properties": {
            "provisioningState": "Succeeded",
            "status": "Active",
            "metricId": f"{subscription}:{relay.name.lower()}",
            "serviceBusEndpoint": f"https://{relay.name.lower()}.servicebus.windows.net:443/",
            "createdAt": created,
            "updatedAt": created,
            "publicNetworkAccess": "Enabled",
        },
    }


def hybrid_connection_json(relay: Relay, connection: HybridConnection, created: str) -> Any:
    """A hybrid connection (2021-11-01 shape); the CLI's requires client authorization."""
    return {
        "id": relay.hybrid_connection_id(connection.name),
        "name": connection.name,
        "type": HYBRID_CONNECTION_TYPE,
        "location": relay.location,
        "properties": {
            "createdAt": created,
            "updatedAt": created,
            "listenerCount": 0,
            "requiresClientAuthorization": connection.requires_client_authorization,
            "userMetadata": None,
        },
    }


def relay_rule_json(relay: Relay, connection: HybridConnection, rule: str) -> Any:
    """A hybrid connection's authorization rule: its rights, never its keys."""
    return {
        "id": f"{relay.hybrid_connection_id(connection.name)}/authorizationRules/{rule}",
        "name": rule,
        "type": RELAY_RULE_TYPE,
        "location": relay.location,
        "properties": {"rights": list(connection.rules[rule])},
    }


def get_relay_child(ctx: Ctx) -> Response:
    """GET a hybrid connection (or one of its authorization rules) by id."""
    relay = ctx.world.relay(ctx.groups["relay"])
    with ctx.world.lock:
        connection = relay.hybrid_connections.get(ctx.groups["hc"].lower()) if relay else None
        rule_name = ctx.groups.get("rule")
        if relay is None or connection is None:
            group = resource_group_of(ctx.groups["relay"])
            return not_found(HYBRID_CONNECTION_TYPE, ctx.groups["hc"], group)
        if rule_name is None:
            return Response(200, hybrid_connection_json(relay, connection, ctx.timestamp()))
        rule = next((r for r in connection.rules if r.lower() == rule_name.lower()), None)
        if rule is None:
            return not_found(RELAY_RULE_TYPE, rule_name, resource_group_of(relay.id))
        return Response(200, relay_rule_json(relay, connection, rule))


def get_by_id(ctx: Ctx) -> Response:
    resource_id = ctx.request.path
    world = ctx.world
    with world.lock:
        cluster = world.cluster(resource_id)
        if cluster is not None:
            return Response(200, cluster_json(cluster, ctx.clock.seconds()))
        identity = world.identities.get(key(resource_id))
        if identity is not None:
            return Response(200, identity_json(identity))
        relay = world.relay(resource_id)
        if relay is not None:
            return Response(200, relay_json(relay, ctx.timestamp()))
    return not_found(type_of(resource_id), name_of(resource_id), resource_group_of(resource_id))


def _summary(resource_id: str, resource_type: str, location: str, tags: dict[str, str]) -> Any:
    return {
        "id": resource_id,
        "name": name_of(resource_id),
        "type": resource_type,
        "location": location,
        "tags": dict(tags),
    }


def _parse_filter(expression: str) -> list[tuple[str, str]] | Response:
    if not expression.strip():
        return []
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if match is None:
            return bad_request(
                "InvalidFilterInQueryString",
                f"Invalid $filter '{expression}' specified in the query string.",
            )
        clauses.append((match.group(1).lower(), match.group(2)))
    return clauses


def _matches(entry: dict[str, Any], clauses: list[tuple[str, str]]) -> bool:
    tags = {name.lower(): value for name, value in entry["tags"].items()}
    tag_name = next((v.lower() for k, v in clauses if k == "tagname"), None)
    for field, value in clauses:
        if field == "tagname" and value.lower() not in tags:
            return False
        if field == "tagvalue" and (tag_name is None or tags.get(tag_name) != value):
            return False
        if field == "resourcetype" and entry["type"].lower() != value.lower():
            return False
    return True


def _all_resources(world: World) -> list[dict[str, Any]]:
    """Summaries of everything listable: existing clusters, identities, workspaces, relays."""
    entries: list[dict[str, Any]] = []
    with world.lock:
        for cluster in world.clusters.values():
            if cluster.exists:
                kind = AKS_TYPE if cluster.kind == "aks" else ARC_TYPE
                entries.append(_summary(cluster.id, kind, cluster.location, cluster.tags))
        for identity in world.identities.values():
            entries.append(_summary(identity.id, UAI_TYPE, identity.location, identity.tags))
        for ws in world.workspaces.values():
            entries.append(_summary(ws.id, WORKSPACE_TYPE, ws.location, ws.tags))
        for relay in world.relays():
            entries.append(_summary(relay.id, RELAY_TYPE, relay.location, relay.tags))
        for resource_id, resource_type, location, tags in world.hub.summaries():
            entries.append(_summary(resource_id, resource_type, location, tags))
    return sorted(entries, key=lambda e: key(e["id"]))


def _listing(ctx: Ctx, keep: Any) -> Response:
    """The filtered, paged (``nextLink`` with ``$skiptoken``) list of the entries ``keep`` likes."""
    clauses = _parse_filter(ctx.request.query.get("$filter", ""))
    if isinstance(clauses, Response):
        return clauses
    entries = [e for e in _all_resources(ctx.world) if keep(e) and _matches(e, clauses)]
    start = int(ctx.request.query.get("$skiptoken", "0") or 0)
    page = entries[start : start + LIST_PAGE_SIZE]
    body: dict[str, Any] = {"value": page}
    if start + LIST_PAGE_SIZE < len(entries):
        query = {k: v for k, v in ctx.request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = str(start + LIST_PAGE_SIZE)
        body["nextLink"] = f"{ctx.base_url}{ctx.request.path}?{urlencode(query)}"
    return Response(200, body)


def list_resources(ctx: Ctx) -> Response:
    """GET /subscriptions/{sub}/resources?$filter=... (paged with ``$skiptoken``)."""
    subscription = ctx.groups["sub"]
    return _listing(ctx, lambda e: same_id(subscription_of(e["id"]), subscription))


def list_by_resource_group(ctx: Ctx) -> Response:
    """GET /subscriptions/{sub}/resourcegroups/{rg}/resources?$filter=... (same filters, paging).

    A resource group holding nothing the world knows answers an empty list, not
    ``ResourceGroupNotFound``: the world does not model resource groups.
    """
    subscription, group = ctx.groups["sub"], ctx.groups["rg"].lower()
    return _listing(
        ctx,
        lambda e: (
            same_id(subscription_of(e["id"]), subscription)
            and resource_group_of(e["id"]).lower() == group
        ),
    )
