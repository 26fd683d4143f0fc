"""What the app's identity must hold, where, and whether it does: the one place in code that
states what infra/ grants it (tests/e2e/test_doctor.py holds this and infra/ together).

Pure: ``expected_grants`` from the deployment's resources and the policy; ``check_grants`` from
the identity's role assignments (with their ABAC conditions) and the definitions of the roles
they name.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from console.doctor.reads import AppAssignment, RoleDefinitionInfo
from console.doctor.report import Check, ok, problem
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import IdentityType, Role
from shared.decisions.policy import AttachPolicy

AREA = "permissions"

# Built-in roles infra/ gives the app's identity (infra/modules/app-access.bicep,
# identity-access.bicep, keyvault-access.bicep).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
SERVICE_BUS_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
EVENTGRID_DATA_SENDER = "d5a91429-5739-47e2-a06b-3470a27159e7"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
BUILT_IN_TITLES = {
    STORAGE_BLOB_DATA_OWNER: "Storage Blob Data Owner",
    SERVICE_BUS_DATA_OWNER: "Azure Service Bus Data Owner",
    EVENTGRID_DATA_SENDER: "EventGrid Data Sender",
    MONITORING_METRICS_PUBLISHER: "Monitoring Metrics Publisher",
    MANAGED_IDENTITY_OPERATOR: "Managed Identity Operator",
    KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
}
# Granted by infra/ where doctor cannot name the scope from the settings alone (App Insights,
# the kubeconfig vault or its secrets): held anywhere, never "more than meant".
ALLOWED_ANYWHERE = frozenset({MONITORING_METRICS_PUBLISHER, KEY_VAULT_SECRETS_USER})

# autoattach's custom roles: exactly the actions of infra/modules/custom-roles.bicep.
CUSTOM_ROLES: dict[str, tuple[str, ...]] = {
    "cluster operator": (
        "Microsoft.Resources/subscriptions/resources/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.ContainerService/managedClusters/read",
        "Microsoft.Kubernetes/connectedClusters/read",
        "Microsoft.KubernetesConfiguration/extensions/read",
        "Microsoft.KubernetesConfiguration/extensions/write",
        "Microsoft.KubernetesConfiguration/extensions/operations/read",
        "Microsoft.ContainerService/managedClusters/managedNamespaces/read",
        "Microsoft.ContainerService/managedClusters/managedNamespaces/write",
        "Microsoft.ContainerService/locations/operations/read",
        "Microsoft.ContainerService/locations/operationresults/read",
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/read",
        "Microsoft.Relay/namespaces/read",
        "Microsoft.Relay/namespaces/hybridConnections/read",
    ),
    "compute operator": (
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.MachineLearningServices/workspaces/computes/read",
        "Microsoft.MachineLearningServices/workspaces/computes/write",
        "Microsoft.MachineLearningServices/workspaces/computes/delete",
    ),
    "role delegator": (
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
    ),
    "assignment reader": ("Microsoft.Authorization/roleAssignments/read",),
    "operation reader": (
        "Microsoft.MachineLearningServices/locations/computeoperationsstatus/read",
    ),
}
# What the role delegator's condition lets autoattach grant: the cluster roles in each watched
# subscription, only to the allowed workspaces' user-assigned identities (infra/modules/
# delegated-rbac.bicep); the data roles on each workspace's registry and storage account
# (delegated-rbac-data.bicep).
CLUSTER_GRANTABLE = (
    Role.READER,
    Role.KUBERNETES_EXTENSION_CONTRIBUTOR,
    Role.AKS_CLUSTER_ADMIN,
    Role.AZURE_RELAY_OWNER,
    Role.CONTRIBUTOR,  # on AKS clusters whose Trusted Access binds the workspace
)
REGISTRY_GRANTABLE = (Role.ACR_PULL,)
STORAGE_GRANTABLE = (Role.STORAGE_BLOB_DATA_READER, Role.STORAGE_BLOB_DATA_CONTRIBUTOR)
DATA_GRANTABLE = REGISTRY_GRANTABLE + STORAGE_GRANTABLE
# infra/abac/rbac-admin-condition.txt on one line (a test holds the two together): the data roles.
CONDITION_TEMPLATE = (
    "( ( !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) ) OR ( "
    "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals {__GRANTABLE_ROLES__} AND "
    "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase "
    "'ServicePrincipal' AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] "
    "ForAnyOfAllValues:GuidNotEquals {__SELF__} ) ) AND ( ( "
    "!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}) ) OR ( "
    "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals {__GRANTABLE_ROLES__} AND "
    "@Resource[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase "
    "'ServicePrincipal' AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] "
    "ForAnyOfAllValues:GuidNotEquals {__SELF__} ) )"
)
# infra/abac/cluster-roles-condition.txt on one line: the cluster roles, to these principals only.
CLUSTER_CONDITION_TEMPLATE = (
    "( ( !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) ) OR ( "
    "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals {__GRANTABLE_ROLES__} AND "
    "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase "
    "'ServicePrincipal' AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] "
    "ForAnyOfAnyValues:GuidEquals {__PRINCIPALS__} AND "
    "@Request[Microsoft.Authorization/roleAssignments:PrincipalId] "
    "ForAnyOfAllValues:GuidNotEquals {__SELF__} ) ) AND ( ( "
    "!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}) ) OR ( "
    "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals {__GRANTABLE_ROLES__} AND "
    "@Resource[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase "
    "'ServicePrincipal' AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] "
    "ForAnyOfAnyValues:GuidEquals {__PRINCIPALS__} AND "
    "@Resource[Microsoft.Authorization/roleAssignments:PrincipalId] "
    "ForAnyOfAllValues:GuidNotEquals {__SELF__} ) )"
)
_PINNED = re.compile(r"PrincipalId\]\s*ForAnyOfAnyValues:GuidEquals", re.I)
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@dataclass(frozen=True)
class Need:
    """One role the app's identity must hold at (or above) ``scope``: a built-in role by GUID, or
    one of autoattach's custom roles by title; a delegator's condition must allow ``grantable``."""

    scope: ResourceId
    role: str  # a built-in GUID, or a key of CUSTOM_ROLES
    why: str
    grantable: tuple[Role, ...] = field(default=())
    principals: tuple[str, ...] = field(default=())  # the only principals it may grant to

    @property
    def custom(self) -> bool:
        return self.role in CUSTOM_ROLES

    @property
    def title(self) -> str:
        return f"autoattach {self.role}" if self.custom else BUILT_IN_TITLES[self.role]


@dataclass(frozen=True)
class WorkspaceFacts:
    """What doctor read of a workspace of the policy: its registry and storage account (where the
    data roles are delegated) and, when it runs under a user-assigned identity, that identity's
    principal id (the only principals the cluster roles are delegated for)."""

    workspace: ResourceId
    registry: ResourceId | None = None
    storage: ResourceId | None = None
    identity_principal: str | None = None


@dataclass(frozen=True)
class HubResources:
    """autoattach's own resources, as found in its resource group (None: not found)."""

    storage: ResourceId | None = None
    queues: tuple[ResourceId, ...] = ()
    topic: ResourceId | None = None


