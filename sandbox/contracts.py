"""Request and response bodies checked against the published Bicep type definitions.

The type data lives in ``sandbox/azure_types`` in the layout of ``Azure/bicep-types-az``'s
``generated/`` folder (``<group>/<provider>/<api-version>/types.json``; see its README for the
commit). Two layers:

- ``TypeIndex`` (pure, reusable by the infra tests): loads every ``types.json``, resolves
  ``{"$ref": "#/N"}`` and finds a resource type by ``Microsoft.X/y[/z]`` and api-version,
  case-insensitively. ``validate(index, resource, body, direction)`` lists the ``Problem``s of one
  body: unknown properties, values outside a string-literal union, wrong JSON types, missing
  required properties, string length/pattern, integer bounds, discriminated objects.
- ``ArmContracts`` (the ARM double's hook): refuses a request the way ARM does (400
  ``NoRegisteredProviderFound`` for an api-version the data does not know, 400
  ``InvalidRequestContent`` for a body that does not fit the type) and records every response body
  that does not fit (the double's own bugs). ``summary()`` is the ``contracts`` key of the sandbox
  report.

Direction matters: in a request, read-only properties are ignored (ARM drops ``id``, ``name``,
``type``, ``provisioningState``, ... from PUT bodies) and the top-level ``name`` is taken from the
URL; in a response, write-only properties must not come back. ``null`` stands for "absent".
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

TYPES_ROOT = Path(__file__).resolve().parent / "azure_types"

REQUIRED, READ_ONLY, WRITE_ONLY = 1, 2, 4
REQUEST, RESPONSE = "request", "response"
WRITE_METHODS = frozenset({"PUT", "PATCH"})

# Preview api-versions azure-ai-ml sends that the copied type data has no file for (the SDK offers
# no choice): checked against the nearest published stable version. See sandbox/README.md,
# "Contracts", for why these files were not copied.
VERSION_ALIASES: dict[tuple[str, str], str] = {
    ("microsoft.machinelearningservices/workspaces", "2023-08-01-preview"): "2024-10-01",
    ("microsoft.machinelearningservices/workspaces", "2024-10-01-preview"): "2024-10-01",
    ("microsoft.machinelearningservices/workspaces/computes", "2023-08-01-preview"): "2024-10-01",
    ("microsoft.machinelearningservices/workspaces/computes", "2024-10-01-preview"): "2024-10-01",
    # managed namespaces: stable since 2025-10-01 ("Use managed namespaces"; containerservice
    # stable/2025-10-01), 2025-09-01 named by the AKS how-to, 2026-08-01 azure-mgmt-containerservice
    # 41.8's default; the same shape as 2026-05-01, the only version in the type data
    **{
        (f"microsoft.containerservice/{kind}", version): "2026-05-01"
        for kind in ("managedclusters", "managedclusters/managednamespaces")
        for version in ("2025-09-01", "2025-10-01", "2026-08-01")
    },
}


# ---- the type data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeFile:
    """One ``types.json``: a list of nodes that refer to each other by index."""

    path: Path
    nodes: list[dict[str, Any]] = field(repr=False, compare=False, hash=False)

    def node(self, ref: Any) -> dict[str, Any]:
        """The node a ``{"$ref": "#/N"}`` (or a bare index) points at."""
        if isinstance(ref, dict):
            ref = ref["$ref"]
        if isinstance(ref, str):
            ref = int(ref.rsplit("/", 1)[-1])
        return self.nodes[int(ref)]


@dataclass(frozen=True)
class ResourceType:
    name: str  # "Microsoft.X/y" as the data spells it
    api_version: str
    file: TypeFile
    body_ref: Any

    @property
    def body(self) -> dict[str, Any]:
        return self.file.node(self.body_ref)


class TypeIndex:
    """Every resource type of every ``types.json`` under ``root``, by lowercased type name."""

    def __init__(self, root: Path = TYPES_ROOT) -> None:
        self.root = root
        self._types: dict[str, dict[str, ResourceType]] = {}
        # POST actions on a resource (``{id}/list``): (type, action, api-version) -> its output
        self._functions: dict[tuple[str, str, str], ResourceType] = {}
        for path in sorted(root.glob("*/*/*/types.json")):
            file = TypeFile(path, json.loads(path.read_text(encoding="utf-8")))
            for node in file.nodes:
                if node.get("$type") == "ResourceFunctionType" and "output" in node:
                    name = str(node["resourceType"])
                    action = (name.lower(), str(node["name"]).lower(), str(node["apiVersion"]))
                    self._functions.setdefault(
                        action, ResourceType(name, str(node["apiVersion"]), file, node["output"])
                    )
                if node.get("$type") != "ResourceType":
                    continue
                name, _, version = str(node["name"]).partition("@")
                entry = ResourceType(name, version, file, node["body"])
                self._types.setdefault(name.lower(), {}).setdefault(version, entry)
        if not self._types:  # a check that silently checks nothing would pass everything
            raise FileNotFoundError(f"no resource types under {root}")

    @staticmethod
    @cache
    def default() -> TypeIndex:
        """The index of the repository's own copy, loaded once per process."""
        return TypeIndex()

    def knows(self, type_name: str) -> bool:
        return type_name.lower() in self._types

    def versions(self, type_name: str) -> list[str]:
        """The api-versions the data has for a type (newest first), aliases included."""
        lowered = type_name.lower()
        found = set(self._types.get(lowered, {}))
        found |= {v for (t, v) in VERSION_ALIASES if t == lowered}
        return sorted(found, reverse=True)

    def resource(self, type_name: str, api_version: str = "") -> ResourceType | None:
        """``Microsoft.X/y[/z]`` at an api-version (``"Microsoft.X/y@v"`` works too)."""
        if "@" in type_name:
            type_name, _, api_version = type_name.partition("@")
        by_version = self._types.get(type_name.lower(), {})
        version = api_version.lower()
        found = next((r for v, r in by_version.items() if v.lower() == version), None)
        if found is None:
            alias = VERSION_ALIASES.get((type_name.lower(), version))
            found = by_version.get(alias) if alias else None
        return found

    def function(self, type_name: str, action: str, api_version: str) -> ResourceType | None:
        """The output type of a POST action (``list``, ``listKeys``) on a resource type."""
        return self._functions.get((type_name.lower(), action.lower(), api_version))

    def type_names(self) -> list[str]:
        return sorted({r.name for versions in self._types.values() for r in versions.values()})


