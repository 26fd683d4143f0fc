"""Put the last `make bench` run's table into benchmarks/README.md and README.md (between the
``<!-- bench:results -->`` markers), so the figures the documents show are that run's.

    .venv/bin/python -m benchmarks.readme [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench import RESULTS

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = (ROOT / "benchmarks" / "README.md", ROOT / "README.md")
MARKERS = re.compile(r"(<!-- bench:results -->\n).*?(<!-- /bench:results -->)", re.S)


def block(results: dict[str, Any], when: str) -> str:
    storm = results["storm"]
    return (
        f"Measured on {when} (`make bench`; the run took "
        f"{results.get('bench_cpu_seconds', 0):.0f} s of CPU, "
        f"{results['bench_real_seconds']:.0f} s of wall time on 2 shared, loaded cores):\n\n"
        f"{results['table']}\n\n"
        + (
            f"What the reads were of, per attachment:\n\n{results['reads_table']}\n\n"
            if results.get("reads_table")
            else ""
        )
        + (
            "Install polling, the one dial between goals 1 and 5 and goal 2 (created-with-"
            f"extension, 20 x 1; latency: the dense sweep):\n\n{results['trade_table']}\n\n"
            if results.get("trade_table")
            else ""
        )
        + f"Storm: {storm['reads']:,} reads, {storm['polls']:,} polls, {storm['writes']:,} writes, "
        f"{storm['throttled']:,} answered 429 (each retried).\n"
    )


def update(results_dir: Path = RESULTS) -> list[Path]:
    results = json.loads((results_dir / "bench.json").read_text())
    stamp = (results_dir / "bench.json").stat().st_mtime
    when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
    text = block(results, when)
    changed = []
    for document in DOCUMENTS:
        old = document.read_text()
        new = MARKERS.sub(lambda m: m.group(1) + text + m.group(2), old)
        if new != old:
            document.write_text(new)
            changed.append(document)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readme", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for path in update(args.results):
        print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