def expected_grants(
    hub: HubResources,
    watched: Iterable[str],
    policy: AttachPolicy,
    workspaces: Iterable[WorkspaceFacts] = (),
) -> list[Need]:
    """Every role infra/ gives the app's identity, at its scope (docs/deploy.md's table).
    ``workspaces``: what was read of the policy's workspaces; the data-role delegators of a
    workspace not among them (unreadable) are not expected (its own check says why)."""
    facts = list(workspaces)
    needs: list[Need] = []
    if hub.storage is not None:
        needs.append(Need(hub.storage, STORAGE_BLOB_DATA_OWNER, "the host's storage and ledger"))
    for queue in hub.queues:
        needs.append(Need(queue, SERVICE_BUS_DATA_OWNER, f"receive and re-check on {queue.name}"))
    if hub.topic is not None:
        needs.append(Need(hub.topic, EVENTGRID_DATA_SENDER, "publish owner notifications"))
    principals = tuple(
        sorted({f.identity_principal.lower() for f in facts if f.identity_principal})
    )
    watched_subs = list(dict.fromkeys(s.lower() for s in watched))
    for sub in watched_subs:
        scope = ResourceId.parse(f"/subscriptions/{sub}")
        needs.append(Need(scope, "cluster operator", "read clusters, extensions, namespaces"))
        if principals:  # infra delegates the cluster roles only to workspaces' own identities
            needs.append(
                Need(
                    scope,
                    "role delegator",
                    "grant cluster roles to workspace identities",
                    grantable=CLUSTER_GRANTABLE,
                    principals=principals,
                )
            )
        needs.append(Need(scope, "assignment reader", "see which roles are held"))
    groups: dict[str, ResourceId] = {}
    for rule in policy.workspaces:
        workspace = rule.workspace_id
        needs.append(Need(workspace, "compute operator", "attach and detach computes"))
        group = ResourceId.parse(
            f"/subscriptions/{workspace.subscription}/resourceGroups/{workspace.resource_group}"
        )
        groups.setdefault(group.key, group)
    for group in groups.values():
        # ARM checks an operation's status at the resource group, not at the workspace
        needs.append(Need(group, "operation reader", "read the status of attaches and detaches"))
    data: dict[str, Need] = {}
    allowed = {rule.workspace_id.key for rule in policy.workspaces}
    for fact in facts:
        if fact.workspace.key not in allowed:
            continue
        if fact.registry is not None:
            data.setdefault(
                fact.registry.key,
                Need(fact.registry, "role delegator", "grant AcrPull", REGISTRY_GRANTABLE),
            )
        if fact.storage is not None:
            data.setdefault(
                fact.storage.key,
                Need(fact.storage, "role delegator", "grant storage data roles", STORAGE_GRANTABLE),
            )
    needs += data.values()
    data_subs = [g.subscription.lower() for g in groups.values()]
    data_subs += [n.scope.subscription.lower() for n in data.values()]
    for sub in dict.fromkeys(data_subs):
        if sub not in watched_subs:
            scope = ResourceId.parse(f"/subscriptions/{sub}")
            needs.append(Need(scope, "assignment reader", "see which roles are held"))
    identities: dict[str, ResourceId] = {}
    for rule in policy.workspaces:
        for template in rule.computes:
            identity = template.identity
            if identity.type is IdentityType.USER_ASSIGNED and identity.resource_id is not None:
                identities.setdefault(identity.resource_id.key, identity.resource_id)
    for identity_id in identities.values():
        needs.append(
            Need(identity_id, MANAGED_IDENTITY_OPERATOR, "attach computes with this identity")
        )
    return needs


