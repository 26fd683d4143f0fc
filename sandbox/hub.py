"""The Azure resources around autoattach that the product does not change, only reads (through
``autoattach doctor`` and the deployment's preflight): storage accounts and container registries of
workspaces, Key Vaults holding kubeconfigs (and their secrets' names), the Service Bus
namespace and its queues, the notification topic, the Event Grid system topics with their event
subscriptions, and custom role definitions. Plus where autoattach itself is deployed
(``autoattach`` section: its resource group and its identity's principal id).

Plain data, parsed from the world file's sections of the same names (docs/world-format.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.arm_ids import key, name_of, type_of

STORAGE_TYPE = "Microsoft.Storage/storageAccounts"
REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
VAULT_TYPE = "Microsoft.KeyVault/vaults"
SERVICEBUS_TYPE = "Microsoft.ServiceBus/namespaces"
TOPIC_TYPE = "Microsoft.EventGrid/topics"
SYSTEM_TOPIC_TYPE = "Microsoft.EventGrid/systemTopics"
SITE_TYPE = "Microsoft.Web/sites"
ROLE_DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"
EVENT_GRID_STATES = ("Creating", "Updating", "Deleting", "Succeeded", "Canceled", "Failed")
HUB_SECTIONS = (
    "autoattach",
    "storage_accounts",
    "container_registries",
    "key_vaults",
    "function_apps",
    "service_bus_namespaces",
    "event_grid_topics",
    "system_topics",
    "role_definitions",
)


class HubError(ValueError):
    """A hub section of a world file is malformed (the sandbox turns it into a WorldError)."""


@dataclass
class PlainResource:
    """A resource read only by id: a storage account, a registry, a notification topic."""

    id: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Queue:
    name: str
    lock_duration: str = "PT1M"  # Service Bus defaults when created without settings
    max_delivery_count: int = 10
    requires_duplicate_detection: bool = False
    duplicate_detection_window: str = "PT10M"
    default_message_ttl: str = "P14D"


@dataclass
class ServiceBusNamespace:
    id: str
    location: str
    queues: dict[str, Queue] = field(default_factory=dict)  # lower-cased name -> queue
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class AdvancedFilter:
    operator_type: str
    key: str
    values: list[str]


@dataclass
class EventSubscription:
    name: str
    queue: str  # the Service Bus queue's resource id it delivers to
    provisioning_state: str = "Succeeded"
    included_event_types: list[str] = field(default_factory=list)
    advanced_filters: list[AdvancedFilter] = field(default_factory=list)
    event_delivery_schema: str = "EventGridSchema"


@dataclass
class SystemTopic:
    id: str
    source: str
    topic_type: str = "Microsoft.Resources.Subscriptions"
    location: str = "global"
    provisioning_state: str = "Succeeded"
    principal_id: str = ""
    subscriptions: dict[str, EventSubscription] = field(default_factory=dict)  # lower-cased


@dataclass
class RoleDefinition:
    id: str  # /subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}
    role_name: str
    actions: list[str]
    data_actions: list[str] = field(default_factory=list)
    description: str = ""
    not_actions: list[str] = field(default_factory=list)  # taken out of ``actions``
    assignable_scopes: list[str] = field(default_factory=list)

    @property
    def guid(self) -> str:
        return name_of(self.id).lower()


@dataclass
class FunctionApp:
    """autoattach's Function App: what the console reads of it with ``--app ID`` (its app
    settings). ``app_settings`` None: the settings the sandbox itself runs the app with."""

    id: str
    location: str
    app_settings: dict[str, str] | None = None


@dataclass
class Hub:
    deployment: dict[str, str] = field(default_factory=dict)
    storage_accounts: dict[str, PlainResource] = field(default_factory=dict)  # key(id)
    registries: dict[str, PlainResource] = field(default_factory=dict)
    vaults: dict[str, PlainResource] = field(default_factory=dict)
    vault_secrets: dict[str, set[str]] = field(default_factory=dict)  # key(vault id) -> lower names
    service_bus: dict[str, ServiceBusNamespace] = field(default_factory=dict)
    topics: dict[str, PlainResource] = field(default_factory=dict)
    system_topics: dict[str, SystemTopic] = field(default_factory=dict)
    role_definitions: dict[str, RoleDefinition] = field(default_factory=dict)  # lower guid
    function_apps: dict[str, FunctionApp] = field(default_factory=dict)  # key(id)

    def summaries(self) -> list[tuple[str, str, str, dict[str, str]]]:
        """(id, type, location, tags) of every listable resource here."""
        found = [(r.id, STORAGE_TYPE, r.location, r.tags) for r in self.storage_accounts.values()]
        found += [(r.id, REGISTRY_TYPE, r.location, r.tags) for r in self.registries.values()]
        found += [(r.id, VAULT_TYPE, r.location, r.tags) for r in self.vaults.values()]
        found += [(n.id, SERVICEBUS_TYPE, n.location, n.tags) for n in self.service_bus.values()]
        found += [(r.id, TOPIC_TYPE, r.location, r.tags) for r in self.topics.values()]
        found += [(t.id, SYSTEM_TOPIC_TYPE, t.location, {}) for t in self.system_topics.values()]
        return found


def parse_hub(hub: Hub, data: dict[str, Any]) -> None:
    deployment = data.get("autoattach") or {}
    if not isinstance(deployment, dict) or not all(
        isinstance(deployment.get(k, ""), str) for k in ("resource_group", "principal_id")
    ):
        raise HubError("autoattach: expected {resource_group, principal_id} strings")
    hub.deployment = {k: str(v) for k, v in deployment.items()}
    for index, entry in enumerate(_list(data, "storage_accounts")):
        resource = _plain(entry, f"storage_accounts[{index}]", STORAGE_TYPE)
        hub.storage_accounts[key(resource.id)] = resource
    for index, entry in enumerate(_list(data, "container_registries")):
        resource = _plain(entry, f"container_registries[{index}]", REGISTRY_TYPE)
        hub.registries[key(resource.id)] = resource
    for index, entry in enumerate(_list(data, "key_vaults")):
        where = f"key_vaults[{index}]"
        resource = _plain(entry, where, VAULT_TYPE)
        names = entry.get("secrets", []) if isinstance(entry, dict) else []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise HubError(f"{where}: 'secrets' must be a list of secret names")
        hub.vaults[key(resource.id)] = resource
        hub.vault_secrets[key(resource.id)] = {n.lower() for n in names}
    for index, entry in enumerate(_list(data, "function_apps")):
        where = f"function_apps[{index}]"
        resource = _plain(entry, where, SITE_TYPE)
        settings = entry.get("app_settings") if isinstance(entry, dict) else None
        if settings is not None and not (
            isinstance(settings, dict) and all(isinstance(v, str) for v in settings.values())
        ):
            raise HubError(f"{where}: 'app_settings' must be an object of strings")
        hub.function_apps[key(resource.id)] = FunctionApp(
            resource.id, resource.location, dict(settings) if settings is not None else None
        )
    for index, entry in enumerate(_list(data, "event_grid_topics")):
        resource = _plain(entry, f"event_grid_topics[{index}]", TOPIC_TYPE)
        hub.topics[key(resource.id)] = resource
    for index, entry in enumerate(_list(data, "service_bus_namespaces")):
        namespace = _namespace(entry, f"service_bus_namespaces[{index}]")
        hub.service_bus[key(namespace.id)] = namespace
    for index, entry in enumerate(_list(data, "system_topics")):
        topic = _system_topic(entry, f"system_topics[{index}]")
        hub.system_topics[key(topic.id)] = topic
    for index, entry in enumerate(_list(data, "role_definitions")):
        definition = _role_definition(entry, f"role_definitions[{index}]")
        hub.role_definitions[definition.guid] = definition


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name) or []
    if not isinstance(value, list):
        raise HubError(f"world: '{name}' must be a list")
    return value


def _text(entry: Any, name: str, where: str, default: str | None = None) -> str:
    if not isinstance(entry, dict):
        raise HubError(f"{where}: expected an object")
    value = entry.get(name, default)
    if not isinstance(value, str) or not value:
        raise HubError(f"{where}: '{name}' must be a non-empty string")
    return value


def _typed_id(entry: Any, where: str, resource_type: str) -> str:
    resource_id = _text(entry, "id", where)
    if type_of(resource_id).lower() != resource_type.lower():
        raise HubError(f"{where} (id {resource_id!r}): id must be a {resource_type} resource id")
    return resource_id


def _plain(entry: Any, where: str, resource_type: str) -> PlainResource:
    if isinstance(entry, str):
        entry = {"id": entry}
    resource_id = _typed_id(entry, where, resource_type)
    return PlainResource(
        resource_id,
        _text(entry, "location", where, "westeurope"),
        {str(k): str(v) for k, v in (entry.get("tags") or {}).items()},
    )


def _namespace(entry: Any, where: str) -> ServiceBusNamespace:
    namespace_id = _typed_id(entry, where, SERVICEBUS_TYPE)
    namespace = ServiceBusNamespace(namespace_id, _text(entry, "location", where, "westeurope"))
    for index, raw in enumerate(entry.get("queues") or []):
        at = f"{where}.queues[{index}]"
        count = raw.get("max_delivery_count", 10) if isinstance(raw, dict) else None
        duplicates = raw.get("requires_duplicate_detection", False) if isinstance(raw, dict) else 0
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise HubError(f"{at}: max_delivery_count must be a whole number >= 1")
        if not isinstance(duplicates, bool):
            raise HubError(f"{at}: requires_duplicate_detection must be true or false")
        queue = Queue(
            name=_text(raw, "name", at),
            lock_duration=_text(raw, "lock_duration", at, "PT1M"),
            max_delivery_count=count,
            requires_duplicate_detection=duplicates,
            duplicate_detection_window=_text(raw, "duplicate_detection_window", at, "PT10M"),
            default_message_ttl=_text(raw, "default_message_ttl", at, "P14D"),
        )
        namespace.queues[queue.name.lower()] = queue
    return namespace


def _system_topic(entry: Any, where: str) -> SystemTopic:
    topic_id = _typed_id(entry, where, SYSTEM_TOPIC_TYPE)
    topic = SystemTopic(
        id=topic_id,
        source=_text(entry, "source", where),
        topic_type=_text(entry, "topic_type", where, "Microsoft.Resources.Subscriptions"),
        location=_text(entry, "location", where, "global"),
        provisioning_state=_event_grid_state(entry, where),
        principal_id=str(entry.get("principal_id") or ""),
    )
    for index, raw in enumerate(entry.get("event_subscriptions") or []):
        at = f"{where}.event_subscriptions[{index}]"
        filters = []
        for f_index, f in enumerate(raw.get("advanced_filters") or []):
            f_at = f"{at}.advanced_filters[{f_index}]"
            values = f.get("values") if isinstance(f, dict) else None
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise HubError(f"{f_at}: values must be a list of strings")
            filters.append(
                AdvancedFilter(_text(f, "operator_type", f_at), _text(f, "key", f_at), values)
            )
        types = raw.get("included_event_types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise HubError(f"{at}: included_event_types must be a list of strings")
        subscription = EventSubscription(
            name=_text(raw, "name", at),
            queue=_text(raw, "queue", at),
            provisioning_state=_event_grid_state(raw, at),
            included_event_types=list(types),
            advanced_filters=filters,
            event_delivery_schema=_text(raw, "event_delivery_schema", at, "EventGridSchema"),
        )
        topic.subscriptions[subscription.name.lower()] = subscription
    return topic


def _event_grid_state(entry: dict[str, Any], where: str) -> str:
    state = entry.get("provisioning_state", "Succeeded")
    if state not in EVENT_GRID_STATES:
        raise HubError(f"{where}: provisioning_state {state!r} is not one of {EVENT_GRID_STATES}")
    return str(state)


def _role_definition(entry: Any, where: str) -> RoleDefinition:
    definition_id = _typed_id(entry, where, ROLE_DEFINITION_TYPE)
    actions = entry.get("actions") or []
    data_actions = entry.get("data_actions") or []
    not_actions = entry.get("not_actions") or []
    for name, value in (
        ("actions", actions),
        ("data_actions", data_actions),
        ("not_actions", not_actions),
    ):
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise HubError(f"{where}: {name} must be a list of strings")
    scopes = entry.get("assignable_scopes") or ["/" + "/".join(definition_id.split("/")[1:3])]
    return RoleDefinition(
        id=definition_id,
        role_name=_text(entry, "role_name", where),
        actions=list(actions),
        data_actions=list(data_actions),
        description=str(entry.get("description") or ""),
        not_actions=list(not_actions),
        assignable_scopes=[str(s) for s in scopes],
    )