# ---- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str  # "properties.principalType", "value[0].identity.type"
    kind: str  # unknown-property | invalid-value | wrong-type | missing-required | ...
    message: str


def validate(
    resource: ResourceType, body: Any, direction: str, *, partial: bool = False
) -> list[Problem]:
    """What is wrong with ``body`` as a ``direction`` ("request"/"response") body of ``resource``.

    ``partial`` (PATCH) skips the required-property checks.
    """
    checker = _Checker(resource.file, direction, partial)
    return list(checker.check(resource.body_ref, body, "", top=True))


_JSON_TYPE = {dict: "Object", list: "Array", str: "String", bool: "Boolean", int: "Integer"}


def _json_kind(value: Any) -> str:
    if isinstance(value, float):
        return "Float"
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@dataclass
class _Checker:
    file: TypeFile
    direction: str
    partial: bool

    def check(self, ref: Any, value: Any, path: str, top: bool = False) -> Iterator[Problem]:
        node = self.file.node(ref)
        kind = node["$type"]
        if kind == "ObjectType":
            yield from self._object(node, node.get("properties", {}), value, path, top)
        elif kind == "DiscriminatedObjectType":
            yield from self._discriminated(node, value, path, top)
        elif kind == "ArrayType":
            yield from self._array(node, value, path)
        elif kind == "UnionType":
            yield from self._union(node, value, path)
        elif kind == "StringLiteralType":
            if not isinstance(value, str) or value.lower() != str(node["value"]).lower():
                yield Problem(
                    path,
                    "invalid-value",
                    f"Error converting value {json.dumps(value)} to type "
                    f"'{node['value']}'. Path '{path}'.",
                )
        elif kind == "StringType":
            yield from self._string(node, value, path)
        elif kind == "IntegerType":
            yield from self._integer(node, value, path)
        elif kind == "BooleanType" and not isinstance(value, bool):
            yield self._wrong_type(value, "Boolean", path)
        # AnyType, ResourceFunctionType and anything newer: no constraint.

    # -- objects --

    def _object(
        self,
        node: dict[str, Any],
        properties: dict[str, Any],
        value: Any,
        path: str,
        top: bool,
        skip: frozenset[str] = frozenset(),
    ) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield self._wrong_type(value, str(node.get("name") or "Object"), path)
            return
        by_lower = {name.lower(): (name, spec) for name, spec in properties.items()}
        extra = node.get("additionalProperties")
        given = {str(k).lower() for k, v in value.items() if v is not None}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in skip:
                continue
            where = _join(path, str(key))
            if lowered not in by_lower:
                if extra is not None:
                    if item is not None:
                        yield from self.check(extra, item, where)
                    continue
                yield Problem(
                    where,
                    "unknown-property",
                    f"Could not find member '{key}' on object of type "
                    f"'{node.get('name') or 'Object'}'. Path '{where}'.",
                )
                continue
            _, spec = by_lower[lowered]
            flags = int(spec.get("flags", 0))
            if item is None:
                continue
            if self.direction == REQUEST and flags & READ_ONLY:
                continue  # ARM ignores read-only properties sent by a client
            if self.direction == RESPONSE and flags & WRITE_ONLY:
                yield Problem(
                    where, "write-only-returned", f"Write-only property '{where}' was returned."
                )
                continue
            yield from self.check(spec["type"], item, where)
        if self.partial:
            return
        for lowered, (name, spec) in by_lower.items():
            flags = int(spec.get("flags", 0))
            if not flags & REQUIRED or lowered in given or lowered in skip:
                continue
            if self.direction == REQUEST and (flags & READ_ONLY or (top and lowered == "name")):
                continue  # the resource name comes from the URL
            if self.direction == RESPONSE and flags & WRITE_ONLY:
                continue
            yield Problem(
                _join(path, name),
                "missing-required",
                f"Required property '{name}' not found in JSON. Path '{path}'.",
            )

    def _discriminated(
        self, node: dict[str, Any], value: Any, path: str, top: bool
    ) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield self._wrong_type(value, str(node.get("name") or "Object"), path)
            return
        discriminator = str(node["discriminator"])
        given = next((v for k, v in value.items() if str(k).lower() == discriminator.lower()), None)
        where = _join(path, discriminator)
        if given is None:
            yield Problem(
                where,
                "missing-required",
                f"Required property '{discriminator}' not found in JSON. Path '{path}'.",
            )
            return
        elements: dict[str, Any] = node.get("elements", {})
        chosen = elements.get(given) if isinstance(given, str) else None
        if chosen is None and isinstance(given, str):
            chosen = next((r for k, r in elements.items() if k.lower() == given.lower()), None)
        if chosen is None:
            allowed = ", ".join(f"'{k}'" for k in sorted(elements))
            yield Problem(
                where,
                "invalid-value",
                f"Error converting value {json.dumps(given)} to type "
                f"'{node.get('name')}': '{discriminator}' must be one of {allowed}. "
                f"Path '{where}'.",
            )
            return
        element = self.file.node(chosen)
        properties = {**node.get("baseProperties", {}), **element.get("properties", {})}
        merged = {**element, "name": element.get("name") or node.get("name")}
        # The discriminator is a string literal in the element; its value was matched above.
        yield from self._object(
            merged, properties, value, path, top, skip=frozenset({discriminator.lower()})
        )

    # -- leaves --

    def _array(self, node: dict[str, Any], value: Any, path: str) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield self._wrong_type(value, "Array", path)
            return
        low, high = node.get("minLength"), node.get("maxLength")
        if low is not None and len(value) < int(low):
            yield Problem(path, "too-short", f"'{path}' needs at least {low} items.")
        if high is not None and len(value) > int(high):
            yield Problem(path, "too-long", f"'{path}' takes at most {high} items.")
        for index, item in enumerate(value):
            if item is not None:
                yield from self.check(node["itemType"], item, f"{path}[{index}]")

    def _union(self, node: dict[str, Any], value: Any, path: str) -> Iterator[Problem]:
        elements = [self.file.node(ref) for ref in node.get("elements", [])]
        literals = [str(e["value"]) for e in elements if e["$type"] == "StringLiteralType"]
        best: list[Problem] | None = None
        for ref in node.get("elements", []):
            found = list(self.check(ref, value, path))
            if not found:
                return
            if best is None or len(found) < len(best):
                best = found
        if literals and isinstance(value, str):
            allowed = ", ".join(f"'{v}'" for v in literals)
            yield Problem(
                path,
                "invalid-value",
                f"Error converting value {json.dumps(value)}: '{path}' must be one of "
                f"{allowed}. Path '{path}'.",
            )
        elif literals:
            yield self._wrong_type(value, "String", path)
        else:
            yield from best or []

    def _string(self, node: dict[str, Any], value: Any, path: str) -> Iterator[Problem]:
        if not isinstance(value, str):
            yield self._wrong_type(value, "String", path)
            return
        low, high = node.get("minLength"), node.get("maxLength")
        if low is not None and len(value) < int(low):
            yield Problem(path, "too-short", f"'{path}' must be at least {low} characters long.")
        if high is not None and len(value) > int(high):
            yield Problem(path, "too-long", f"'{path}' must be at most {high} characters long.")
        pattern = _pattern(node.get("pattern"))
        if pattern is not None and not pattern.search(value):
            yield Problem(
                path,
                "pattern",
                f"'{path}' value '{value}' does not match pattern '{node['pattern']}'.",
            )

    def _integer(self, node: dict[str, Any], value: Any, path: str) -> Iterator[Problem]:
        if isinstance(value, bool) or not isinstance(value, int):
            yield self._wrong_type(value, "Integer", path)
            return
        low, high = node.get("minValue"), node.get("maxValue")
        if (low is not None and value < low) or (high is not None and value > high):
            yield Problem(path, "out-of-range", f"'{path}' must be in [{low}, {high}].")

    @staticmethod
    def _wrong_type(value: Any, expected: str, path: str) -> Problem:
        return Problem(
            path,
            "wrong-type",
            f"Error converting value {json.dumps(value)[:80]} ({_json_kind(value)}) to type "
            f"'{expected}'. Path '{path}'.",
        )


