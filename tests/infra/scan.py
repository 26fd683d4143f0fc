"""Run checkov over infra/ offline, and fail when it could not parse a Bicep file.

Run with the scan environment's interpreter (``make scan``). checkov only logs a warning for a Bicep
file its parser cannot read and then scans the rest, so a file it cannot parse would pass unseen:
parse every file first with the parser checkov itself uses, then scan.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"


def main() -> int:
    from pycep import BicepParser  # the pycep-parser version checkov pins

    files = sorted(INFRA.rglob("*.bicep"))
    if not files:
        print(f"no Bicep files under {INFRA}", file=sys.stderr)
        return 1
    parser = BicepParser()
    unreadable = []
    for path in files:
        try:
            parser.parse(text=path.read_text(encoding="utf-8"))
        except Exception as error:  # report every file, whatever the parser raises
            unreadable.append(f"{path.relative_to(INFRA.parent)}: {str(error).splitlines()[0]}")
    if unreadable:
        print("checkov's Bicep parser cannot read:", *unreadable, sep="\n  ", file=sys.stderr)
        return 1
    print(f"checkov: scanning {len(files)} Bicep files under infra/")
    command = [
        sys.executable,
        "-m",
        "checkov.main",
        "--directory",
        str(INFRA),
        "--framework",
        "bicep",
        "--skip-download",
        "--quiet",
        "--compact",
    ]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
