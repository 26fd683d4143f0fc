"""ARM's authorization of every request (Azure RBAC), enforced when the world says
``arm_authorization: true``.

In Azure each request is authorized before a resource provider sees it: the caller's role
assignments at the request's scope or above must grant the request's action, else ARM answers
403 ``AuthorizationFailed`` ("The client '<oid>' with object id '<oid>' does not have
authorization to perform action '<action>' over scope '<scope>' or the scope is invalid. ...").

- The action is ``{provider}/{type path}/read|write|delete`` (``.../{name}/action`` for POST),
  from the path's last ``providers`` segment (extension resources such as role assignments and
  cluster extensions) or ``Microsoft.Resources`` for paths without one.
- A role grants an action when one of its ``actions`` matches it and none of its ``notActions``
  does (ARM's wildcards: ``*`` matches anything, case-insensitive). Roles: the world's custom role
  definitions (``role_definitions``) and the few built-in roles modelled here (``BUILT_IN_ROLES``).
- An assignment with an ABAC condition grants only where its condition holds. The double reads
  exactly what Microsoft's "Authorization actions and attributes" documents for role assignment
  writes and deletes: ``@Request`` attributes for ``roleAssignments/write``, ``@Resource``
  attributes for ``roleAssignments/delete``, each of RoleDefinitionId, PrincipalId, PrincipalType;
  GUID operators GuidEquals, GuidNotEquals, ForAnyOfAnyValues:GuidEquals,
  ForAnyOfAllValues:GuidNotEquals; PrincipalType StringEqualsIgnoreCase,
  StringNotEqualsIgnoreCase and their ForAnyOfAnyValues forms. A role assignment PUT with any
  other condition is refused (400, sandbox/arm_authorization.py); one already in a world that the
  double cannot read grants nothing.
- A location-based long-running operation status read (``.../locations/{r}/{segment}/{id}``) is
  authorized with ``{provider}/locations/{segment}/read`` at the resource group of the
  operation's resource: Microsoft's "Track asynchronous Azure operations", *Permission for
  tracking async status*: "Because the URL to track status isn't scoped to the resource, you must
  have permission at the resource group level."

What the double guesses is listed in sandbox/README.md (*Authorization*).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.arm_http import arm_error
from sandbox.arm_ids import key, segments
from sandbox.arm_throttle import actor_of
from sandbox.https import Response
from sandbox.world import RoleAssignment, World

ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
# Status segments under ``/subscriptions/{s}/providers/{p}/locations/{r}/`` the double answers
# (sandbox/arm_lro.py) plus ARM's generic ones.
STATUS_SEGMENTS = ("operationStatuses", "operationResults", "operations", "computeOperationsStatus")
_LOCATION_STATUS = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/providers/(?P<ns>[^/]+)/locations/[^/]+/"
    rf"(?P<segment>{'|'.join(STATUS_SEGMENTS)})/(?P<op>[^/]+)/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Permissions:
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()


# Built-in roles, with their control-plane actions as Microsoft's "Azure built-in roles" lists
# them: Reader (what autoattach grants workspace identities, useful in tests) and the built-in
# roles infra/ gives the app's identity (console/doctor/grants.py BUILT_IN_TITLES). Data actions
# are not modelled: the double authorizes ARM, not data planes.
BUILT_IN_ROLES: dict[str, Permissions] = {
    # Reader
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": Permissions(("*/read",)),
    # Managed Identity Operator
    "f1a07417-d97a-45cb-824c-7a7467783830": Permissions(
        (
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        )
    ),
    # Storage Blob Data Owner
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": Permissions(
        (
            "Microsoft.Storage/storageAccounts/blobServices/containers/*",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        )
    ),
    # Azure Service Bus Data Owner
    "090c5cfd-751d-490a-894a-3ce6f1109419": Permissions(("Microsoft.ServiceBus/*",)),
    # EventGrid Data Sender
    "d5a91429-5739-47e2-a06b-3470a27159e7": Permissions(
        (
            "Microsoft.EventGrid/topics/read",
            "Microsoft.EventGrid/domains/read",
            "Microsoft.EventGrid/partnerNamespaces/read",
            "Microsoft.EventGrid/namespaces/read",
        )
    ),
    # Monitoring Metrics Publisher
    "3913510d-42f4-4e42-8a64-420c390055eb": Permissions(
        (
            "Microsoft.Insights/Register/Action",
            "Microsoft.Support/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        )
    ),
    # Key Vault Secrets User: data actions only
    "4633458b-17de-408a-b874-0445c86b69e6": Permissions(()),
}


# ---- actions and scopes ----------------------------------------------------------------------


def action_of(method: str, path: str) -> str:
    """The ARM action a request needs: ``Microsoft.X/type/child/read|write|delete``, or
    ``Microsoft.X/type/{name}/action`` for a POST."""
    parts = segments(path.split("?", 1)[0])
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        index = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace, tail = (parts[index + 1 : index + 2] or [""])[0], parts[index + 2 :]
    else:
        namespace, tail = "Microsoft.Resources", parts
    types = tail[0::2]
    verb = method.upper()
    if verb == "POST":
        return "/".join([namespace, *types, "action"])
    operation = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(verb, "write")
    return "/".join([namespace, *types, operation])


@functools.lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    regex = ".*".join(re.escape(p) for p in text.split("*"))
    return re.compile(regex.replace("/.*/", "/(?:.*/)?"), re.IGNORECASE)


def action_matches(pattern: str, action: str) -> bool:
    """ARM's action wildcards: ``*`` stands for any text (segments included), and a ``/*/``
    segment for none too -- Managed Identity Operator's ``userAssignedIdentities/*/read`` and
    ``.../*/assign/action`` are how it grants ``userAssignedIdentities/read`` and
    ``userAssignedIdentities/assign/action`` ("Read and Assign User Assigned Identity");
    case-insensitive."""
    return _pattern(pattern).fullmatch(action) is not None


def grants(permissions: Permissions, action: str) -> bool:
    return any(action_matches(a, action) for a in permissions.actions) and not any(
        action_matches(n, action) for n in permissions.not_actions
    )


def is_within(scope: str, assigned_at: str) -> bool:
    """Whether ``scope`` is ``assigned_at`` or below it (``/`` is above everything)."""
    outer, inner = key(assigned_at), key(scope)
    return outer == "/" or inner == outer or inner.startswith(outer + "/")


def resource_group_scope(resource_id: str) -> str:
    """``/subscriptions/{s}/resourceGroups/{rg}`` of an id (its subscription when it has none)."""
    parts = segments(resource_id)
    lowered = [p.lower() for p in parts]
    if len(parts) >= 4 and lowered[0] == "subscriptions" and lowered[2] == "resourcegroups":
        return "/" + "/".join(parts[:4])
    return "/" + "/".join(parts[:2])


def check_scope(path: str, operation_resource: Callable[[str], str | None]) -> str:
    """Where the request's action must be held: the request's own path, except for a
    location-based operation status read, held at the resource group of the operation's
    resource (the subscription when the operation is unknown)."""
    found = _LOCATION_STATUS.match(path)
    if found is None:
        return path.rstrip("/") or "/"
    resource = operation_resource(found.group("op"))
    return resource_group_scope(resource) if resource else f"/subscriptions/{found.group('sub')}"


# ---- who asks --------------------------------------------------------------------------------


def principal_of(world: World, authorization: str) -> str:
    """The caller's object id: the bearer token's ``oid`` claim when it is a JWT; the sandbox's
    opaque token stands for autoattach's own identity (the world's ``autoattach.principal_id``),
    or, when the world names none, for the id ARM's throttling charges it to."""
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            if isinstance(claims, dict) and isinstance(claims.get("oid"), str):
                return str(claims["oid"])
        except (ValueError, TypeError):
            pass
    return world.hub.deployment.get("principal_id") or actor_of(authorization)


# ---- ABAC conditions -------------------------------------------------------------------------


class ConditionError(ValueError):
    """A condition outside the grammar the double reads."""


_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<not>!|NOT\b)|(?P<and>AND\b|&&)|(?P<or>OR\b|\|\|)"
    r"|ActionMatches\{'(?P<action>[^']*)'\}"
    r"|@(?P<source>Request|Resource)\[(?P<attribute>[^\]]+)\]"
    r"|(?P<set>\{[^}]*\})|'(?P<text>[^']*)'"
    r"|(?P<operator>[A-Za-z]+(?::[A-Za-z]+)?))",
    re.IGNORECASE,
)
_ATTRIBUTES = {
    f"{ROLE_ASSIGNMENTS}:RoleDefinitionId".lower(): "role",
    f"{ROLE_ASSIGNMENTS}:PrincipalId".lower(): "principal",
    f"{ROLE_ASSIGNMENTS}:PrincipalType".lower(): "principal_type",
}
_COMPARERS: dict[str, Callable[[str, str], bool]] = {
    "guidequals": lambda a, b: a.lower() == b.lower(),
    "guidnotequals": lambda a, b: a.lower() != b.lower(),
    "stringequalsignorecase": lambda a, b: a.lower() == b.lower(),
    "stringnotequalsignorecase": lambda a, b: a.lower() != b.lower(),
}
# The operators "Authorization actions and attributes" lists for each attribute, and nothing else.
_GUID_OPERATORS = frozenset(
    {
        "guidequals",
        "guidnotequals",
        "foranyofanyvalues:guidequals",
        "foranyofallvalues:guidnotequals",
    }
)
_OPERATORS = {
    "role": _GUID_OPERATORS,
    "principal": _GUID_OPERATORS,
    "principal_type": frozenset(
        {
            "stringequalsignorecase",
            "stringnotequalsignorecase",
            "foranyofanyvalues:stringequalsignorecase",
            "foranyofanyvalues:stringnotequalsignorecase",
        }
    ),
}
# Which attribute source each action offers: a write carries the new assignment in the request, a
# delete names an existing one (the resource).
_SOURCES = {
    f"{ROLE_ASSIGNMENTS}/write".lower(): "request",
    f"{ROLE_ASSIGNMENTS}/delete".lower(): "resource",
}

# A parsed condition: ("or"|"and", [nodes]) | ("not", node) | ("action", pattern) |
# ("compare", source, attribute, quantifier, comparer, values)
Node = tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConditionError(f"unreadable condition at {text[position : position + 30]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "attribute":
            found.append(("attribute", (match.group("source").lower(), match.group("attribute"))))
        else:
            found.append((kind, match.group(kind)))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else ""

    def take(self, kind: str) -> Any:
        if self.peek() != kind:
            raise ConditionError(f"expected {kind}, found {self.peek() or 'the end'}")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def parse(self) -> Node:
        node = self.either()
        if self.at != len(self.tokens):
            raise ConditionError(f"unexpected {self.peek()} after the condition")
        return node

    def either(self) -> Node:
        nodes = [self.both()]
        while self.peek() == "or":
            self.take("or")
            nodes.append(self.both())
        return ("or", nodes) if len(nodes) > 1 else nodes[0]

    def both(self) -> Node:
        nodes = [self.single()]
        while self.peek() == "and":
            self.take("and")
            nodes.append(self.single())
        return ("and", nodes) if len(nodes) > 1 else nodes[0]

    def single(self) -> Node:
        kind = self.peek()
        if kind == "not":
            self.take("not")
            return ("not", self.single())
        if kind == "open":
            self.take("open")
            node = self.either()
            self.take("close")
            return node
        if kind == "action":
            return ("action", self.take("action"))
        return self.comparison()

    def comparison(self) -> Node:
        source, attribute = self.take("attribute")
        name = _ATTRIBUTES.get(attribute.lower())
        if name is None:
            raise ConditionError(f"attribute {attribute!r} is not offered for role assignments")
        operator = str(self.take("operator")).lower()
        quantifier, _, comparer = operator.rpartition(":")
        if operator not in _OPERATORS[name]:
            raise ConditionError(f"operator {operator!r} is not offered for {attribute!r}")
        if self.peek() == "set":
            raw = str(self.take("set"))[1:-1]
            values = [v.strip().strip("'") for v in raw.split(",") if v.strip()]
        else:
            values = [str(self.take("text"))]
        if not quantifier and len(values) != 1:
            raise ConditionError(f"{operator} compares with one value")
        return ("compare", source, name, quantifier, comparer, values)


def parse_condition(text: str) -> Node:
    """A condition on role assignment writes and deletes (the documented attributes and
    operators, each attribute from the source its action offers), parsed; raises ConditionError
    for anything else."""
    node = _Parser(text).parse()
    _check_sources(node, None)
    return node


def _check_sources(node: Node, action: str | None) -> None:
    """Each comparison uses the source the action its clause targets offers: in
    ``!(ActionMatches{a}) OR (...)`` the right side may use only ``a``'s source. Azure refuses
    a condition that compares, say, @Request attributes for a delete."""
    kind = node[0]
    if kind == "or":
        targets = [n[1][1] for n in node[1] if n[0] == "not" and n[1][0] == "action"]
        for target in targets:
            if target.lower() not in _SOURCES:
                raise ConditionError(f"action {target!r} takes no role assignment attributes")
        targeted = targets[0] if len(targets) == 1 else action
        for child in node[1]:
            _check_sources(child, targeted)
    elif kind == "and":
        for child in node[1]:
            _check_sources(child, action)
    elif kind == "not":
        _check_sources(node[1], action)
    elif kind == "compare":
        source = node[1]
        if action is None:
            raise ConditionError("a comparison outside a clause that names its action")
        if _SOURCES[action.lower()] != source:
            raise ConditionError(f"@{source.title()} attributes are not offered for {action!r}")


def condition_holds(node: Node, action: str, attributes: dict[str, dict[str, str]]) -> bool:
    """Evaluate a parsed condition for ``action``; ``attributes`` maps ``request`` and
    ``resource`` to the role assignment's ``role`` (GUID), ``principal`` and ``principal_type``.
    A comparison of an attribute the request does not carry is false."""
    kind = node[0]
    if kind == "or":
        return any(condition_holds(n, action, attributes) for n in node[1])
    if kind == "and":
        return all(condition_holds(n, action, attributes) for n in node[1])
    if kind == "not":
        return not condition_holds(node[1], action, attributes)
    if kind == "action":
        return action_matches(node[1], action)
    _, source, name, quantifier, comparer, values = node
    value = attributes.get(source, {}).get(name)
    if value is None:
        return False
    compare = _COMPARERS[comparer]
    left = [value]
    if quantifier in ("foranyofanyvalues", ""):
        return any(compare(a, b) for a in left for b in values)
    return any(all(compare(a, b) for b in values) for a in left)  # foranyofallvalues


def _assignment_attributes(assignment: RoleAssignment | None) -> dict[str, str]:
    if assignment is None:
        return {}
    return {
        "role": assignment.role_definition_id.rstrip("/").rsplit("/", 1)[-1],
        "principal": assignment.principal_id,
        "principal_type": assignment.principal_type or "ServicePrincipal",
    }


def _request_attributes(method: str, action: str, body: bytes) -> dict[str, str]:
    if method.upper() != "PUT" or not action.lower().startswith(ROLE_ASSIGNMENTS.lower() + "/"):
        return {}
    try:
        parsed = json.loads(body or b"null")
    except ValueError:
        return {}
    properties = parsed.get("properties") if isinstance(parsed, dict) else None
    if not isinstance(properties, dict):
        return {}
    found = {
        "role": str(properties.get("roleDefinitionId") or "").rstrip("/").rsplit("/", 1)[-1],
        "principal": str(properties.get("principalId") or ""),
        "principal_type": str(properties.get("principalType") or ""),
    }
    return {k: v for k, v in found.items() if v}


# ---- the decision ----------------------------------------------------------------------------


def permissions_of(world: World, role_definition_id: str) -> Permissions | None:
    """A role's permissions: the world's custom role of that GUID, else a modelled built-in."""
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    custom = world.hub.role_definitions.get(guid)
    if custom is not None:
        return Permissions(tuple(custom.actions), tuple(custom.not_actions))
    return BUILT_IN_ROLES.get(guid)


def authorize(
    world: World,
    principal: str,
    method: str,
    path: str,
    body: bytes,
    operation_resource: Callable[[str], str | None],
) -> Response | None:
    """None when the principal may do this request now, else ARM's 403 AuthorizationFailed."""
    action = action_of(method, path)
    scope = check_scope(path, operation_resource)
    seconds = world.seconds()
    with world.lock:
        held = [
            a
            for a in world.role_assignments.values()
            if a.principal_id.lower() == principal.lower()
            and a.effective(seconds)
            and is_within(scope, a.scope)
        ]
        existing = world.role_assignments.get(key(path))
    granting = []
    for assignment in held:
        permissions = permissions_of(world, assignment.role_definition_id)
        if permissions is not None and grants(permissions, action):
            granting.append(assignment)
    attributes = {
        "request": _request_attributes(method, action, body),
        "resource": _assignment_attributes(existing)
        if action.lower().startswith(ROLE_ASSIGNMENTS.lower() + "/")
        else {},
    }
    if any(_condition_allows(a.condition, action, attributes) for a in granting):
        return None
    return refusal(principal, action, path.rstrip("/"))


def _condition_allows(
    condition: str | None, action: str, attributes: dict[str, dict[str, str]]
) -> bool:
    if not condition:
        return True
    try:
        return condition_holds(parse_condition(condition), action, attributes)
    except ConditionError:
        return False


def refusal(principal: str, action: str, scope: str) -> Response:
    """ARM's 403. Role assignment writes and deletes (actions an ABAC condition can limit) get
    the wording ARM uses for them."""
    conditional = action.lower() in {
        f"{ROLE_ASSIGNMENTS}/write".lower(),
        f"{ROLE_ASSIGNMENTS}/delete".lower(),
    }
    what = "authorization or an ABAC condition not fulfilled" if conditional else "authorization"
    return arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{principal}' with object id '{principal}' does not have {what} to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials.",
    )
