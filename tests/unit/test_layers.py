"""The tree shows who runs what: what Azure runs imports neither the stand-in for Azure nor the
operator console, and inside shared/ the pure decisions call into no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def offenders(folders: list[str], forbidden: tuple[str, ...]) -> list[str]:
    result = []
    for folder in folders:
        base = ROOT / folder
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            for module in sorted(imported_modules(path)):
                if module.split(".")[0] in forbidden or module.startswith(forbidden):
                    result.append(f"{path.relative_to(ROOT)} imports {module}")
    return result


def test_what_the_function_app_runs_imports_no_sandbox_console_or_proving_ground():
    assert (
        offenders(
            ["shared", "functions", "function_app.py"],
            ("sandbox", "console", "campaign", "benchmarks", "tests"),
        )
        == []
    )


def test_the_pure_decisions_call_no_engine_adapter_or_setting():
    assert (
        offenders(
            ["shared/decisions"],
            (
                "shared.engine",
                "shared.adapters",
                "shared.ports",
                "shared.wiring",
                "shared.settings",
            ),
        )
        == []
    )


def test_the_engine_is_handed_its_adapters_and_never_builds_them():
    assert offenders(["shared/engine"], ("shared.wiring",)) == []


def test_the_deployed_package_leaves_out_the_console_and_the_sandbox():
    ignored = {
        line.strip()
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    assert {"console", "sandbox", "campaign", "benchmarks", "tests"} <= ignored
