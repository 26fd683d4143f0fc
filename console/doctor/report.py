"""One line per check: ok, problem or cannot tell, with what to do; as text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from console.text import printable_lines


class Status(StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    WARNING = "warning"
    UNKNOWN = "cannot tell"


@dataclass(frozen=True)
class Check:
    """``area`` groups the lines (settings, policy, workspaces, permissions, events, queues,
    clusters, notifications); ``subject`` is what was checked; ``fix`` says what to do (empty when
    ok)."""

    area: str
    subject: str
    status: Status
    detail: str
    fix: str = ""


def ok(area: str, subject: str, detail: str) -> Check:
    return Check(area, subject, Status.OK, detail)


def problem(area: str, subject: str, detail: str, fix: str) -> Check:
    return Check(area, subject, Status.PROBLEM, detail, fix)


def warning(area: str, subject: str, detail: str, fix: str) -> Check:
    """Works, but wider than it should be; does not change the exit status."""
    return Check(area, subject, Status.WARNING, detail, fix)


def unknown(area: str, subject: str, detail: str, fix: str = "") -> Check:
    return Check(area, subject, Status.UNKNOWN, detail, fix)


# Exit status: documented in --help and docs/first-deployment.md.
EXIT_OK = 0  # nothing is a problem (some checks may say "warning" or "cannot tell")
EXIT_PROBLEM = 1  # at least one check is a problem
EXIT_USAGE = 2  # wrong input: a world file or option doctor cannot use


def exit_code(checks: list[Check]) -> int:
    return EXIT_PROBLEM if any(c.status is Status.PROBLEM for c in checks) else EXIT_OK


def as_text(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status.value:<11}  {check.area}: {check.subject}: {check.detail}")
        if check.fix:
            lines.append(f"             -> {check.fix}")
    counts = {s: sum(1 for c in checks if c.status is s) for s in Status}
    lines.append(
        f"{len(checks)} checks: {counts[Status.OK]} ok, {counts[Status.PROBLEM]} problem(s), "
        + (f"{counts[Status.WARNING]} warning(s), " if counts[Status.WARNING] else "")
        + f"{counts[Status.UNKNOWN]} cannot tell"
    )
    return printable_lines(lines)


def as_json(checks: list[Check]) -> str:
    return json.dumps(
        {
            "checks": [{**asdict(c), "status": c.status.value} for c in checks],
            "problems": sum(1 for c in checks if c.status is Status.PROBLEM),
            "exit_code": exit_code(checks),
        },
        indent=2,
    )
