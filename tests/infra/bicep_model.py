"""The Bicep under infra/, parsed with a real Bicep parser (pycep-parser), for tests/infra.

pycep renders identifiers and string literals alike as plain strings; the helpers here resolve the
names a test follows (variables, parameter defaults) within one file.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def module_path(module: dict[str, Any]) -> str:
    assert module["type"] == "local", module
    return module["detail"]["path"]


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def template(relative: str) -> dict[str, Any]:
    """A Bicep file under infra/ (e.g. 'main.bicep', 'modules/servicebus.bicep'), parsed."""
    path = INFRA / relative
    return BicepParser().parse(text=path.read_text(encoding="utf-8"))


def all_templates() -> dict[str, dict[str, Any]]:
    return {str(p.relative_to(INFRA)): template(str(p.relative_to(INFRA))) for p in bicep_files()}


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's declaration, under any loop or condition."""
    config = resource["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def resources_of_type(tpl: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in tpl.get("resources", {}).items()
        if resource["type"].lower() == resource_type.lower()
    }


def variable(tpl: dict[str, Any], name: str) -> Any:
    return tpl["variables"][name]["value"]


def resolve(tpl: dict[str, Any], value: Any) -> Any:
    """Follow a bare identifier to its variable, or to its parameter's default, in the same file."""
    seen: set[str] = set()
    operator = value.get("operator", {}) if isinstance(value, dict) else {}
    if operator.get("type") == "property_accessor":
        head, field = operator["operands"].values()
        if isinstance(head, str) and isinstance(field, str) and head in tpl.get("variables", {}):
            return resolve(tpl, tpl["variables"][head]["value"][field])
    while isinstance(value, str) and value not in seen:
        seen.add(value)
        if value in tpl.get("variables", {}):
            value = tpl["variables"][value]["value"]
        elif "." in value and value.split(".", 1)[0] in tpl.get("variables", {}):
            head, field = value.split(".", 1)
            value = tpl["variables"][head]["value"][field]
        elif value in tpl.get("parameters", {}) and tpl["parameters"][value]["default"] is not None:
            value = tpl["parameters"][value]["default"]
        else:
            break
    return value


def text(value: Any) -> str:
    """Everything in a parsed expression as one string, to look for names and GUIDs in it."""
    return json.dumps(value)


def guids(tpl: dict[str, Any], value: Any) -> set[str]:
    """The GUIDs an expression names, directly or through the file's variables."""
    found = {g.lower() for g in GUID.findall(text(value))}
    for name in tpl.get("variables", {}):
        if re.search(rf'"{re.escape(name)}(\.|")', text(value)):
            found |= {g.lower() for g in GUID.findall(text(resolve(tpl, text_ref(value, name))))}
    return found


def text_ref(value: Any, variable_name: str) -> str:
    """The first reference to ``variable_name`` (maybe dotted: roles.x) inside an expression."""
    match = re.search(rf'"({re.escape(variable_name)}(?:\.[A-Za-z0-9_]+)?)"', text(value))
    assert match is not None
    return match.group(1)


def module_using(tpl: dict[str, Any], file_name: str) -> dict[str, Any]:
    """The one module declaration in ``tpl`` that deploys ``file_name``."""
    (module,) = [m for m in tpl["modules"].values() if module_path(m).endswith(file_name)]
    return module
