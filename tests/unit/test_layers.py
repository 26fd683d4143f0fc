"""The tree shows who runs what: what Azure runs imports neither the stand-in for Azure nor the
operator console, and inside shared/ the pure decisions call into no I/O."""

from __future__ import annotations

import ast
import subprocess
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


def readme_map() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Where things are", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_map_names_every_top_level_folder_and_every_module_of_each_layer():
    tree_map = readme_map()
    tracked = subprocess.run(
        ["git", "ls-files"], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.splitlines()
    top = {name.split("/")[0] for name in tracked if "/" in name and not name.startswith(".")}
    missing = [f"{name}/" for name in sorted(top) if f"{name}/" not in tree_map]
    for layer in ("decisions", "engine"):
        for module in sorted((ROOT / "shared" / layer).glob("*.py")):
            if module.stem != "__init__" and module.stem not in tree_map:
                missing.append(f"shared/{layer}/{module.name}")
    for module in sorted((ROOT / "shared").glob("*.py")):
        if module.stem != "__init__" and f"{module.name}" not in tree_map:
            missing.append(f"shared/{module.name}")
    assert missing == []


def test_the_readme_map_names_nothing_that_is_not_in_the_tree():
    tree_map = readme_map()
    named = [line.split()[0] for line in tree_map.splitlines() if line and not line[0].isspace()]
    paths = [part.strip() for entry in named for part in entry.split(",") if part.strip()]
    assert [path for path in paths if not (ROOT / path.rstrip("/")).exists()] == []
