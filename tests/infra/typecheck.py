"""A compile check without a compiler: every resource in infra/ against the published types.

Each resource a Bicep file declares (parsed by pycep) is checked against the Bicep type
definitions copied into ``tests/infra/azure_types`` (see its README): the resource type and
api-version must exist, and its body must fit the type -- property names and nesting, enum
literals, discriminators, required properties, string patterns and lengths. The walking of the
type data is ``sandbox.contracts`` (``TypeIndex``, ``validate``), the same code that holds the
ARM double to Azure's contracts.

A value known only at deploy time (a parameter without ``@allowed``, a function call, a
reference to another resource, an interpolated string) cannot be checked and is skipped; its
property name still is. A parameter with ``@allowed`` is checked with every allowed value, and
a ``cond ? a : b`` with both branches.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.contracts import REQUEST, TypeIndex, validate

TYPES = Path(__file__).resolve().parent / "azure_types"

# Bicep keywords in a resource body that are not part of the ARM resource.
BICEP_ONLY = frozenset({"parent", "scope", "dependsOn"})


class Unknown:
    """A value only known at deploy time."""

    def __repr__(self) -> str:
        return "<deploy-time value>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Unknown:
        return self


UNKNOWN = Unknown()


@dataclass(frozen=True)
class TypeProblem:
    file: str
    resource: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.resource}.{self.path}" if self.path else self.resource
        return f"{self.file}: {where}: {self.message}"


def type_index() -> TypeIndex:
    return TypeIndex(TYPES)


def _symbols(tpl: dict[str, Any]) -> set[str]:
    """Names that stand for deploy-time values: resources, modules, loop items and indexes."""
    names = set(tpl.get("resources", {})) | set(tpl.get("modules", {}))
    for found in re.findall(r'"(?:item_name|index_name|var_1|var_2)": "(\w+)"', json.dumps(tpl)):
        names.add(found)
    return names


class _Values:
    """Turns a parsed Bicep expression into a JSON value, UNKNOWN, or alternatives."""

    def __init__(self, tpl: dict[str, Any]) -> None:
        self.tpl = tpl
        self.symbols = _symbols(tpl)
        # path -> other values the property may take (a ternary's other branch, @allowed values)
        self.alternatives: dict[str, list[Any]] = {}

    def convert(self, value: Any, path: str, depth: int = 0) -> Any:
        if depth > 20:
            return UNKNOWN
        if isinstance(value, bool | int) or value is None:
            return value
        if isinstance(value, str):
            return self._string(value, path, depth)
        if isinstance(value, list):
            return [self.convert(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if "loop_type" in value:
                return UNKNOWN
            operator = value.get("operator")
            if isinstance(operator, dict):
                return self._operator(operator, path, depth)
            if "function" in value and len(value) == 1:
                return UNKNOWN
            return {
                key: self.convert(item, _join(path, key), depth + 1)
                for key, item in value.items()
                if not (depth == 0 and key in BICEP_ONLY)
            }
        return UNKNOWN

    def _string(self, value: str, path: str, depth: int) -> Any:
        if "${" in value:
            return UNKNOWN
        head = value.split(".", 1)[0]
        variables = self.tpl.get("variables", {})
        parameters = self.tpl.get("parameters", {})
        if value in variables:
            return self.convert(variables[value]["value"], path, depth + 1)
        if "." in value and head in variables:
            resolved = variables[head]["value"]
            for field in value.split(".")[1:]:
                if not isinstance(resolved, dict) or field not in resolved:
                    return UNKNOWN
                resolved = resolved[field]
            return self.convert(resolved, path, depth + 1)
        if value in parameters:
            allowed = [
                d["argument"]
                for d in parameters[value].get("decorators", [])
                if d.get("type") == "allowed"
            ]
            if allowed and allowed[0]:
                self.alternatives.setdefault(path, []).extend(allowed[0][1:])
                return allowed[0][0]
            return UNKNOWN
        if value in self.symbols or head in self.symbols or head in parameters:
            return UNKNOWN
        return value

    def _operator(self, operator: dict[str, Any], path: str, depth: int) -> Any:
        operands = operator.get("operands", {})
        if operator.get("type") == "conditional":
            first = self.convert(operands["true_value"], path, depth + 1)
            second = self.convert(operands["false_value"], path, depth + 1)
            self.alternatives.setdefault(path, []).append(second)
            return first
        if operator.get("type") == "property_accessor":
            head, field = operands.get("operand_1"), operands.get("operand_2")
            if isinstance(head, str) and isinstance(field, str):
                return self._string(f"{head}.{field}", path, depth)
        return UNKNOWN


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _unknown_paths(value: Any, path: str = "") -> list[str]:
    if value is UNKNOWN:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _unknown_paths(v, _join(path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unknown_paths(v, f"{path}[{i}]")]
    return []


def _covered(problem_path: str, unknown: list[str]) -> bool:
    for path in unknown:
        if path == "" or problem_path == path or problem_path.startswith((path + ".", path + "[")):
            return True
    return False


def _set(value: Any, path: str, replacement: Any) -> Any:
    """A copy of ``value`` with the property at ``path`` replaced."""
    result = copy.deepcopy(value)
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    target = result
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    if last.startswith("["):
        target[int(last[1:-1])] = replacement
    else:
        target[last] = replacement
    return result


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    config = resource["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def check_template(file: str, tpl: dict[str, Any], index: TypeIndex) -> list[TypeProblem]:
    """Every way the resources of one parsed Bicep file do not fit their published types."""
    problems: list[TypeProblem] = []
    for name, resource in tpl.get("resources", {}).items():
        type_name, version = resource["type"], resource["api_version"]
        found = index.resource(type_name, version)
        if found is None:
            known = ", ".join(index.versions(type_name)) or "none"
            problems.append(
                TypeProblem(
                    file,
                    name,
                    "",
                    f"unknown resource type or api-version {type_name}@{version} "
                    f"(published for this type: {known})",
                )
            )
            continue
        values = _Values(tpl)
        body = values.convert(_body(resource), "")
        if resource.get("existing"):
            body = {"name": body.get("name", UNKNOWN)}
        variants = [body]
        for path, others in values.alternatives.items():
            variants += [_set(body, path, other) for other in others]
        seen: set[tuple[str, str]] = set()
        for variant in variants:
            unknown = _unknown_paths(variant)
            partial = bool(resource.get("existing"))
            for problem in validate(found, _plain(variant), REQUEST, partial=partial):
                if _covered(problem.path, unknown) or (problem.path, problem.message) in seen:
                    continue
                seen.add((problem.path, problem.message))
                problems.append(TypeProblem(file, name, problem.path, problem.message))
    return problems


def _plain(value: Any) -> Any:
    """UNKNOWN as a string placeholder (its problems are filtered by path afterwards)."""
    if value is UNKNOWN:
        return "<deploy-time value>"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
