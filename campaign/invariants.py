"""What must hold after a scenario, once every message is settled and the sweep has run (until
these hold, at most three times, as a deployment sweeps every interval).

Pure functions over plain data: the world's snapshot and cluster facts, the attach policy
(``shared.decisions.policy.decide_attachments`` says what a cluster's tags ask for and the
policy grants),
the notifications the Event Grid topic received, and what became of every queue message.

- world: every compute autoattach made (any the initial world lacked: people make none during a
  scenario, and what a compute says of itself is no proof) serves an existing
  cluster whose tags ask for it and whose policy allows it, as the policy shapes it, and ended
  Succeeded; every attachment a *ready* cluster asks for (provisioned, Azure ML extension
  Succeeded, a way to make namespaces, no compute of a person or of another target holding the
  name) has its compute and namespace.
- people: every compute and role assignment of the initial world (all made by people) is still
  there, unchanged.
- roles: no role assignment autoattach made lacks a kept compute (or, for a workspace identity's
  cluster rights, a cluster still asking for that workspace) that needs it; none that a kept,
  Succeeded compute on a ready cluster needs is missing.
- messages: every message ended completed or dead-lettered, dead letters with a reason.
- departures: every compute announced as attached is announced as detached once it goes
  (``ComputeDetached`` under the id that ends that ``ComputeAttached``), whatever became of the
  ledger meanwhile; only the compute still attached at the end may lack one.
- notices: one id means one notice (same type, subject and data, but for a ComputeDetached's
  reason, which a copy published after a lost record may give anew; repeats are at-least-once
  duplicates, counted elsewhere); one attachment episode has one ComputeAttached id; a kept
  compute's latest notice says it is attached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.decisions.arm_id import CONNECTED_CLUSTER, ResourceId
from shared.decisions.model import Attachment, Role, StorageAccess
from shared.decisions.notices import departure_id
from shared.decisions.policy import AttachPolicy, TagDecision, decide_attachments

ATTACHED = "Autoattach.ComputeAttached"
DETACHED = "Autoattach.ComputeDetached"
CLUSTER_RIGHTS = (Role.READER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, Role.AKS_CLUSTER_ADMIN)


@dataclass(frozen=True)
class ClusterFacts:
    id: str
    exists: bool
    tags: dict[str, str]
    provisioning_state: str
    azure_rbac: bool
    extension_state: str | None  # the Azure ML extension's state now; None: not installed
    relay: str | None  # the Relay namespace its settings name (Arc)
    trusted_access: tuple[str, ...] = ()  # workspaces its Trusted Access binds (AKS)


@dataclass(frozen=True)
class WorkspaceFacts:
    id: str
    container_registry: str
    storage_account: str
    identity_principal: str | None  # the workspace's user-assigned identity's principal


@dataclass(frozen=True)
class MessageFacts:
    queue: str
    message_id: str
    settled: str | None  # "completed", "dead-lettered", "abandoned", "active", None
    reason: str


@dataclass(frozen=True)
class FinalState:
    seed: int
    tag_key: str
    policy: AttachPolicy
    clusters: tuple[ClusterFacts, ...]
    workspaces: tuple[WorkspaceFacts, ...]
    snapshot: dict[str, Any]  # sandbox.world.World.snapshot() at the end
    namespaces: tuple[tuple[str, str], ...]  # (cluster id, namespace) on every cluster
    initial: dict[str, Any]  # the snapshot at the start: everything in it was made by people
    notifications: tuple[dict[str, Any], ...]
    messages: tuple[MessageFacts, ...]


@dataclass(frozen=True)
class Violation:
    seed: int
    invariant: str
    description: str


def key(resource_id: str) -> str:
    return "/" + resource_id.strip().strip("/").lower()


def check(state: FinalState) -> list[Violation]:
    return [
        *world_matches_policy(state),
        *people_unchanged(state),
        *roles_match(state),
        *messages_settled(state),
        *announced_once(state),
        *departures_announced(state),
    ]


# ---- shared reading of the final state ------------------------------------------------------


@dataclass(frozen=True)
class _Asked:
    cluster: ClusterFacts
    decision: TagDecision


def _asked(state: FinalState) -> dict[str, _Asked]:
    """Existing clusters by key, with what their tags ask for and the policy grants."""
    return {
        key(c.id): _Asked(
            c, decide_attachments(ResourceId.parse(c.id), c.tags, state.tag_key, state.policy)
        )
        for c in state.clusters
        if c.exists
    }


def _people(state: FinalState) -> set[tuple[str, str]]:
    """(workspace key, compute name) of every compute a person made: those of the initial world.
    Ground truth, not what a compute says of itself (a person may copy autoattach's tag or
    description onto theirs)."""
    return {(key(c["workspace"]), str(c["name"]).lower()) for c in state.initial["computes"]}


def _managed(state: FinalState) -> list[dict[str, Any]]:
    people = _people(state)
    return [
        c
        for c in state.snapshot["computes"]
        if (key(c["workspace"]), str(c["name"]).lower()) not in people
    ]


def _attachment_for(asked: _Asked | None, compute: dict[str, Any]) -> Attachment | None:
    if asked is None:
        return None
    return next(
        (
            a
            for a in asked.decision.attachments
            if a.workspace_id.key == key(compute["workspace"])
            and a.compute_name.lower() == str(compute["name"]).lower()
        ),
        None,
    )


def _shaped_as_asked(attachment: Attachment, compute: dict[str, Any]) -> str | None:
    if compute["namespace"] != attachment.namespace:
        return f"namespace {compute['namespace']!r}, policy wants {attachment.namespace!r}"
    if compute["identity_type"] != attachment.identity.type.value:
        return f"identity {compute['identity_type']}, policy wants {attachment.identity.type.value}"
    return None


def _blocked(state: FinalState, cluster: ClusterFacts, attachment: Attachment) -> bool:
    """A compute autoattach may not touch holds the name (a person's, or another target's)."""
    for compute in state.snapshot["computes"]:
        if (
            key(compute["workspace"]) == attachment.workspace_id.key
            and str(compute["name"]).lower() == attachment.compute_name.lower()
        ):
            mine = (key(compute["workspace"]), str(compute["name"]).lower()) not in _people(state)
            return not mine or key(compute["resource_id"]) != key(cluster.id)
    return False


def ready(state: FinalState, cluster: ClusterFacts, attachment: Attachment) -> bool:
    """The cluster can take this attachment now, so it must have been made."""
    route = state.policy.namespace_route(ResourceId.parse(cluster.id), cluster.azure_rbac)
    return (
        cluster.exists
        and cluster.provisioning_state == "Succeeded"
        and cluster.extension_state == "Succeeded"
        and route is not None
        and not _blocked(state, cluster, attachment)
    )


def _storage_role(access: StorageAccess) -> Role:
    if access is StorageAccess.READ_WRITE:
        return Role.STORAGE_BLOB_DATA_CONTRIBUTOR
    return Role.STORAGE_BLOB_DATA_READER


Grant = tuple[str, str, str]  # (scope key, role GUID, principal id lower-cased)


def _grant_of(assignment: dict[str, Any]) -> Grant:
    role = str(assignment["role_definition_id"]).rsplit("/", 1)[-1].lower()
    return (key(assignment["scope"]), role, str(assignment["principal_id"]).lower())


# ---- invariants ----------------------------------------------------------------------------


def world_matches_policy(state: FinalState) -> list[Violation]:
    found: list[Violation] = []

    def violation(text: str) -> None:
        found.append(Violation(state.seed, "world equals policy and tags", text))

    asked = _asked(state)
    for compute in _managed(state):
        where = f"compute {compute['name']} in {_name(compute['workspace'])}"
        cluster = asked.get(key(compute["resource_id"]))
        if cluster is None:
            violation(f"{where} kept for cluster {_name(compute['resource_id'])}, which is gone")
            continue
        attachment = _attachment_for(cluster, compute)
        if attachment is None:
            violation(
                f"{where} kept, but cluster {_name(cluster.cluster.id)}'s tags "
                f"{cluster.cluster.tags.get(state.tag_key)!r} and the policy do not ask for it"
            )
            continue
        shape = _shaped_as_asked(attachment, compute)
        if shape is not None:
            violation(f"{where}: {shape}")
        if compute["provisioning_state"] != "Succeeded":
            violation(f"{where} left {compute['provisioning_state']}")
    namespaces = {(key(c), n) for c, n in state.namespaces}
    computes = {
        (key(c["workspace"]), str(c["name"]).lower()): c for c in state.snapshot["computes"]
    }
    for entry in asked.values():
        facts = entry.cluster
        for attachment in entry.decision.attachments:
            if not ready(state, facts, attachment):
                continue
            where = (
                f"cluster {_name(facts.id)} asks for {attachment.compute_name} in "
                f"{attachment.workspace_id.name}"
            )
            if (attachment.workspace_id.key, attachment.compute_name.lower()) not in computes:
                violation(f"{where}: no compute")
            if (key(facts.id), attachment.namespace) not in namespaces:
                violation(f"{where}: namespace {attachment.namespace} missing")
    return found


def people_unchanged(state: FinalState) -> list[Violation]:
    found: list[Violation] = []
    now_computes = {
        (key(c["workspace"]), str(c["name"]).lower()): c for c in state.snapshot["computes"]
    }
    for compute in state.initial["computes"]:
        now = now_computes.get((key(compute["workspace"]), str(compute["name"]).lower()))
        if now != compute:
            what = "removed" if now is None else f"changed to {now}"
            found.append(
                Violation(
                    state.seed,
                    "nothing a person made was changed",
                    f"person's compute {compute['name']} in {_name(compute['workspace'])} {what}",
                )
            )
    now_roles = {a["name"]: a for a in state.snapshot["role_assignments"]}
    for assignment in state.initial["role_assignments"]:
        if now_roles.get(assignment["name"]) != assignment:
            found.append(
                Violation(
                    state.seed,
                    "nothing a person made was changed",
                    f"person's role assignment {assignment['name']} on "
                    f"{_name(assignment['scope'])} removed or changed",
                )
            )
    return found


def roles_match(state: FinalState) -> list[Violation]:
    asked = _asked(state)
    workspaces = {key(w.id): w for w in state.workspaces}
    allowed: set[Grant] = set()
    required: dict[Grant, str] = {}
    kept_in: set[tuple[str, str]] = set()  # (cluster key, workspace key) with a kept compute
    for compute in _managed(state):
        cluster = asked.get(key(compute["resource_id"]))
        attachment = _attachment_for(cluster, compute)
        workspace = workspaces.get(key(compute["workspace"]))
        if cluster is None or attachment is None or workspace is None:
            continue
        if _shaped_as_asked(attachment, compute) is not None:
            continue
        principal = str(compute.get("principal_id") or "").lower()
        grants = [
            (key(workspace.container_registry), Role.ACR_PULL.value, principal),
            (
                key(workspace.storage_account),
                _storage_role(attachment.storage_access).value,
                principal,
            ),
        ]
        allowed.update(grants)
        kept_in.add((key(cluster.cluster.id), attachment.workspace_id.key))
        if compute["provisioning_state"] == "Succeeded" and ready(
            state, cluster.cluster, attachment
        ):
            for grant in grants:
                required[grant] = f"compute {compute['name']} in {_name(compute['workspace'])}"
    for entry in asked.values():
        facts = entry.cluster
        for workspace_id in dict.fromkeys(a.workspace_id for a in entry.decision.attachments):
            workspace = workspaces.get(workspace_id.key)
            if workspace is None or not workspace.identity_principal:
                continue
            principal = workspace.identity_principal.lower()
            grants = [(key(facts.id), role.value, principal) for role in CLUSTER_RIGHTS]
            if workspace_id.key in {key(w) for w in facts.trusted_access}:
                grants.append((key(facts.id), Role.CONTRIBUTOR.value, principal))
            if ResourceId.parse(facts.id).resource_type == CONNECTED_CLUSTER and facts.relay:
                grants.append((key(facts.relay), Role.AZURE_RELAY_OWNER.value, principal))
            allowed.update(grants)
            if (key(facts.id), workspace_id.key) in kept_in:
                for grant in grants:
                    required[grant] = (
                        f"workspace {workspace_id.name}'s identity on {_name(facts.id)}"
                    )
    found: list[Violation] = []
    people = {a["name"] for a in state.initial["role_assignments"]}
    held = {_grant_of(a) for a in state.snapshot["role_assignments"]}
    for assignment in state.snapshot["role_assignments"]:
        if assignment["name"] in people or _grant_of(assignment) in allowed:
            continue
        found.append(
            Violation(
                state.seed,
                "no role autoattach made lacks a compute that needs it",
                f"{_role_name(assignment['role_definition_id'])} on {_name(assignment['scope'])} "
                f"for {assignment['principal_id']}",
            )
        )
    for grant, whom in required.items():
        if grant not in held:
            found.append(
                Violation(
                    state.seed,
                    "no role a kept compute needs is missing",
                    f"{_role_name(grant[1])} on {_name(grant[0])} for {whom} ({grant[2]})",
                )
            )
    return found


def messages_settled(state: FinalState) -> list[Violation]:
    found = []
    for message in state.messages:
        if message.settled == "completed":
            continue
        if message.settled == "dead-lettered" and message.reason:
            continue
        what = (
            "dead-lettered without a reason"
            if message.settled == "dead-lettered"
            else (f"left {message.settled or 'unsettled'}")
        )
        found.append(
            Violation(
                state.seed,
                "every message completed or dead-lettered with a reason",
                f"message {message.message_id} on {message.queue} {what}",
            )
        )
    return found


def announced_once(state: FinalState) -> list[Violation]:
    found: list[Violation] = []

    def violation(invariant: str, text: str) -> None:
        found.append(Violation(state.seed, invariant, text))

    first: dict[str, dict[str, Any]] = {}
    for notice in state.notifications:
        seen = first.setdefault(notice["id"], notice)
        if seen is notice:
            continue
        differs = _differences(seen, notice)
        if differs:
            violation(
                "each change announced once per deterministic id",
                f"{notice['type']} id {notice['id']} published twice with different "
                f"{', '.join(differs)}",
            )
    latest: dict[str, dict[str, Any]] = {}
    for subject, notices in _by_subject(state.notifications).items():
        current: dict[str, Any] | None = None
        for notice in notices:
            if notice["type"] == DETACHED:
                current = None
            elif current is None:
                current = notice
            elif notice["id"] != current["id"] and _principal(notice) == _principal(current):
                violation(
                    "each change announced once per deterministic id",
                    f"{_name(subject)} announced attached under two ids ({current['id']}, "
                    f"{notice['id']}) with no detach between",
                )
                current = notice
            latest[subject] = notice
    asked = _asked(state)
    for compute in _managed(state):
        cluster = asked.get(key(compute["resource_id"]))
        attachment = _attachment_for(cluster, compute)
        if (
            cluster is None
            or attachment is None
            or compute["provisioning_state"] != "Succeeded"
            or not ready(state, cluster.cluster, attachment)
        ):
            continue
        subject = key(f"{compute['workspace']}/computes/{compute['name']}")
        last = latest.get(subject)
        if last is None or last["type"] != ATTACHED:
            said = "nothing" if last is None else last["type"]
            violation(
                "each change announced once per deterministic id",
                f"kept compute {compute['name']} in {_name(compute['workspace'])}: owners were "
                f"last told {said}",
            )
    return found


def departures_announced(state: FinalState) -> list[Violation]:
    """Every ``ComputeAttached`` id has its ``ComputeDetached`` (the id ending it), unless it is
    the latest attachment announced for a compute autoattach still keeps at the end (for a
    system-assigned identity, the same principal: not a compute made again since)."""
    published = {str(n["id"]) for n in state.notifications}
    people = _people(state)
    kept = {
        key(f"{c['workspace']}/computes/{c['name']}"): c
        for c in state.snapshot["computes"]
        if (key(c["workspace"]), str(c["name"]).lower()) not in people
    }
    found: list[Violation] = []
    for subject, notices in _by_subject(state.notifications).items():
        attached = list({str(n["id"]): n for n in notices if n["type"] == ATTACHED}.values())
        for index, notice in enumerate(attached):
            if departure_id(str(notice["id"])) in published:
                continue
            compute = kept.get(subject)
            latest = index == len(attached) - 1
            told = _principal(notice)
            same = compute is not None and (
                compute.get("identity_type") != "system_assigned"
                or not told
                or str(compute.get("principal_id") or "").lower() == told
            )
            if latest and same:
                continue  # still attached: nothing went
            found.append(
                Violation(
                    state.seed,
                    "every compute announced as attached is announced as detached once it goes",
                    f"{_name(subject)} in {_name(str(notice['data'].get('workspace', '')))} "
                    f"announced attached ({notice['id']}) and gone, never announced detached",
                )
            )
    return found


def _by_subject(notifications: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for notice in notifications:
        if notice["type"] in (ATTACHED, DETACHED) and notice.get("subject"):
            grouped.setdefault(key(str(notice["subject"])), []).append(notice)
    return grouped


def _principal(notice: dict[str, Any]) -> str:
    return str((notice.get("data") or {}).get("principal_id") or "").lower()


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    differs = [f for f in ("type", "subject") if a.get(f) != b.get(f)]
    data_a, data_b = a.get("data") or {}, b.get("data") or {}
    # a ComputeDetached published again after the record of its first copy was lost may give a
    # later reason (docs/notifications.md): the same change, told as autoattach saw it then
    free = {"reason"} if a.get("type") == DETACHED else set()
    differs += [
        f"data.{name}"
        for name in sorted((set(data_a) | set(data_b)) - free)
        if data_a.get(name) != data_b.get(name)
    ]
    return differs


def _name(resource_id: str) -> str:
    return str(resource_id).rstrip("/").rsplit("/", 1)[-1]


def _role_name(role: str) -> str:
    guid = str(role).rsplit("/", 1)[-1].lower()
    try:
        return Role(guid).display_name
    except ValueError:
        return guid
