"""Copy, from a checkout of Azure/bicep-types-az's ``generated/`` folder, only the resource types
and api-versions that ``infra/`` declares, each with the type nodes it reaches (renumbered).

    python tests/infra/azure_types/copy_types.py /path/to/generated

Run it again after changing a resource type or api-version in ``infra/``; the infra type check
(tests/infra/typecheck.py) refuses a type@api-version that is not in this copy.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INFRA = HERE.parents[2] / "infra"
DECLARED = re.compile(r"'([A-Za-z0-9.]+/[A-Za-z0-9./]+)@([0-9a-z-]+)'")


def declared_types(infra: Path = INFRA) -> set[str]:
    """``Microsoft.X/y@version`` of every resource declared (or referenced as existing)."""
    found = set()
    for path in infra.rglob("*.bicep"):
        for type_name, version in DECLARED.findall(path.read_text(encoding="utf-8")):
            found.add(f"{type_name}@{version}".lower())
    return found


def _refs(value: Any) -> list[int]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return [int(str(value["$ref"]).rsplit("/", 1)[-1])]
        return [i for v in value.values() for i in _refs(v)]
    if isinstance(value, list):
        return [i for v in value for i in _refs(v)]
    return []


def _renumber(value: Any, mapping: dict[int, int]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return {"$ref": f"#/{mapping[int(str(value['$ref']).rsplit('/', 1)[-1])]}"}
        return {k: _renumber(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_renumber(v, mapping) for v in value]
    return value


def subset(nodes: list[dict[str, Any]], wanted: set[str]) -> list[dict[str, Any]]:
    """The resource types in ``wanted`` and every node they reach, in their original order."""
    roots = [
        i
        for i, n in enumerate(nodes)
        if n.get("$type") == "ResourceType" and str(n["name"]).lower() in wanted
    ]
    keep: set[int] = set()
    stack = list(roots)
    while stack:
        index = stack.pop()
        if index not in keep:
            keep.add(index)
            stack.extend(_refs(nodes[index]))
    order = sorted(keep)
    mapping = {old: new for new, old in enumerate(order)}
    return [_renumber(nodes[old], mapping) for old in order]


def main(source: Path) -> int:
    wanted = declared_types()
    copied: set[str] = set()
    for path in sorted(source.glob("*/*/*/types.json")):
        nodes = json.loads(path.read_text(encoding="utf-8"))
        names = {str(n["name"]).lower() for n in nodes if n.get("$type") == "ResourceType"}
        if not names & wanted:
            continue
        target = HERE / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        kept = subset(nodes, wanted)
        target.write_text(json.dumps(kept, indent=None, separators=(",", ":")) + "\n")
        copied |= names & wanted
    missing = wanted - copied
    for name in sorted(missing):
        print(f"not in {source}: {name}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
