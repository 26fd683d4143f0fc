"""The smoke run's report: one JSON object (``--output json``) or a table, and the world-settings
file (``--write-world``) that makes the double behave as the subscription did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from console.smoke.guesses import world_settings
from console.smoke.run import Result, not_probed
from console.text import printable_lines


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


def as_table(report: dict[str, Any]) -> str:
    """The report for people, laid out from the JSON document (what ``as_json`` built)."""
    group = report["resource_group"]

    def short(text: str) -> str:
        return text.replace(group, "RG")

    out = [f"autoattach smoke, run {report['run_id']} ({report['where']})", f"RG = {group}", ""]
    out.append(
        "Steps (seconds; at: since the tag, or the untag; floor: the least Azure's own "
        "operations allow; over: what the app adds):"
    )
    out.append(
        f"  {'step':<24} {'ok':<4} {'seconds':>7} {'at':>6} {'floor':>6} {'over':>6}  detail"
    )
    for row in report["steps"]:
        out.append(
            f"  {row['name']:<24} {'yes' if row['ok'] else 'NO':<4} {_cell(row['seconds']):>7} "
            f"{_cell(row['at_seconds']):>6} {_cell(row['floor_seconds']):>6} "
            f"{_cell(row['over_floor_seconds']):>6}  {short(row['detail'])}"
        )
    guesses = report["guesses"]
    agreeing = sum(1 for g in guesses if g["agrees"])
    differing = sum(1 for g in guesses if g["agrees"] is False)
    out += ["", f"Guesses ({len(guesses)}: {agreeing} agree, {differing} differ):"]
    out.append(f"  {'guess':<32} {'agrees':<7} {'double assumes':<28} observed")
    for g in guesses:
        mark = {True: "yes", False: "NO", None: "-"}[g["agrees"]]
        assumes = _cell(g["double_assumes"])[:28]
        out.append(f"  {g['name']:<32} {mark:<7} {assumes:<28} {_cell(g['observed'])}")
        out.append(f"      {short(g['evidence'])}")
    out += ["", "Not probed:"]
    out += [f"  {n['name']}: {n['why']}" for n in report["not_probed"]]
    out.append("")
    for label, key in (("earlier runs", "earlier_runs"), ("this run", "this_run")):
        sweep = report["cleanup"][key]
        if sweep is None:
            continue
        removed = ", ".join(f"{t['kind']} {t['id'].rsplit('/', 1)[-1]}" for t in sweep["removed"])
        left = ", ".join(f"{t['kind']} {short(t['id'])}" for t in sweep["left"])
        read_back = "read back: nothing left" if sweep["verified_clean"] else f"LEFT: {left}"
        out.append(f"Cleanup, {label}: removed {removed or 'nothing'}; {read_back}")
        out += [f"  problem: {p}" for p in sweep["problems"]]
    if report["interrupted"]:
        out.append("Interrupted: cleaned up before stopping.")
    if report["error"]:
        out.append(f"Stopped by an error: {report['error']}")
    outcome = "ok" if report["ok"] else "NOT ok"
    out.append(f"ARM requests: {report['arm_requests']}. Result: {outcome}.")
    return printable_lines(out)


def write_world(result: Result, path: Path) -> dict[str, Any]:
    """The observed guesses as world settings the double loads (checked by loading them)."""
    from sandbox.world import World
    from sandbox.world_format import OPTIONS

    settings = world_settings(result.guesses, set(OPTIONS))
    World.from_dict(settings)  # the double takes it, or this raises WorldError
    path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return settings
