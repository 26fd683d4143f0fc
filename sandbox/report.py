"""What a sandbox run prints: a readable account, or one JSON object."""

from __future__ import annotations

import json
from typing import Any

from sandbox.runner import Delivery, PassReport, Sandbox


def json_report(sandbox: Sandbox, passes: list[PassReport]) -> dict[str, Any]:
    snapshot = sandbox.world.snapshot()
    return {
        "events": [
            {"id": d.id, "outcome": d.outcome, "reason": d.reason}
            for report in passes
            for d in report.deliveries
        ],
        "world": {
            "clusters": snapshot["clusters"],
            "namespaces": sandbox.namespaces(),
            "computes": [
                {
                    key: c[key]
                    for key in (
                        "workspace",
                        "name",
                        "resource_id",
                        "namespace",
                        "identity_type",
                        "principal_id",
                    )
                }
                for c in snapshot["computes"]
            ],
            "role_assignments": [
                {key: a[key] for key in ("scope", "role_definition_id", "principal_id")}
                for a in snapshot["role_assignments"]
            ],
            # every notice published, in order, with its full data (docs/notifications.md)
            "notifications": [
                {key: n[key] for key in ("id", "type", "source", "subject", "time", "data")}
                for n in sandbox.topic.notifications
            ],
        },
        # ARM requests: reads (GET/HEAD but polls), polls (long-running operation status reads),
        # writes (PUT/PATCH/POST/DELETE); per pass, and for the run.
        "requests": {
            "reads": sum(p.reads for p in passes),
            "polls": sum(p.polls for p in passes),
            "writes": sum(p.writes for p in passes),
        },
        "passes": [{"reads": p.reads, "polls": p.polls, "writes": p.writes} for p in passes],
        # Every ARM request of the run, checked against the published types (sandbox/contracts.py).
        "contracts": sandbox.arm.contracts,
    }


def notices_jsonl(sandbox: Sandbox) -> str:
    """The notices published during the run as CloudEvents JSON lines: one structured-mode
    CloudEvent per line, exactly as the product sent it to the topic (docs/notifications.md)."""
    return "".join(
        json.dumps(n["envelope"]) + "\n"
        for n in sandbox.topic.notifications
        if n["schema"] == "cloudevents"
    )


def describe_delivery(delivery: Delivery) -> str:
    lines = [f"  t+{delivery.at:>5.0f}s  {delivery.queue:<16} {delivery.label}"]
    lines += [f"             - {note}" for note in delivery.notes]
    lines.append(f"             => {delivery.outcome}: {one_line(delivery.reason)}")
    return "\n".join(lines)


def one_line(text: str) -> str:
    """A reason on one line: an SDK's multi-line rendering of an error (code, message, details)
    is cut to its first line."""
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def role_title(role_definition_id: str) -> str:
    """A role by its name (the built-in roles autoattach grants), else its GUID."""
    from shared.decisions.model import ROLE_TITLES

    guid = role_definition_id.rsplit("/", 1)[-1].lower()
    return {role.value: title for role, title in ROLE_TITLES.items()}.get(guid, guid)


def describe_world(sandbox: Sandbox, passes: list[PassReport]) -> str:
    snapshot = sandbox.world.snapshot()
    out = ["", "What the world looks like now:"]
    for cluster in snapshot["clusters"]:
        name = cluster["id"].rsplit("/", 1)[-1]
        state = "exists" if cluster["exists"] else "deleted"
        namespaces = [n["name"] for n in sandbox.namespaces() if n["cluster"] == cluster["id"]]
        out.append(
            f"  cluster {name} ({cluster['kind']}, {state}): namespaces {', '.join(namespaces)}"
        )
    for compute in snapshot["computes"]:
        out.append(
            f"  compute {compute['name']} in {compute['workspace'].rsplit('/', 1)[-1]}: "
            f"cluster {str(compute['resource_id']).rsplit('/', 1)[-1]}, "
            f"namespace {compute['namespace']}, {compute['identity_type']} identity "
            f"{compute['principal_id']}"
        )
    for assignment in snapshot["role_assignments"]:
        out.append(
            f"  role {role_title(assignment['role_definition_id'])} on "
            f"{assignment['scope'].rsplit('/', 1)[-1]} for {assignment['principal_id']}"
        )
    for notification in sandbox.topic.notifications:
        out.append(f"  notified {notification['type']}: {notification['subject']}")
    out.append("")
    for index, report in enumerate(passes, start=1):
        out.append(
            f"Pass {index}: {len(report.deliveries)} deliveries, ARM reads {report.reads}, "
            f"polls {report.polls}, writes {report.writes}, notifications {report.notifications}"
        )
    if sandbox.world.arm_authorization:
        refused = sum(1 for request in sandbox.arm.log if request.status == 403)
        out.append(
            "ARM authorized every request against the world's role assignments: "
            f"{refused} refused (403)"
        )
    return "\n".join(out)
