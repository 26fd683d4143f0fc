"""One verdict per compute and per cluster for ``autoattach status``, as Azure Service Operator
gives each resource one Ready condition: Ready; Waiting (for what, since when); or Needs a person
(what to do). Pure functions over the plain data ``status`` builds (its --output json)."""

from __future__ import annotations

from typing import Any

READY, WAITING, NEEDS_A_PERSON = "Ready", "Waiting", "Needs a person"
STORAGE_ROLES = ("Storage Blob Data Reader", "Storage Blob Data Contributor")


def verdict(status: str, reason: str = "", since: str | None = None) -> dict[str, Any]:
    return {"status": status, "reason": reason, "since": since}


def compute_verdict(compute: dict[str, Any], grants: list[dict[str, Any]]) -> dict[str, Any]:
    """A compute autoattach attached: Ready once Azure ML says Succeeded and its identity holds
    AcrPull and a Storage Blob Data role (``grants``: the role assignments autoattach made)."""
    state = str(compute.get("state") or "")
    since = compute.get("created_on") or None
    lowered = state.lower()
    if lowered in ("creating", "updating"):
        return verdict(WAITING, f"Azure ML is {lowered} it", since)
    if lowered == "deleting":
        return verdict(WAITING, "Azure ML is detaching it")
    if lowered in ("failed", "canceled"):
        return verdict(
            NEEDS_A_PERSON,
            f"Azure ML reports it {state}: see why with `az ml compute show --name "
            f"{compute['name']} --workspace-name {str(compute['workspace']).rsplit('/', 1)[-1]} "
            "--resource-group <group>`; autoattach detaches and attaches it again on the next "
            "reconcile (`autoattach reconcile --cluster <cluster>`)",
        )
    if lowered != "succeeded":
        return verdict(WAITING, f"Azure ML shows it {state or 'in no state'}", since)
    principal = compute.get("principal_id")
    if not principal:
        return verdict(WAITING, "for Azure ML to show its identity's principal")
    held = {g["role"] for g in grants if str(g["principal_id"]).lower() == principal}
    missing = [r for r in ("AcrPull",) if r not in held]
    if not any(r in held for r in STORAGE_ROLES):
        missing.append("a Storage Blob Data role")
    if missing:
        return verdict(
            WAITING,
            f"for its role assignments ({', '.join(missing)}): the next reconcile grants them",
        )
    return verdict(READY)


def cluster_verdict(
    name: str, last: dict[str, Any] | None, computes: list[dict[str, Any]]
) -> dict[str, Any]:
    """A cluster, from what became of the last message about it and its computes' verdicts."""
    if last is None:
        return verdict(
            WAITING,
            "for a first event or sweep to be handled (nothing is recorded for it yet)",
        )
    outcome = str(last.get("outcome") or "")
    reason = str(last.get("reason") or last.get("summary") or "").strip().splitlines()
    why = reason[0] if reason else outcome
    at = last.get("at")
    if outcome == "dead-lettered":
        return verdict(
            NEEDS_A_PERSON,
            f"{why}: fix the cause, then `autoattach dead-letters replay --cluster {name}`",
            at,
        )
    if outcome != "completed":
        return verdict(WAITING, why, at)
    pending = [c for c in computes if c["verdict"]["status"] != READY]
    person = [c for c in pending if c["verdict"]["status"] == NEEDS_A_PERSON]
    if person:
        first = person[0]
        return verdict(NEEDS_A_PERSON, f"compute {first['name']}: {first['verdict']['reason']}")
    if pending:
        first = pending[0]
        return verdict(
            WAITING,
            f"compute {first['name']}: {first['verdict']['reason']}",
            first["verdict"]["since"],
        )
    return verdict(READY)


def words(found: dict[str, Any]) -> str:
    """A verdict on one line: "Ready", "Waiting: for ... (since ...)", "Needs a person: ..."."""
    text = found["status"]
    if found["reason"]:
        text += f": {found['reason']}"
    if found.get("since"):
        text += f" (since {found['since']})"
    return text