@cache
def _pattern(text: str | None) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:  # .NET/ECMAScript syntax Python does not read: not checked
        return None


# ---- request paths -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What an ARM path addresses: a resource type, and one item of it or the collection."""

    type_name: str
    item: bool


def target_of(path: str) -> Target | None:
    """``.../providers/Microsoft.X/y/n/z[/m]`` -> ``Microsoft.X/y/z`` (the last ``providers``
    segment wins: extensions and role assignments are extension resources). Paths without a
    provider (``/subscriptions/{s}/resources``) give None."""
    parts = [p for p in path.strip("/").split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return None
    index = len(lowered) - 1 - lowered[::-1].index("providers")
    rest = parts[index + 1 :]
    if len(rest) < 2:
        return None
    namespace, tail = rest[0], rest[1:]
    types = tail[0::2]
    return Target(f"{namespace}/{'/'.join(types)}", item=len(tail) % 2 == 0)


# ---- the ARM double's hook -------------------------------------------------------------------


class ArmContracts:
    """Checks every request the ARM double serves and remembers what did not fit.

    ``check_request`` answers the refusal ARM would send (or None); ``check_response`` records a
    response body that does not fit its type. ``summary()``: ``{"checked", "typed",
    "not_applicable", "violations"}``; each violation names ``side`` ("product" for a request the
    double refused, "double" for a response it should not have sent), ``direction``, ``method``,
    ``path``, ``api_version``, ``property`` and ``problem``.
    """

    def __init__(self, index: TypeIndex | None = None) -> None:
        self.index = index or TypeIndex.default()
        self._lock = threading.Lock()
        self._checked = 0
        self._typed = 0
        self._violations: list[dict[str, str]] = []

    def reset(self) -> None:
        with self._lock:
            self._checked = 0
            self._typed = 0
            self._violations = []

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "checked": self._checked,
                "typed": self._typed,
                "not_applicable": self._checked - self._typed,
                "violations": [dict(v) for v in self._violations],
            }

    def _record(
        self, method: str, path: str, api_version: str, direction: str, problem: Problem
    ) -> None:
        with self._lock:
            self._violations.append(
                {
                    "side": "product" if direction == REQUEST else "double",
                    "direction": direction,
                    "method": method,
                    "path": path,
                    "api_version": api_version,
                    "property": problem.path,
                    "problem": problem.message,
                }
            )

    def resolve(self, path: str, api_version: str) -> tuple[Target, ResourceType | None] | None:
        """The target of a path when the type data knows its type (None: not applicable)."""
        target = target_of(path)
        if target is None or not self.index.knows(target.type_name):
            return None
        return target, self.index.resource(target.type_name, api_version)

    def check_request(
        self, method: str, path: str, api_version: str, body: bytes
    ) -> tuple[int, dict[str, Any]] | None:
        """ARM's refusal (status, error body) of a request that does not fit its type."""
        resolved = self.resolve(path, api_version)
        if resolved is None:
            return None
        target, resource = resolved
        if not api_version:
            return 400, _error(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if resource is None:
            return 400, _error("NoRegisteredProviderFound", self._no_provider(target, api_version))
        if method not in WRITE_METHODS or not target.item:
            return None
        try:
            parsed = json.loads(body or b"null")
        except ValueError as error:
            problem = Problem("", "not-json", f"The request body is not JSON: {error}.")
            self._record(method, path, api_version, REQUEST, problem)
            return 400, _error("InvalidRequestContent", _invalid(problem))
        problems = validate(resource, parsed, REQUEST, partial=method == "PATCH")
        if not problems:
            return None
        for problem in problems:
            self._record(method, path, api_version, REQUEST, problem)
        return 400, _error("InvalidRequestContent", _invalid(problems[0]))

    def check_response(
        self, method: str, path: str, api_version: str, status: int, body: Any
    ) -> None:
        """Count the request; record every way its response body does not fit its type."""
        resolved = self.resolve(path, api_version) if status < 400 else None
        if method == "POST" and status < 400 and resolved is None:
            parent, _, action = path.rstrip("/").rpartition("/")
            target = target_of(parent)
            output = target and self.index.function(target.type_name, action, api_version)
            if target is not None and target.item and output:
                resolved = (Target(target.type_name, item=True), output)
        with self._lock:
            self._checked += 1
            if resolved is not None and resolved[1] is not None and body is not None:
                self._typed += 1
        if status >= 400:
            for problem in _error_envelope_problems(body):
                self._record(method, path, api_version, RESPONSE, problem)
            return
        if resolved is None or body is None:
            return
        target, resource = resolved
        if resource is None:
            return
        if target.item:
            problems = validate(resource, body, RESPONSE)
        else:
            problems = list(_list_problems(resource, body))
        for problem in problems:
            self._record(method, path, api_version, RESPONSE, problem)

    def _no_provider(self, target: Target, api_version: str) -> str:
        short = target.type_name.split("/", 1)[1]
        supported = ", ".join(self.index.versions(target.type_name))
        return (
            f"No registered resource provider found for location 'sandbox' and API version "
            f"'{api_version}' for type '{short}'. The supported api-versions are '{supported}'. "
            "The supported locations are 'sandbox'."
        )


def _list_problems(resource: ResourceType, body: Any) -> Iterator[Problem]:
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        yield Problem("value", "wrong-type", "A list response needs a 'value' array.")
        return
    for key in body:
        if key not in {"value", "nextLink"}:
            yield Problem(key, "unknown-property", f"A list response has no member '{key}'.")
    for index, item in enumerate(body["value"]):
        for problem in validate(resource, item, RESPONSE):
            where = f"value[{index}]" + (f".{problem.path}" if problem.path else "")
            yield Problem(where, problem.kind, problem.message)


def _error_envelope_problems(body: Any) -> Iterator[Problem]:
    """ARM errors are ``{"error": {"code": str, "message": str, ...}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    if body is None:
        return
    if not isinstance(error, dict):
        yield Problem("error", "wrong-type", "An error response needs an 'error' object.")
        return
    for name in ("code", "message"):
        if not isinstance(error.get(name), str):
            yield Problem(f"error.{name}", "missing-required", f"error.{name} must be a string.")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _invalid(problem: Problem) -> str:
    return f"The request content was invalid and could not be deserialized: '{problem.message}'."
