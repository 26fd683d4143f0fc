"""What workspace owners are told, derived like the plan: a pure function of what Azure shows and
of what was already announced (the cluster's ledger), never of bookkeeping inside one run.

Each notice stands for a fact ("compute X is attached and ready", "the cluster waits for its
extension", ...) with a deterministic CloudEvent id: the same change always gets the same id. A
fact is announced until it is published: a run that fails before recording it announces it
again, under the same id, so subscribers drop the duplicate. A fact that clears and comes back
later (an extension missing again) is a new episode with a new id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.model import (
    SUCCEEDED,
    Attachment,
    ClusterState,
    ComputeState,
    WhenExtensionMissing,
)
from shared.decisions.planner import (
    AttachCompute,
    CreateNamespace,
    GrantRole,
    InstallExtension,
    Observation,
    Plan,
    Problem,
    compute_key,
    data_roles,
    principal_of,
    release_reason,
)
from shared.decisions.policy import TagDecision


@dataclass(frozen=True)
class Notification:
    """One thing a workspace's owners should know; ``subject`` is the workspace (or compute) id."""

    type: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)
    # The CloudEvent id: the same change always gets the same id, so subscribers can drop a
    # notice delivered twice (autoattach announces until it has published, at least once).
    id: str | None = None


ATTACHED = "Autoattach.ComputeAttached"
DETACHED = "Autoattach.ComputeDetached"
ATTACH_FAILED = "Autoattach.AttachFailed"
WAITING = "Autoattach.AttachWaiting"
EXTENSION_INSTALLING = "Autoattach.ExtensionInstalling"
# To the platform team: tag entries the attach policy refused (subject: the cluster id).
TAG_REFUSED = "Autoattach.TagRefused"
# Not a notice: how often a Failed compute was attached again (kept in the cluster's ledger)
ATTACH_TRIES = "AttachTries"
# In a ComputeAttached ledger entry: {"id", "reason", "told"} of the ComputeDetached told (or
# to be told: "told" false while its publish has not succeeded) before the compute's detach
# (shared.decisions.departures)
DEPARTURE = "departure"

# Fixed namespace for notice ids: uuid5(namespace, fact) is the same wherever it is computed.
NOTICE_NAMESPACE = uuid.UUID("0d7f4f0e-8a3c-5b7e-9f21-6c1d2e3a4b5c")

Record = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Fact:
    key: str
    notice: Notification
    entry: dict[str, Any]


@dataclass(frozen=True)
class Announcements:
    """What to publish now, and the cluster's ledger record once it is published."""

    notices: tuple[Notification, ...]
    record: Record


def notice_id(*parts: str) -> str:
    return str(uuid.uuid5(NOTICE_NAMESPACE, "|".join(p.lower() for p in parts)))


def derive(
    observed: Observation,
    current: Plan,
    announced: Mapping[str, Mapping[str, Any]],
    *,
    problems: Iterable[Problem] = (),
    detach_reasons: Mapping[str, str] | None = None,
    retried: Iterable[str] = (),
    departures: Mapping[str, Mapping[str, Any]] | None = None,
) -> Announcements:
    """The notices this cluster's state calls for that were not announced yet.

    ``problems`` are those met while applying (a grant Azure refused), beside the plan's own;
    ``detach_reasons`` (keyed by compute id) only add detail from this run; ``retried``: the
    compute id keys detached in this run to be attached again after they ended Failed;
    ``departures`` are the ledger entries of computes whose departure this run told before
    detaching them (shared.decisions.departures): an entry with a departure told stays while
    its compute shows, then leaves the record with nothing more to tell."""
    detach_reasons = detach_reasons or {}
    announced = {**announced, **(departures or {})}
    facts = [
        *_attached(observed, current, problems),
        *_waiting(observed, current),
        *_installing(observed, current),
        *_failed(observed, [*current.problems, *problems]),
        *_refused(observed.cluster, observed.decision),
    ]
    record: Record = {}
    notices: list[Notification] = []
    derived_keys = set()
    for fact in facts:
        if fact.key in derived_keys:
            continue
        derived_keys.add(fact.key)
        before = announced.get(fact.key)
        if before is not None and fact.entry["type"] == ATTACHED and before["id"] != fact.notice.id:
            # the same name, another compute (detached and attached again): both are news
            if not told_departure(before):  # else it was told as it was detached
                notices.append(_replaced_notice(before, detach_reasons))
            before = None
        if before is not None and before.get("active", True):
            record[fact.key] = dict(before)
            continue
        episode = int(before.get("episode", 0)) + 1 if before is not None else 0
        notice = fact.notice
        if fact.entry["type"] != ATTACHED:
            notice = Notification(
                notice.type, notice.subject, notice.data, notice_id(fact.key, str(episode))
            )
        notices.append(notice)
        record[fact.key] = {**fact.entry, "id": notice.id, "episode": episode, "active": True}
    for key, before in announced.items():
        if key in record:
            continue
        if before.get("type") == ATTACHED and before.get("active", True):
            if told_departure(before):  # told as it was detached: kept only while it shows
                if _shows(observed, before):
                    record[key] = dict(before)
                continue
            gone = _detached(observed, before, detach_reasons)
            if gone is None:
                record[key] = dict(before)  # still there, just not ready: no news yet
            else:
                notices.append(gone)
        elif before.get("type") == ATTACH_TRIES:
            if f"attached|{key.split('|', 1)[1]}" not in record:
                record[key] = dict(before)  # attached since: the tries start again next time
        elif before.get("type") != ATTACHED:
            record[key] = {**before, "active": False}  # cleared; may come back as a new episode
    for compute_key_text in dict.fromkeys(retried):
        key = f"tries|{compute_key_text}"
        count = int(record.get(key, announced.get(key, {})).get("count", 0)) + 1
        record[key] = {"type": ATTACH_TRIES, "count": count, "active": False}
    return Announcements(tuple(notices), record)