def subscriptions_of(needs: Iterable[Need]) -> list[str]:
    """The subscriptions whose role assignments doctor reads."""
    return list(dict.fromkeys(n.scope.subscription.lower() for n in needs))


def condition_for(
    grantable: Iterable[Role], principal_id: str, principals: Iterable[str] = ()
) -> str:
    """The ABAC condition infra/ puts on a role delegator: these roles, to service principals
    other than autoattach (and, with ``principals``, to those only)."""
    roles = ", ".join(r.value for r in grantable)
    only = ", ".join(principals)
    template = CLUSTER_CONDITION_TEMPLATE if only else CONDITION_TEMPLATE
    return (
        template.replace("__GRANTABLE_ROLES__", roles)
        .replace("__PRINCIPALS__", only)
        .replace("__SELF__", principal_id)
    )


def _covers(need: Need, definition: RoleDefinitionInfo | None) -> bool:
    if definition is None or not definition.custom:
        return False
    return {a.lower() for a in CUSTOM_ROLES[need.role]} <= definition.actions


def _condition_problem(need: Need, condition: str | None, principal_id: str) -> str | None:
    """Why the assignment's condition is not what infra/ sets, or None."""
    if not need.grantable:
        return None
    if not condition:
        return "it has no ABAC condition, so it may grant any role to anyone, itself included"
    guids = {g.lower() for g in _GUID.findall(condition)}
    missing = [r.display_name for r in need.grantable if r.value not in guids]
    unreached = [p for p in need.principals if p not in guids]
    meant = {r.value for r in need.grantable} | set(need.principals) | {principal_id.lower()}
    extra = sorted(guids - meant)
    if missing:
        return f"its condition does not let it grant {', '.join(missing)}"
    if need.principals and not _PINNED.search(condition):
        return "its condition lets it grant the cluster roles to any service principal"
    if unreached:
        return f"its condition does not let it grant to workspace identity {', '.join(unreached)}"
    if extra:
        return f"its condition also allows {', '.join(extra)}, which the deployment does not"
    if principal_id.lower() not in guids or "serviceprincipal" not in condition.lower():
        return "its condition does not keep it to other service principals"
    return None


def _create_command(need: Need, principal_id: str, role: str) -> str:
    parts = [
        "az role assignment create",
        f"--assignee-object-id {principal_id}",
        "--assignee-principal-type ServicePrincipal",
        f"--role {shlex.quote(role)}",
        f"--scope {need.scope.raw}",
    ]
    if need.grantable:
        condition = condition_for(need.grantable, principal_id, need.principals)
        parts += ["--condition-version 2.0", f"--condition {shlex.quote(condition)}"]
    return " ".join(parts)


