"""The smoke run's report: one JSON object (``--output json``) or a table, and the world-settings
file (``--write-world``) that makes the double behave as the subscription did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from console.smoke.guesses import world_settings
from console.smoke.run import Result, not_probed


def as_json(result: Result, world: Any, *, where: str) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "where": where,
        "resource_group": result.resource_group,
        "cluster": result.cluster,
        "workspace": result.workspace,
        "ok": result.ok,
        "interrupted": result.interrupted,
        "error": result.error,
        "guesses": [g.as_json() for g in result.guesses],
        "not_probed": not_probed(world),
        "steps": [s.as_json() for s in result.steps],
        "cleanup": {
            "earlier_runs": result.earlier.as_json() if result.earlier else None,
            "this_run": result.final.as_json() if result.final else None,
        },
        "arm_requests": result.requests,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_table(result: Result, world: Any, *, where: str) -> str:
    group = result.resource_group

    def short(text: str) -> str:
        return text.replace(group, "RG")

    out = [f"autoattach smoke, run {result.run_id} ({where})", f"RG = {group}", ""]
    out.append("Steps (seconds; floor: what Azure's own operation took):")
    out.append(f"  {'step':<32} {'ok':<4} {'seconds':>8} {'floor':>7} {'over':>7}  detail")
    for step in result.steps:
        row = step.as_json()
        out.append(
            f"  {row['name']:<32} {'yes' if row['ok'] else 'NO':<4} {_cell(row['seconds']):>8} "
            f"{_cell(row['floor_seconds']):>7} {_cell(row['over_floor_seconds']):>7}  "
            f"{short(row['detail'])}"
        )
    agreeing = sum(1 for g in result.guesses if g.agrees)
    differing = [g for g in result.guesses if g.agrees is False]
    out += ["", f"Guesses ({len(result.guesses)}: {agreeing} agree, {len(differing)} differ):"]
    out.append(f"  {'guess':<32} {'agrees':<7} {'double assumes':<28} observed")
    for g in result.guesses:
        mark = {True: "yes", False: "NO", None: "-"}[g.agrees]
        out.append(
            f"  {g.name:<32} {mark:<7} {_cell(g.double_assumes)[:28]:<28} {_cell(g.observed)}"
        )
        out.append(f"      {short(g.evidence)}")
    out += ["", "Not probed:"]
    out += [f"  {n['name']}: {n['why']}" for n in not_probed(world)]
    out.append("")
    for label, sweep in (("earlier runs", result.earlier), ("this run", result.final)):
        if sweep is None:
            continue
        removed = ", ".join(f"{t.kind} {t.path.rsplit('/', 1)[-1]}" for t in sweep.removed)
        out.append(
            f"Cleanup, {label}: removed {removed or 'nothing'}; "
            + (
                "read back: nothing left"
                if sweep.clean
                else "LEFT: " + ", ".join(f"{t.kind} {t.path}" for t in sweep.left)
            )
        )
        out += [f"  problem: {p}" for p in sweep.problems]
    if result.interrupted:
        out.append("Interrupted: cleaned up before stopping.")
    if result.error:
        out.append(f"Stopped by an error: {result.error}")
    out.append(f"ARM requests: {result.requests}. Result: {'ok' if result.ok else 'NOT ok'}.")
    return "\n".join(out)


def write_world(result: Result, path: Path) -> dict[str, Any]:
    """The observed guesses as world settings the double loads (checked by loading them)."""
    from sandbox.world import World
    from sandbox.world_format import OPTIONS

    settings = world_settings(result.guesses, set(OPTIONS))
    World.from_dict(settings)  # the double takes it, or this raises WorldError
    path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return settings
