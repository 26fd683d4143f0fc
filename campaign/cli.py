"""``python -m campaign --events 10000 --seed-from 1``: run scenarios until that many events.

Each scenario is one seed (``--events-per-scenario`` events). Prints a summary table and every
violation with its seed; ``python -m campaign --seed S --events N`` replays one scenario
(N = the events per scenario it ran with). Exit status 1 when any invariant was violated.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from campaign.driver import Rig, ScenarioResult
from campaign.generate import generate
from campaign.invariants import Violation

DEFAULT_EVENTS_PER_SCENARIO = 80


@dataclass
class Summary:
    scenarios: int = 0
    events: int = 0
    skipped: int = 0
    deliveries: int = 0
    notifications: int = 0
    duplicate_notifications: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    violations: list[tuple[int, Violation]] = field(default_factory=list)  # (events/scenario, v)
    seconds: float = 0.0
    least_privilege: bool = False  # ARM authorized every request against infra/'s grants

    def add(self, result: ScenarioResult, events_per_scenario: int) -> None:
        self.scenarios += 1
        self.events += result.events
        self.skipped += result.skipped
        self.deliveries += result.deliveries
        self.notifications += result.notifications
        self.duplicate_notifications += result.duplicate_notifications
        self.faults.update(result.faults)
        self.dead_letters.update(result.dead_letters)
        self.violations += [(events_per_scenario, v) for v in result.violations]


def run_campaign(
    seeds: list[int],
    events_per_scenario: int,
    *,
    total_events: int | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
    least_privilege: bool = False,
) -> Summary:
    """Run one scenario per seed (until ``total_events`` events, when given); with
    ``least_privilege``, ARM authorizes every request against exactly what infra/ grants."""
    summary = Summary(least_privilege=least_privilege)
    started = time.monotonic()
    with Rig(least_privilege=least_privilege) as rig:
        for seed in seeds:
            if total_events is not None and summary.events >= total_events:
                break
            events = events_per_scenario
            if total_events is not None:
                events = min(events, total_events - summary.events)
            result = rig.run(generate(seed, events))
            summary.add(result, events)
            if on_result is not None:
                on_result(result)
    summary.seconds = time.monotonic() - started
    return summary


def render(summary: Summary) -> str:
    rows = [
        ("scenarios (seeds)", str(summary.scenarios)),
        ("events", str(summary.events)),
        ("  of which skipped (the world no longer allowed them)", str(summary.skipped)),
        ("deliveries to the triggers", str(summary.deliveries)),
        ("faults injected", str(sum(summary.faults.values()))),
        *((f"  {kind}", str(count)) for kind, count in sorted(summary.faults.items())),
        ("messages dead-lettered", str(sum(summary.dead_letters.values()))),
        *((f"  {reason}", str(count)) for reason, count in sorted(summary.dead_letters.items())),
        ("notifications published", str(summary.notifications)),
        ("  repeats of an id (at-least-once)", str(summary.duplicate_notifications)),
        ("ARM authorized against infra/'s grants", "yes" if summary.least_privilege else "no"),
        ("violations", str(len(summary.violations))),
        ("  seeds with a violation", str(len({v.seed for _, v in summary.violations}))),
        ("wall time", f"{summary.seconds:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    if summary.violations:
        lines.append("")
        flag = " --least-privilege" if summary.least_privilege else ""
        lines.append(f"violations (replay: python -m campaign{flag} --seed S --events N):")
        for events, violation in summary.violations:
            lines.append(
                f"  seed {violation.seed} (--events {events}): {violation.invariant}: "
                f"{violation.description}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m campaign", description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="events in all (default 1000)")
    parser.add_argument("--seed", type=int, help="run (replay) this one seed with --events events")
    parser.add_argument("--seed-from", type=int, default=1, help="first seed (default 1)")
    parser.add_argument(
        "--events-per-scenario",
        type=int,
        default=DEFAULT_EVENTS_PER_SCENARIO,
        help=f"events in each seed's scenario (default {DEFAULT_EVENTS_PER_SCENARIO})",
    )
    parser.add_argument("--progress", action="store_true", help="one line per scenario")
    parser.add_argument(
        "--least-privilege",
        action="store_true",
        help="ARM authorizes every request of autoattach against exactly the roles infra/ grants "
        "it (sandbox/least_privilege.py): a missing grant shows as a violation",
    )
    args = parser.parse_args(argv)

    def progress(result: ScenarioResult) -> None:
        if args.progress:
            print(
                f"seed {result.seed}: {result.events} events, {result.deliveries} deliveries, "
                f"{len(result.violations)} violation(s)",
                file=sys.stderr,
                flush=True,
            )

    if args.seed is not None:
        summary = run_campaign(
            [args.seed], args.events, on_result=progress, least_privilege=args.least_privilege
        )
    else:
        seeds = range(args.seed_from, args.seed_from + 10 * args.events + 1)
        summary = run_campaign(
            list(seeds),
            args.events_per_scenario,
            total_events=args.events,
            on_result=progress,
            least_privilege=args.least_privilege,
        )
    print(render(summary))
    return 1 if summary.violations else 0
