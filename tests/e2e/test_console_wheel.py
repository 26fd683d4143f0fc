"""The console as an operator gets it without the repository: a wheel, installed with pipx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from shared import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_pipx_install_of_the_built_wheel_gives_a_working_autoattach(tmp_path: Path) -> None:
    source = tmp_path / "source"  # the checkout's files, so the build leaves nothing in it
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    wheels = list(dist.glob("autoattach-*.whl"))
    assert [wheel.name for wheel in wheels] == [f"autoattach-{__version__}-py3-none-any.whl"]
    env = os.environ | {
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(wheels[0])],
        check=True,
        capture_output=True,
        env=env,
        cwd=tmp_path,  # not the checkout: nothing of the repository on the path
    )
    autoattach = tmp_path / "bin" / "autoattach"
    shown = subprocess.run(
        [str(autoattach), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    assert "dead-letters" in shown.stdout and "doctor" in shown.stdout
    version = subprocess.run(
        [str(autoattach), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert f"for autoattach Function App {__version__}" in version.stdout