def _allows(need: Need, condition: str | None) -> bool:
    """Whether an assignment with this condition lets the app do what ``need`` is for: a role
    without a condition allows everything; a delegator's condition must name every role of the
    need (whether it is tighter than infra/ sets is judged apart: ``_condition_problem``)."""
    if not need.grantable or not condition:
        return True
    guids = {g.lower() for g in _GUID.findall(condition)}
    return all(r.value in guids for r in need.grantable)


def check_grants(
    needs: list[Need],
    principal_id: str,
    assignments: list[AppAssignment],
    definitions: Mapping[str, RoleDefinitionInfo | None],
    custom_roles: Mapping[str, list[RoleDefinitionInfo]],
) -> list[Check]:
    """One line per need, then one per assignment the deployment did not mean.

    ``definitions``: role GUID -> its definition (None: unreadable) for every role the identity
    holds that is not a known built-in; ``custom_roles``: subscription -> its custom roles (to
    name the one a fix should assign).

    An assignment counts for a need only when it is at or above the need's scope, of the right
    role, and (for a delegator) its condition lets it grant the need's roles: the subscription's
    cluster-role delegator is inherited by a workspace's resource group, but does not hold the
    data roles there. A fix never deletes an assignment some other need rests on."""
    checks: list[Check] = []
    candidates: dict[Need, list[AppAssignment]] = {}
    for need in needs:
        found = [
            a
            for a in assignments
            if need.scope.is_within(a.scope)
            and (a.role == need.role if not need.custom else _covers(need, definitions.get(a.role)))
            and _allows(need, a.condition)
        ]
        found.sort(key=lambda a: -len(a.scope.key))  # the nearest assignment first
        candidates[need] = found
    needed = {a.id.lower(): need for need in needs for a in candidates[need]}
    for need in needs:
        where = f"{need.title} at {need.scope.raw}"
        holding = candidates[need]
        if not holding:
            checks.append(_missing(need, where, principal_id, custom_roles))
            continue
        reasons = [_condition_problem(need, a.condition, principal_id) for a in holding]
        if not all(reasons):
            checks.append(ok(AREA, where, f"held ({need.why})"))
            continue
        nearest = holding[0]
        create = _create_command(need, principal_id, _role_name(need, custom_roles))
        # another need whose only holding it is: deleting it would take that right away
        others = [n for n in needs if n != need and candidates[n] == [nearest]]
        if others or nearest.scope.key != need.scope.key:
            # the assignment also serves another need, or sits above this scope: keep it, and
            # add the one this need should have
            fix = f"add the assignment infra/ gives at this scope: {create}"
        else:
            fix = (
                "set the condition infra/abac/rbac-admin-condition.txt gives it: `azd provision`, "
                f"or `az role assignment delete --ids {nearest.id}` and then {create}"
            )
        checks.append(problem(AREA, where, f"held, but {reasons[0]}", fix))
    for assignment in assignments:
        if assignment.id.lower() in needed or assignment.role in ALLOWED_ANYWHERE:
            continue
        definition = definitions.get(assignment.role)
        title = BUILT_IN_TITLES.get(assignment.role) or (
            definition.name if definition is not None else f"role {assignment.role}"
        )
        checks.append(
            problem(
                AREA,
                f"{title} at {assignment.scope.raw}",
                "held, but the deployment does not grant it: more than autoattach needs",
                f"remove it: az role assignment delete --ids {assignment.id}",
            )
        )
    return checks


def _role_name(need: Need, custom_roles: Mapping[str, list[RoleDefinitionInfo]]) -> str:
    """What ``--role`` takes: a built-in GUID, or the GUID of the subscription's autoattach
    custom role with these actions (empty when there is none)."""
    if not need.custom:
        return need.role
    for definition in custom_roles.get(need.scope.subscription.lower(), []):
        if _covers(need, definition):
            return definition.guid
    return ""


def _missing(
    need: Need, where: str, principal_id: str, custom_roles: Mapping[str, list[RoleDefinitionInfo]]
) -> Check:
    role = _role_name(need, custom_roles)
    if not role:
        return problem(
            AREA,
            where,
            f"missing ({need.why}), and subscription {need.scope.subscription} has no "
            f"{need.title} custom role",
            "run `azd provision`: it creates the custom roles and assigns them",
        )
    return problem(AREA, where, f"missing ({need.why})", _create_command(need, principal_id, role))
