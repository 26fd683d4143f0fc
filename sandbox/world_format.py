"""Parsing and validation of the world-file format, and the scenario changes (``apply_change``).

Every error names the entry it is about, e.g. ``clusters[1] (id '/subscriptions/...'): ...``.
The format is documented in ``docs/world-format.md``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.arm_groups import parse_groups
from sandbox.arm_ids import (
    AKS_TYPE,
    ARC_TYPE,
    AZUREML_EXTENSION_TYPE,
    RELAY_NAME,
    RELAY_TYPE,
    SANDBOX_TENANT_ID,
    UAI_TYPE,
    WORKSPACE_TYPE,
    cli_relay_name,
    deterministic_principal,
    key,
    name_of,
    relay_id,
    type_of,
)
from sandbox.hub import HUB_SECTIONS, HubError, parse_hub
from sandbox.world import (
    COMPUTE_TAGS,
    CONNECTIVITY_STATUSES,
    INSTALL_OUTCOMES,
    PROVISIONING_STATES,
    SYSTEM_ASSIGNED,
    USER_ASSIGNED,
    Cluster,
    Compute,
    Extension,
    HybridConnection,
    Identity,
    ManagedNamespace,
    Namespace,
    Relay,
    RoleAssignment,
    Workspace,
    World,
    WorldError,
    cluster_kind_ok,
)

SECTIONS = {
    "clusters",
    "workspaces",
    "identities",
    "computes",
    "role_assignments",
    "principals",
    "relays",
    "resource_groups",  # sandbox/arm_groups.py: declared groups and their tags
    *HUB_SECTIONS,  # sandbox/hub.py: what doctor reads around autoattach
}
# Virtual durations (seconds >= 0), each a World attribute of the same name.
DURATIONS = (
    "extension_install_seconds",
    "compute_attach_seconds",
    "compute_detach_seconds",
    "namespace_create_seconds",
    "role_propagation_seconds",
    "lro_retry_after_seconds",
)
# true or false, World attributes
SWITCHES = ("arm_throttling", "arm_authorization", "compute_principal_on_put")
ATTACH_FAILURES = ("operation", "refusal")  # how Azure ML reports an attach it cannot do
OPTIONS = {
    *DURATIONS,
    *SWITCHES,
    "extension_install_outcome",
    "arm_region",
    "attach_failures",
    "compute_tags",
}


def parse_world(world: World, data: Any) -> None:

    if not isinstance(data, dict):
        raise WorldError("world: expected a JSON object at the top level")
    unknown = set(data) - SECTIONS - OPTIONS
    if unknown:
        raise WorldError(
            f"world: unknown section(s) {sorted(unknown)}; known: {sorted(SECTIONS | OPTIONS)}"
        )
    _options(world, data)
    try:
        parse_hub(world.hub, data)
    except HubError as error:
        raise WorldError(str(error)) from None
    parse_groups(world, _section(data, "resource_groups"))
    for index, entry in enumerate(_section(data, "identities")):
        identity = _identity(entry, f"identities[{index}]")
        world.identities[key(identity.id)] = identity
    for index, entry in enumerate(_section(data, "workspaces")):
        workspace = _workspace(world, entry, f"workspaces[{index}]")
        world.workspaces[key(workspace.id)] = workspace
    for index, entry in enumerate(_section(data, "relays")):
        world.add_relay(_relay(entry, f"relays[{index}]"))
    for index, entry in enumerate(_section(data, "clusters")):
        cluster = parse_cluster(entry, f"clusters[{index}]")
        if key(cluster.id) in world.clusters:
            raise WorldError(f"clusters[{index}] (id {cluster.id!r}): duplicate cluster id")
        world.add_cluster(cluster)
    for index, entry in enumerate(_section(data, "computes")):
        compute = _compute(world, entry, f"computes[{index}]")
        world.put_compute(compute)
    for index, entry in enumerate(_section(data, "role_assignments")):
        where = f"role_assignments[{index}]"
        _require(entry, where, ["scope", "role_definition_id", "principal_id"])
        assignment = RoleAssignment(
            scope=_str(entry, "scope", where),
            role_definition_id=_str(entry, "role_definition_id", where),
            principal_id=_str(entry, "principal_id", where),
            name=str(entry.get("name") or uuid.uuid4()),
            description=entry.get("description"),
            principal_type=entry.get("principal_type"),
            condition=entry.get("condition"),
        )
        world.role_assignments[key(assignment.id)] = assignment
    for index, principal in enumerate(_section(data, "principals")):
        if not isinstance(principal, str):
            raise WorldError(f"principals[{index}]: expected a principal id string")
        world.extra_principals.add(principal)


def _options(world: World, data: dict[str, Any]) -> None:

    for option in DURATIONS:
        seconds = data.get(option, getattr(world, option))
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise WorldError(f"world: {option} must be a number >= 0")
        setattr(world, option, float(seconds))
    outcome = data.get("extension_install_outcome", world.extension_install_outcome)
    if outcome not in INSTALL_OUTCOMES:
        raise WorldError(
            f"world: extension_install_outcome {outcome!r} is not one of {sorted(INSTALL_OUTCOMES)}"
        )
    world.extension_install_outcome = str(outcome)
    for switch in SWITCHES:
        value = data.get(switch, getattr(world, switch))
        if not isinstance(value, bool):
            raise WorldError(f"world: {switch} must be true or false")
        setattr(world, switch, value)
    failures = data.get("attach_failures", world.attach_failures)
    if failures not in ATTACH_FAILURES:
        raise WorldError(
            f"world: attach_failures {failures!r} is not one of {list(ATTACH_FAILURES)}"
        )
    world.attach_failures = str(failures)
    tags = data.get("compute_tags", world.compute_tags)
    if tags not in COMPUTE_TAGS:
        raise WorldError(f"world: compute_tags {tags!r} is not one of {list(COMPUTE_TAGS)}")
    world.compute_tags = str(tags)
    region = data.get("arm_region", world.arm_region)
    if not isinstance(region, str) or not region:
        raise WorldError("world: arm_region must be a region name")
    world.arm_region = region


def parse_cluster(entry: Any, where: str) -> Cluster:

    _require(entry, where, ["id", "location"])
    cluster_id = _str(entry, "id", where)
    where = f"{where} (id {cluster_id!r})"
    if not cluster_kind_ok(cluster_id):
        raise WorldError(
            f"{where}: id must be a Microsoft.ContainerService/managedClusters or "
            "Microsoft.Kubernetes/connectedClusters resource id"
        )
    extensions: dict[str, Extension] = {}
    for index, raw in enumerate(entry.get("extensions") or []):
        at = f"{where}.extensions[{index}]"
        _require(raw, at, ["name", "extension_type"])
        relay_name = _relay_name(raw, cluster_id, at)
        extension = Extension(
            name=_str(raw, "name", at),
            extension_type=_str(raw, "extension_type", at),
            provisioning_state=_state(raw, at),
            succeeds_after_seconds=_seconds(raw, at),
            configuration_settings={
                **_relay_settings(cluster_id, relay_name),
                **dict(raw.get("configuration_settings") or {}),
            },
            configuration_protected_settings={
                **_relay_protected_settings(relay_name),
                **dict(raw.get("configuration_protected_settings") or {}),
            },
            release_train=str(raw.get("release_train") or "stable"),
            version=raw.get("version"),
            auto_upgrade_minor_version=bool(raw.get("auto_upgrade_minor_version", True)),
            release_namespace=str(raw.get("release_namespace") or "azureml"),
            relay_name=relay_name,
        )
        extensions[extension.name.lower()] = extension
    namespaces: dict[str, Namespace] = {}
    for index, raw in enumerate(entry.get("namespaces") or []):
        if not isinstance(raw, str):
            raise WorldError(f"{where}.namespaces[{index}]: expected a namespace name string")
        namespaces[raw.lower()] = Namespace(name=raw)
    managed = _managed_namespaces(entry, where, namespaces)
    tags = entry.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise WorldError(f"{where}: tags must be an object of strings")
    return Cluster(
        id=cluster_id,
        location=_str(entry, "location", where),
        tags=dict(tags),
        provisioning_state=_state(entry, where),
        succeeds_after_seconds=_seconds(entry, where),
        azure_rbac=bool(entry.get("azure_rbac", False)),
        extensions=extensions,
        namespaces=namespaces,
        managed_namespaces=managed,
        connectivity_status=_connectivity(entry, cluster_id, where),
        trusted_access=_trusted_access(entry, cluster_id, where),
    )


def _trusted_access(entry: dict[str, Any], cluster_id: str, where: str) -> list[str]:
    """The workspaces an AKS cluster grants Trusted Access (a trustedAccessRoleBinding each)."""
    raw = entry.get("trusted_access") or []
    if not isinstance(raw, list) or not all(isinstance(w, str) and w for w in raw):
        raise WorldError(f"{where}: trusted_access must be a list of workspace ids")
    if raw and type_of(cluster_id).lower() != AKS_TYPE.lower():
        raise WorldError(f"{where}: trusted_access is for AKS clusters only")
    return list(raw)


ADOPTION_POLICIES = ("Never", "IfIdentical", "Always")
DELETE_POLICIES = ("Keep", "Delete")


def _managed_namespaces(
    entry: dict[str, Any], where: str, namespaces: dict[str, Namespace]
) -> dict[str, ManagedNamespace]:
    """``managed_namespaces``: ARM managed namespaces (a name, or an object with ``name`` and
    optional ``provisioning_state``, ``adoption_policy``, ``delete_policy``, ``labels``). One
    that is not Failed also has its Kubernetes namespace, added to ``namespaces``."""
    raw_list = entry.get("managed_namespaces") or []
    if not isinstance(raw_list, list):
        raise WorldError(f"{where}.managed_namespaces must be a list")
    if raw_list and (type_of(str(entry["id"])).lower() == ARC_TYPE.lower()):
        raise WorldError(f"{where}.managed_namespaces: only AKS clusters have managed namespaces")
    managed: dict[str, ManagedNamespace] = {}
    for index, raw in enumerate(raw_list):
        at = f"{where}.managed_namespaces[{index}]"
        raw = {"name": raw} if isinstance(raw, str) else raw
        _require(raw, at, ["name"])
        adoption = str(raw.get("adoption_policy") or "Never")
        delete = str(raw.get("delete_policy") or "Keep")
        if adoption not in ADOPTION_POLICIES or delete not in DELETE_POLICIES:
            raise WorldError(
                f"{at}: adoption_policy must be one of {list(ADOPTION_POLICIES)} and "
                f"delete_policy one of {list(DELETE_POLICIES)}"
            )
        labels = raw.get("labels") or {}
        if not isinstance(labels, dict):
            raise WorldError(f"{at}: labels must be an object of strings")
        namespace = ManagedNamespace(
            name=_str(raw, "name", at),
            adoption_policy=adoption,
            delete_policy=delete,
            labels={str(k): str(v) for k, v in labels.items()},
            provisioning_state=_state(raw, at),
        )
        managed[namespace.name.lower()] = namespace
        if namespace.provisioning_state != "Failed":
            namespaces.setdefault(
                namespace.name.lower(), Namespace(namespace.name, dict(namespace.labels))
            )
    return managed


def _relay_name(raw: dict[str, Any], cluster_id: str, where: str) -> str | None:
    """The Relay namespace an extension was installed with (``relay: true`` -> the Azure CLI's
    name for it; ``relay_name`` -> that name); None when the world states no relay."""

    wanted, name = raw.get("relay", False), raw.get("relay_name")
    if not isinstance(wanted, bool):
        raise WorldError(f"{where}: relay must be true or false")
    if not wanted and name is None:
        return None
    is_arc = type_of(cluster_id).lower() == ARC_TYPE.lower()
    is_azureml = str(raw.get("extension_type", "")).lower() == AZUREML_EXTENSION_TYPE.lower()
    if not (is_arc and is_azureml):
        raise WorldError(
            f"{where}: relay applies only to a {AZUREML_EXTENSION_TYPE} extension on a "
            f"{ARC_TYPE} cluster"
        )
    if name is None:
        name = cli_relay_name(cluster_id)
        if not RELAY_NAME.match(name):
            raise WorldError(
                f"{where}: the Azure CLI would name this cluster's relay {name!r}, which Azure "
                "Relay refuses (it must start with a letter); state relay_name instead"
            )
    if not isinstance(name, str) or not RELAY_NAME.match(name):
        raise WorldError(
            f"{where}: relay_name must be 6-50 letters, digits or hyphens, starting with a letter "
            "and ending with a letter or digit"
        )
    return name


def _relay_settings(cluster_id: str, relay_name: str | None) -> dict[str, str]:
    """The settings the Azure CLI passes for the relay it made (none without a relay)."""
    if relay_name is None:
        return {}
    connection = name_of(cluster_id)
    return {
        "relayserver.enabled": "true",
        "relayserver.hybridConnectionResourceID": (
            f"{relay_id(cluster_id, relay_name)}/hybridConnections/{connection}"
        ),
        "relayserver.hybridConnectionName": connection,
    }


def _relay_protected_settings(relay_name: str | None) -> dict[str, str]:
    """The CLI also passes the rule's connection string, protected; the sandbox keeps only a
    placeholder (there is no key) and never returns it."""
    if relay_name is None:
        return {}
    placeholder = "(sandbox: a Relay connection string was sent here)"
    return {"relayserver.relayConnectionString": placeholder}


def _relay(entry: Any, where: str) -> Relay:
    """A Relay namespace of the top-level ``relays`` section (e.g. one no extension names)."""

    _require(entry, where, ["id", "location"])
    relay_id_text = _str(entry, "id", where)
    where = f"{where} (id {relay_id_text!r})"
    if type_of(relay_id_text).lower() != RELAY_TYPE.lower():
        raise WorldError(f"{where}: id must be a {RELAY_TYPE} resource id")
    if not RELAY_NAME.match(name_of(relay_id_text)):
        raise WorldError(f"{where}: the name must be 6-50 letters, digits or hyphens")
    tags = entry.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise WorldError(f"{where}: tags must be an object of strings")
    connections = entry.get("hybrid_connections") or []
    if not isinstance(connections, list) or not all(isinstance(c, str) for c in connections):
        raise WorldError(f"{where}: hybrid_connections must be a list of names")
    return Relay(
        id=relay_id_text,
        location=_str(entry, "location", where),
        tags=dict(tags),
        hybrid_connections={c.lower(): HybridConnection(name=c) for c in connections},
    )


def _connectivity(entry: dict[str, Any], cluster_id: str, where: str) -> str:

    status = entry.get("connectivity_status")
    if status is None:
        return "Connected"
    if type_of(cluster_id).lower() != ARC_TYPE.lower():
        raise WorldError(f"{where}: connectivity_status applies only to {ARC_TYPE} clusters")
    if status not in CONNECTIVITY_STATUSES:
        raise WorldError(
            f"{where}: connectivity_status {status!r} is not one of {sorted(CONNECTIVITY_STATUSES)}"
        )
    return str(status)


def _identity(entry: Any, where: str) -> Identity:

    _require(entry, where, ["id", "principal_id", "client_id"])
    identity_id = _str(entry, "id", where)
    if type_of(identity_id).lower() != UAI_TYPE.lower():
        raise WorldError(f"{where} (id {identity_id!r}): id must be a {UAI_TYPE} resource id")
    return Identity(
        id=identity_id,
        principal_id=_str(entry, "principal_id", where),
        client_id=_str(entry, "client_id", where),
        location=str(entry.get("location") or "westeurope"),
        tenant_id=str(entry.get("tenant_id") or SANDBOX_TENANT_ID),
        tags=dict(entry.get("tags") or {}),
    )


def _workspace(world: World, entry: Any, where: str) -> Workspace:

    _require(entry, where, ["id", "location", "storage_account", "container_registry"])
    workspace_id = _str(entry, "id", where)
    where = f"{where} (id {workspace_id!r})"
    if type_of(workspace_id).lower() != WORKSPACE_TYPE.lower():
        raise WorldError(f"{where}: id must be a {WORKSPACE_TYPE} resource id")
    identity = entry.get("identity") or {"type": "SystemAssigned"}
    identity_type = str(identity.get("type", "")).replace("_", "").lower()
    uai = identity.get("user_assigned_identity")
    if identity_type == "systemassigned":
        kind = "SystemAssigned"
    elif identity_type == "userassigned":
        kind = "UserAssigned"
        if not uai or key(uai) not in world.identities:
            raise WorldError(
                f"{where}: identity.user_assigned_identity must name an entry of 'identities'"
            )
    else:
        raise WorldError(f"{where}: identity.type must be SystemAssigned or UserAssigned")
    return Workspace(
        id=workspace_id,
        location=_str(entry, "location", where),
        storage_account=_str(entry, "storage_account", where),
        container_registry=_str(entry, "container_registry", where),
        identity_type=kind,
        user_assigned_identity=uai if kind == "UserAssigned" else None,
        tags=dict(entry.get("tags") or {}),
    )


def _compute(world: World, entry: Any, where: str) -> Compute:

    _require(entry, where, ["workspace", "name", "resource_id"])
    workspace_id = _str(entry, "workspace", where)
    where = f"{where} (name {entry.get('name')!r})"
    workspace = world.workspaces.get(key(workspace_id))
    if workspace is None:
        raise WorldError(f"{where}: workspace {workspace_id!r} is not in 'workspaces'")
    identity_type = str(entry.get("identity_type") or SYSTEM_ASSIGNED)
    uai = entry.get("user_assigned_identity")
    compute = Compute(
        workspace=workspace.id,
        name=_str(entry, "name", where),
        resource_id=_str(entry, "resource_id", where),
        namespace=str(entry.get("namespace") or "default"),
        identity_type=identity_type,
        user_assigned_identity=uai,
        provisioning_state=_state(entry, where),
        tags=dict(entry.get("tags") or {}),
        description=entry.get("description"),
        location=workspace.location,
    )
    if identity_type == SYSTEM_ASSIGNED:
        compute.principal_id = deterministic_principal(compute.id)
    elif identity_type == USER_ASSIGNED:
        identity = world.identities.get(key(uai or ""))
        if identity is None:
            raise WorldError(f"{where}: user_assigned_identity must name an entry of 'identities'")
        compute.principal_id = identity.principal_id
    else:
        raise WorldError(f"{where}: identity_type must be system_assigned or user_assigned")
    return compute


# ---- scenario changes -----------------------------------------------------------------------


def apply_change(world: World, change: Any) -> None:

    if not isinstance(change, dict) or "op" not in change:
        raise WorldError(f"change {change!r}: expected an object with an 'op'")
    op = change["op"]
    where = f"change {op!r}"
    if op == "set_tags":
        _require(change, where, ["resource", "tags"])
        _set_tags(world, change["resource"], dict(change["tags"]), where)
    elif op == "delete_cluster":
        _require(change, where, ["resource"])
        cluster = _existing_cluster(world, change["resource"], where)
        cluster.exists = False
        cluster.extensions.clear()
        cluster.namespaces.clear()
        cluster.managed_namespaces.clear()
    elif op == "set_extension_state":
        _require(change, where, ["cluster", "name", "provisioning_state"])
        cluster = _existing_cluster(world, change["cluster"], where)
        extension = cluster.extensions.get(str(change["name"]).lower())
        if extension is None:
            raise WorldError(f"{where}: cluster {cluster.id!r} has no extension {change['name']!r}")
        extension.provisioning_state = _state(change, where)
        extension.succeeds_after_seconds = _seconds(change, where)
        extension.final_state = "Succeeded"
    elif op == "set_compute_state":
        _require(change, where, ["workspace", "name", "provisioning_state"])
        compute = world.compute(change["workspace"], change["name"])
        if compute is None:
            raise WorldError(f"{where}: no compute {change['name']!r} in {change['workspace']!r}")
        compute.provisioning_state = _state(change, where)
        compute.settles_at = None  # the scenario decides: a running write is overridden
    elif op == "set_connectivity_status":
        _require(change, where, ["cluster", "connectivity_status"])
        cluster = _existing_cluster(world, change["cluster"], where)
        cluster.connectivity_status = _connectivity(change, cluster.id, where)
    elif op == "create_cluster":
        _require(change, where, ["cluster"])
        cluster = parse_cluster(change["cluster"], f"{where}.cluster")
        if world.cluster(cluster.id) is not None:
            raise WorldError(f"{where}: cluster {cluster.id!r} already exists")
        world.add_cluster(cluster)
    elif op == "set_workspace_identity":
        # a workspace contributor switches the workspace's primary user-assigned identity
        _require(change, where, ["workspace", "user_assigned_identity"])
        workspace = world.workspaces.get(key(str(change["workspace"])))
        identity = world.identities.get(key(str(change["user_assigned_identity"])))
        if workspace is None or identity is None:
            raise WorldError(f"{where}: the workspace and the identity must be in the world")
        workspace.identity_type = "UserAssigned"
        workspace.user_assigned_identity = identity.id
    else:
        raise WorldError(
            f"{where}: unknown op; known: set_tags, delete_cluster, set_extension_state, "
            "set_compute_state, create_cluster, set_connectivity_status, set_workspace_identity"
        )


def _set_tags(world: World, resource_id: str, tags: dict[str, str], where: str) -> None:

    target_key = key(resource_id)
    cluster = world.cluster(resource_id)
    if cluster is not None:
        cluster.tags = tags
        return
    for table in (world.identities, world.workspaces):
        found = table.get(target_key)
        if found is not None:
            found.tags = tags
            return
    raise WorldError(f"{where}: no resource {resource_id!r} in the world")


def _existing_cluster(world: World, resource_id: str, where: str) -> Cluster:

    cluster = world.cluster(resource_id)
    if cluster is None:
        raise WorldError(f"{where}: no existing cluster {resource_id!r}")
    return cluster


# ---- field helpers --------------------------------------------------------------------------


def _section(data: dict[str, Any], name: str) -> list[Any]:

    value = data.get(name) or []
    if not isinstance(value, list):
        raise WorldError(f"world: '{name}' must be a list")
    return value


def _require(entry: Any, where: str, fields: list[str]) -> None:

    if not isinstance(entry, dict):
        raise WorldError(f"{where}: expected an object, got {type(entry).__name__}")
    missing = [name for name in fields if entry.get(name) in (None, "")]
    if missing:
        raise WorldError(f"{where}: missing required field(s) {missing}")


def _str(entry: dict[str, Any], name: str, where: str) -> str:

    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise WorldError(f"{where}: '{name}' must be a non-empty string")
    return value


def _state(entry: dict[str, Any], where: str) -> str:

    state = str(entry.get("provisioning_state") or "Succeeded")
    if state not in PROVISIONING_STATES:
        raise WorldError(
            f"{where}: provisioning_state {state!r} is not one of {sorted(PROVISIONING_STATES)}"
        )
    return state


def _seconds(entry: dict[str, Any], where: str) -> float | None:

    value = entry.get("succeeds_after_seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise WorldError(f"{where}: succeeds_after_seconds must be a number >= 0")
    return float(value)
