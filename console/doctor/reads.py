"""The reads doctor needs beyond the product's adapters, through the same ARM connection (the
product's endpoint, credential and bounded retries): any resource by id, a resource group's or a
subscription's resources of a type, a principal's role assignments with their conditions, and role
definitions. Read-only; failures are the product's typed errors (shared.decisions.errors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from shared.adapters.arm import ArmConnection
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import azure_call

# api-versions doctor reads each type with (the versions infra/ deploys).
API_VERSIONS = {
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.containerregistry/registries": "2023-07-01",
    "microsoft.servicebus/namespaces": "2024-01-01",
    "microsoft.servicebus/namespaces/queues": "2024-01-01",
    "microsoft.eventgrid/topics": "2025-02-15",
    "microsoft.eventgrid/systemtopics": "2025-02-15",
    "microsoft.eventgrid/systemtopics/eventsubscriptions": "2025-02-15",
    "microsoft.relay/namespaces": "2024-01-01",
}


@dataclass(frozen=True)
class AppAssignment:
    """One role assignment of the app's identity, with its ABAC condition."""

    id: str
    scope: ResourceId
    role: str  # the role definition GUID, lower-case
    condition: str | None


@dataclass(frozen=True)
class RoleDefinitionInfo:
    guid: str
    name: str
    custom: bool
    actions: frozenset[str]


class DoctorReads:
    def __init__(self, arm: ArmConnection) -> None:
        self._arm = arm

    def _resources(self, subscription: str) -> Any:
        return self._arm.client(ResourceManagementClient, subscription).resources

    def _authorization(self, subscription: str) -> Any:
        return self._arm.client(AuthorizationManagementClient, subscription)

    def resource(self, resource_id: ResourceId) -> dict[str, Any] | None:
        """The resource as ARM returns it (id, name, location, properties); None when absent."""
        version = API_VERSIONS[resource_id.resource_type]
        with azure_call(f"read {resource_id}"):
            try:
                found = self._resources(resource_id.subscription).get_by_id(
                    resource_id.raw, api_version=version
                )
            except ResourceNotFoundError:
                return None
        return {
            "id": found.id,
            "name": found.name,
            "location": found.location,
            "properties": dict(found.properties or {}),
            "identity": found.identity.as_dict() if found.identity else {},
        }

    def children(self, parent: ResourceId, collection: str) -> list[dict[str, Any]]:
        """The child resources of one collection (a system topic's ``eventSubscriptions``),
        as ARM lists them (every page)."""
        version = API_VERSIONS[f"{parent.resource_type}/{collection.lower()}"]
        client = self._arm.client(ResourceManagementClient, parent.subscription)
        url: str | None = f"{parent.raw}/{collection}?api-version={version}"
        found: list[dict[str, Any]] = []
        with azure_call(f"list {collection} of {parent}"):
            while url:
                response = client.send_request(HttpRequest("GET", url))
                response.raise_for_status()
                page = response.json()
                found += [v for v in page.get("value") or [] if isinstance(v, dict)]
                url = page.get("nextLink")
        return found

    def in_group(self, group: ResourceId, resource_type: str) -> list[ResourceId]:
        """The ids of a resource group's resources of one type."""
        with azure_call(f"list {resource_type} in {group}"):
            found = list(
                self._arm.client(
                    ResourceManagementClient, group.subscription
                ).resources.list_by_resource_group(
                    group.resource_group, filter=f"resourceType eq '{resource_type}'"
                )
            )
        return [ResourceId.parse(r.id) for r in found if r.id]

    def in_subscription(self, subscription: str, resource_type: str) -> list[ResourceId]:
        with azure_call(f"list {resource_type} in subscription {subscription}"):
            found = list(
                self._resources(subscription).list(filter=f"resourceType eq '{resource_type}'")
            )
        return [ResourceId.parse(r.id) for r in found if r.id]

    def assignments_of(self, principal_id: str, subscription: str) -> list[AppAssignment]:
        """Every role assignment of the principal in the subscription (at, above and below it)."""
        scope = f"/subscriptions/{subscription}"
        with azure_call(f"list role assignments of {principal_id} in {subscription}"):
            found = list(
                self._authorization(subscription).role_assignments.list_for_scope(
                    scope, filter=f"principalId eq '{principal_id}'"
                )
            )
        assignments = []
        for a in found:
            if (a.principal_id or "").lower() != principal_id.lower() or not a.scope:
                continue
            role = (a.role_definition_id or "").rsplit("/", 1)[-1].lower()
            if a.scope == "/":
                continue  # root-scoped assignments are reported by their role alone
            assignments.append(
                AppAssignment(str(a.id), ResourceId.parse(a.scope), role, a.condition or None)
            )
        return assignments

    def role_definition(self, subscription: str, guid: str) -> RoleDefinitionInfo | None:
        scope = f"/subscriptions/{subscription}"
        with azure_call(f"read role definition {guid}"):
            try:
                found = self._authorization(subscription).role_definitions.get(scope, guid)
            except ResourceNotFoundError:
                return None
        return _definition(found)

    def custom_roles(self, subscription: str) -> list[RoleDefinitionInfo]:
        scope = f"/subscriptions/{subscription}"
        with azure_call(f"list custom roles in {subscription}"):
            found = list(
                self._authorization(subscription).role_definitions.list(
                    scope, filter="type eq 'CustomRole'"
                )
            )
        return [_definition(d) for d in found]


def _definition(found: Any) -> RoleDefinitionInfo:
    actions: set[str] = set()
    for permission in found.permissions or []:
        actions |= {a.lower() for a in (permission.actions or [])}
    return RoleDefinitionInfo(
        guid=str(found.name or "").lower(),
        name=str(found.role_name or ""),
        custom=str(found.role_type or "").lower() == "customrole",
        actions=frozenset(actions),
    )