def attach_tries(announced: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Compute id key -> how often autoattach attached it again after it ended Failed."""
    return {
        key.split("|", 1)[1]: int(entry.get("count", 0))
        for key, entry in announced.items()
        if entry.get("type") == ATTACH_TRIES and "|" in key
    }


def _attached(
    observed: Observation,
    current: Plan,
    problems: Iterable[Problem],
) -> list[Fact]:
    """Attachments whose compute is ours, Succeeded, and holds every role it needs."""
    busy = {a.attachment for a in current.actions if isinstance(a, AttachCompute | GrantRole)}
    namespaces = {a.namespace for a in current.actions if isinstance(a, CreateNamespace)}
    troubled = {p.attachment for p in [*current.problems, *problems]}
    facts = []
    for attachment in observed.decision.attachments:
        compute = observed.compute_for(attachment)
        workspace = observed.workspaces.get(attachment.workspace_id)
        if (
            compute is None
            or workspace is None
            or not compute.managed_by_autoattach
            or compute.provisioning_state.lower() != SUCCEEDED
            or release_reason(observed, compute, attachment) is not None
            or attachment in busy
            or attachment in troubled
            or attachment.namespace in namespaces
        ):
            continue
        principal = principal_of(observed, compute)
        needed = data_roles(attachment, workspace)
        if not principal or not all(observed.holds(sc, principal, r) for sc, r in needed):
            continue
        key = f"attached|{compute.id.key}"
        fact_id = attached_id(compute, principal)
        notice = Notification(
            type=ATTACHED,
            subject=compute.id.raw,
            data={
                "workspace": attachment.workspace_id.raw,
                "compute": compute.name,
                "cluster": observed.cluster.id.raw,
                "namespace": attachment.namespace,
                "identity_type": attachment.identity.type.value,
                "principal_id": principal,
                "storage_access": attachment.storage_access.value,
                # what the compute holds, as Azure shows it: the same on every announcement of
                # this id (what one run changed is logged, not published under a stable id)
                "roles": sorted(f"{r.display_name} on {sc.raw}" for sc, r in needed),
            },
            id=fact_id,
        )
        entry = {
            "type": ATTACHED,
            "compute": compute.id.raw,
            "workspace": attachment.workspace_id.raw,
            "cluster": observed.cluster.id.raw,
            "shape": shape(attachment),
            # what Azure made: with the compute id, what confirms a legacy claim of ownership
            "created_on": compute.created_on,
        }
        facts.append(Fact(key, notice, entry))
    return facts


def shape(attachment: Attachment) -> str:
    """What the policy asked of a compute when it was announced: a compute announced with
    another shape (namespace, identity, storage access) is not the one the policy wants now."""
    identity = attachment.identity.resource_id.key if attachment.identity.resource_id else ""
    return "|".join(
        (
            attachment.namespace,
            attachment.identity.type.value,
            identity,
            attachment.storage_access.value,
        )
    )


def shape_parts(entry: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(namespace, identity type, identity key, storage access) of an announced entry's shape
    (``shape``); empty strings where the entry has none."""
    namespace, identity_type, identity, access = (
        str(entry.get("shape", "")).split("|") + [""] * 4
    )[:4]
    return namespace, identity_type, identity, access


def settled(
    cluster: ClusterState,
    decision: TagDecision,
    announced: Mapping[str, Mapping[str, Any]],
) -> bool:
    """Pure: the ledger shows this cluster converged as its tag asks now: every attachment was
    announced attached in the shape the policy wants, nothing else autoattach announced for it
    is still out, and no waiting or failure is open; a refusal of tag entries is settled once
    that same refusal was announced (it stays as long as the tag does). Then an event need read
    nothing more; drift since (a compute a person removed) is the sweep's to find."""
    if not cluster.exists or not decision.attachments:
        return False
    if cluster.provisioning_state.lower() != SUCCEEDED:
        return False
    if any(not announced_as_wanted(cluster.id, a, announced) for a in decision.attachments):
        return False
    wanted = {attached_key(a) for a in decision.attachments}
    # the tag's refusal, announced already: it stays as long as the tag does, and is no work
    told = {key for key, entry in announced.items() if entry.get("active", True)}
    wanted |= {f.key for f in _refused(cluster, decision) if f.key in told}
    for key, entry in announced.items():
        if not entry.get("active", True):
            continue
        if key not in wanted:
            return False  # another compute still announced, or a wait or failure still open
    return all(f.key in wanted for f in _refused(cluster, decision))


def attached_key(attachment: Attachment) -> str:
    compute_id = attachment.workspace_id.child("computes", attachment.compute_name)
    return f"attached|{compute_id.key}"


def announced_as_wanted(
    cluster_id: ResourceId, attachment: Attachment, announced: Mapping[str, Mapping[str, Any]]
) -> bool:
    """The ledger shows this attachment's compute announced attached, for this cluster, in the
    shape the policy wants now (and not since seen gone)."""
    entry = announced.get(attached_key(attachment))
    return (
        entry is not None
        and entry.get("type") == ATTACHED
        and entry.get("active", True)
        and not entry.get(DEPARTURE)
        and entry.get("shape") == shape(attachment)
        and str(entry.get("cluster", "")).lower() == cluster_id.key
    )


def _detached(
    observed: Observation, before: Mapping[str, Any], detach_reasons: Mapping[str, str]
) -> Notification | None:
    """The detached notice for an announced compute that Azure no longer shows, else None."""
    try:
        compute_id = ResourceId.parse(str(before.get("compute", "")))
        workspace_id = ResourceId.parse(str(before.get("workspace", "")))
    except InvalidResourceId:
        return None  # an unreadable entry: drop it rather than announce nonsense
    if _shows(observed, before):
        return None
    name = compute_id.name
    reason = (
        _departure_reason(before)
        or detach_reasons.get(compute_id.key)
        or _why_gone(observed, workspace_id, name)
    )
    return Notification(
        type=DETACHED,
        subject=compute_id.raw,
        data={
            "workspace": workspace_id.raw,
            "compute": name,
            "cluster": before.get("cluster") or observed.cluster.id.raw,
            "reason": reason,
        },
        id=departure_id(str(before.get("id", compute_id.key))),
    )


def told_departure(entry: Mapping[str, Any]) -> bool:
    """The entry records a ComputeDetached published before its compute's detach."""
    departure = entry.get(DEPARTURE)
    return isinstance(departure, Mapping) and bool(departure.get("told", True))


def _departure_reason(entry: Mapping[str, Any]) -> str:
    """The reason a departure was (to be) told with, kept so that every copy gives the same."""
    departure = entry.get(DEPARTURE)
    return str(departure.get("reason") or "") if isinstance(departure, Mapping) else ""


def _shows(observed: Observation, entry: Mapping[str, Any]) -> bool:
    """Azure still shows the compute of a ledger entry (in any state)."""
    try:
        compute_id = ResourceId.parse(str(entry.get("compute", "")))
    except InvalidResourceId:
        return False
    return any(c.id == compute_id for c in [*observed.computes.values(), *observed.owned])


def departure_id(attached_id: str) -> str:
    """The ``ComputeDetached`` id that ends the attachment announced under ``attached_id``."""
    return notice_id("detached", attached_id)


def attached_id(compute: ComputeState, principal: str) -> str:
    """The ``ComputeAttached`` id of this compute as Azure made it (derived from the compute
    alone: its id, its identity's principal, its ``createdOn``)."""
    return notice_id(f"attached|{compute.id.key}", principal, compute.created_on)


def _replaced_notice(before: Mapping[str, Any], detach_reasons: Mapping[str, str]) -> Notification:
    compute_id = ResourceId.parse(str(before["compute"]))
    reason = (
        _departure_reason(before)
        or detach_reasons.get(compute_id.key)
        or f"compute {compute_id.name} was detached and attached again"
    )
    return Notification(
        type=DETACHED,
        subject=compute_id.raw,
        data={
            "workspace": before.get("workspace"),
            "compute": compute_id.name,
            "cluster": before.get("cluster"),
            "reason": reason,
        },
        id=departure_id(str(before["id"])),
    )


def _why_gone(observed: Observation, workspace_id: ResourceId, name: str) -> str:
    cluster = observed.cluster.id.name
    if not observed.cluster.exists:
        return f"cluster {cluster} was deleted"
    if workspace_id not in observed.allowed_workspaces:
        return (
            f"the attach policy no longer lets cluster {cluster} join workspace {workspace_id.name}"
        )
    wanted = {compute_key(a.workspace_id, a.compute_name) for a in observed.decision.attachments}
    if compute_key(workspace_id, name) not in wanted:
        return f"cluster {cluster} is no longer tagged for workspace {workspace_id.name}"
    return f"compute {name} was removed; autoattach attaches it again"


def _nobody_installs(observed: Observation) -> bool:
    return (
        observed.extension_read
        and observed.extension is None
        and observed.extension_policy.when_missing is WhenExtensionMissing.WAIT
        and observed.cluster.exists
        and observed.cluster.provisioning_state.lower() == SUCCEEDED
    )


def _workspaces(observed: Observation) -> list[ResourceId]:
    return list(dict.fromkeys(a.workspace_id for a in observed.decision.attachments))


def _waiting(observed: Observation, current: Plan) -> list[Fact]:
    """One notice per workspace and cause while the extension is missing and nobody installs."""
    if current.wait_reason is None or not _nobody_installs(observed):
        return []
    cluster = observed.cluster.id
    facts = []
    for workspace_id in _workspaces(observed):
        key = f"waiting|{workspace_id.key}|{cluster.key}|no-extension"
        notice = Notification(
            type=WAITING,
            subject=workspace_id.raw,
            data={
                "workspace": workspace_id.raw,
                "cluster": cluster.raw,
                "waiting_for": current.wait_reason,
            },
        )
        facts.append(Fact(key, notice, {"type": WAITING, "workspace": workspace_id.raw}))
    return facts


def _installing(observed: Observation, current: Plan) -> list[Fact]:
    """When autoattach starts the policy's extension install, and while it runs, once per
    workspace."""
    extension = observed.extension
    starting = any(isinstance(a, InstallExtension) for a in current.actions)
    running = (
        extension is not None
        and extension.provisioning_state.lower() in ("creating", "updating")
        and observed.extension_policy.when_missing is WhenExtensionMissing.INSTALL
    )
    if not (starting or running):
        return []
    cluster = observed.cluster.id
    name = extension.id.name if extension is not None else observed.extension_policy.name
    facts = []
    for workspace_id in _workspaces(observed):
        key = f"installing|{workspace_id.key}|{cluster.key}"
        notice = Notification(
            type=EXTENSION_INSTALLING,
            subject=workspace_id.raw,
            data={"workspace": workspace_id.raw, "cluster": cluster.raw, "extension": name},
        )
        facts.append(Fact(key, notice, {"type": EXTENSION_INSTALLING}))
    return facts


def _refused(cluster: ClusterState, decision: TagDecision) -> list[Fact]:
    """One notice to the platform team (subject: the cluster) per distinct refusal: the tag's
    refused entries and why. Another set of refused entries (or reasons) is another fact."""
    if not cluster.exists or not decision.refused:
        return []
    entries = [{"entry": entry, "reason": reason} for entry, reason in decision.refusals]
    digest = hashlib.sha256(
        json.dumps([decision.tag_key.lower(), entries], sort_keys=True).encode()
    ).hexdigest()[:16]
    key = f"refused|{cluster.id.key}|{digest}"
    notice = Notification(
        type=TAG_REFUSED,
        subject=cluster.id.raw,
        data={"cluster": cluster.id.raw, "tag_key": decision.tag_key, "entries": entries},
    )
    return [Fact(key, notice, {"type": TAG_REFUSED, "refused": list(decision.refused)})]


def _failed(observed: Observation, problems: Iterable[Problem]) -> list[Fact]:
    facts = []
    for problem in problems:
        data = {
            "workspace": problem.workspace.raw,
            "cluster": observed.cluster.id.raw,
            "problem": problem.message,
        }
        if problem.attachment is not None:
            data["compute"] = problem.attachment.compute_name
        key = f"failed|{problem.workspace.key}|{observed.cluster.id.key}|{problem.message}"
        notice = Notification(type=ATTACH_FAILED, subject=problem.workspace.raw, data=data)
        facts.append(Fact(key, notice, {"type": ATTACH_FAILED}))
    return facts
