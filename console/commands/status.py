"""``autoattach status``: what autoattach keeps, for a cluster, a workspace, or everywhere.

Read-only. The computes autoattach made (their description carries its seal) in the policy's
workspaces, the role assignments it made (its deterministic names and description), and, per
cluster, what its ledger says was announced and what became of the last message about it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from console.commands.target import (
    WHERE_HELP,
    Target,
    WrongInput,
    add_where,
    bad_id,
    cluster_id,
    counts_line,
    opened,
    resolve_cluster,
)
from console.commands.verdicts import cluster_verdict, compute_verdict, words
from console.output import add_output, render
from console.progress import Step, progress, silent
from console.text import printable, printable_lines
from console.versions import mismatch
from shared.decisions.arm_id import CONNECTED_CLUSTER, WORKSPACE, InvalidResourceId, ResourceId
from shared.decisions.errors import AutoattachError
from shared.decisions.model import ComputeState, IdentityType, MadeAssignment
from shared.engine.observe import workspace_principal

STATUS_HELP = f"""\
Show what autoattach keeps: the computes it attached (state, cluster, namespace, identity), the
role assignments it made (on registries and storage accounts for the computes' identities, on
clusters and relays for workspace identities), and per cluster what its ledger says was
announced to owners and the last outcome (what became of the last event or request about it:
completed, re-check later, or dead-lettered, with the reason, the event id and when).

Without --cluster or --workspace: every workspace of the attach policy, and every cluster tagged
in the sweep's subscriptions (SWEEP_SUBSCRIPTIONS). Read-only: nothing is written, no lease taken.
In Azure you need Reader on the workspaces, clusters and role assignments, and Storage Blob Data
Reader on the app's storage account (the clusters' ledgers).

{WHERE_HELP}

Exit status: 0 printed; 1 Azure failed; 2 wrong input (the id, file or setting is named); 3
nobody is signed in to Azure."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "status",
        help="show the computes, grants and last outcomes autoattach keeps",
        description=STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--cluster", metavar="CLUSTER", help="only this cluster (its resource id or its name)"
    )
    which.add_argument(
        "--workspace", metavar="ID", help="only this Azure ML workspace (its resource id)"
    )
    add_output(
        parser,
        document="one object with computes, grants, clusters (announced, last_outcome) "
        "(and arm_requests in the sandbox)",
    )
    add_where(parser)


def run(args: argparse.Namespace) -> int:
    try:
        cluster = cluster_id(args.cluster) if args.cluster else None
        workspace = workspace_id(args.workspace) if args.workspace else None
        with opened(args) as target:
            if cluster is not None:
                cluster = resolve_cluster(target, cluster)
            try:
                with progress("autoattach status") as step:
                    report = gather(target, cluster=cluster, workspace=workspace, step=step)
            except AutoattachError as error:
                print(f"autoattach status: {printable(error, keep_newlines=True)}", file=sys.stderr)
                return 1
            counts = target.arm_counts()
            recorded = [c["last_outcome"] for c in report["clusters"] if c["last_outcome"]]
            warning = mismatch(last.get("app_version") for last in recorded)
            if warning:
                print(f"autoattach status: {printable(warning)}", file=sys.stderr)
            if counts is not None:
                report["arm_requests"] = counts
            text = render(
                report, args.output, args.query, lambda r: describe(r) + counts_line(target)
            )
            if text is not None:
                print(text)
    except WrongInput as error:
        print(f"autoattach status: {error}", file=sys.stderr)
        return 2
    return 0


def workspace_id(text: str) -> ResourceId:
    try:
        parsed = ResourceId.parse(text)
        kind = parsed.resource_type
    except InvalidResourceId as error:
        raise WrongInput(bad_id("--workspace", text, error)) from None
    if kind != WORKSPACE:
        raise WrongInput(f"--workspace {text}: not a workspace (expected a {WORKSPACE} id)")
    return parsed


def gather(
    target: Target,
    *,
    cluster: ResourceId | None = None,
    workspace: ResourceId | None = None,
    step: Step = silent,
) -> dict[str, Any]:
    """What autoattach keeps, as plain data (what --output json prints); ``step`` is told what
    is being read."""
    services = target.app.services
    policy_workspaces = list(dict.fromkeys(r.workspace_id for r in services.policy.workspaces))
    workspaces = [workspace] if workspace is not None else policy_workspaces
    computes = []
    for index, w in enumerate(workspaces, 1):
        step(f"reading the computes of workspace {w.name} ({index} of {len(workspaces)})")
        computes += [
            c
            for c in services.workspaces.list_computes(w)
            if c.managed_by_autoattach and (cluster is None or c.cluster_id == cluster)
        ]
    clusters: list[ResourceId] = [c.cluster_id for c in computes if c.cluster_id is not None]
    if cluster is not None:
        clusters.insert(0, cluster)
    elif workspace is None:
        settings = target.app.settings
        for subscription in settings.sweep_subscriptions:
            clusters += services.clusters.tagged(subscription, settings.tag_key)
    clusters = list(dict.fromkeys(clusters))

    # a user-assigned identity can serve several computes: each keeps its principal
    principal_of = [(c, _principal(target, c)) for c in computes]
    principals: dict[str, list[ComputeState]] = {}
    for compute, principal in principal_of:
        if principal:
            principals.setdefault(principal, []).append(compute)
    identities: dict[str, list[str]] = {}  # a workspace identity's principal -> workspace names
    for w in dict.fromkeys(c.workspace_id for c in computes):
        principal = workspace_principal(services, services.workspaces.get_workspace(w)).lower()
        if principal:
            identities.setdefault(principal, []).append(w.name)
    subscriptions = dict.fromkeys(
        [w.subscription for w in workspaces] + [c.subscription for c in clusters]
    )
    step(f"reading role assignments in {len(subscriptions)} subscription(s)")
    grants = [
        m
        for s in subscriptions
        for m in services.roles.made_in(s)
        if _concerns(m, principals, identities, clusters, everything=not (cluster or workspace))
    ]
    grants_json = sorted(
        (
            {
                "scope": m.scope.raw,
                "role": m.role.display_name,
                "principal_id": m.principal_id,
                "for": _whose(m, principals, identities),
            }
            for m in dict.fromkeys(grants)
        ),
        key=lambda g: (g["for"], g["role"], g["scope"].lower()),
    )
    computes_json = [_compute_json(c, p) for c, p in principal_of]
    for entry in computes_json:
        entry["verdict"] = compute_verdict(entry, grants_json)
    clusters_json = [_cluster_json(target, c, step) for c in clusters]
    for entry in clusters_json:
        mine = [
            c for c in computes_json if c["cluster"] and same_id(c["cluster"], entry["cluster"])
        ]
        name = entry["cluster"].rsplit("/", 1)[-1]
        entry["verdict"] = cluster_verdict(name, entry["last_outcome"], mine)
    return {
        "scope": {
            "cluster": cluster.raw if cluster else None,
            "workspace": workspace.raw if workspace else None,
        },
        "computes": computes_json,
        "grants": grants_json,
        "clusters": clusters_json,
    }


def same_id(a: str, b: str) -> bool:
    return a.lower().rstrip("/") == b.lower().rstrip("/")


def _principal(target: Target, compute: ComputeState) -> str | None:
    if compute.identity_type is IdentityType.USER_ASSIGNED:
        if compute.user_assigned_identity is None:
            return None
        services = target.app.services
        return services.clusters.principal_of_identity(compute.user_assigned_identity).lower()
    return compute.principal_id.lower() if compute.principal_id else None


def _concerns(
    made: MadeAssignment,
    principals: dict[str, list[ComputeState]],
    identities: dict[str, list[str]],
    clusters: list[ResourceId],
    *,
    everything: bool,
) -> bool:
    if everything:
        return True
    principal = made.principal_id.lower()
    if principal in principals:
        return True  # a data role of one of the computes shown
    # a workspace identity's right on a cluster shown (or on an Arc extension's relay)
    arc = any(c.resource_type == CONNECTED_CLUSTER for c in clusters)
    return principal in identities and (
        any(made.scope.is_within(c) for c in clusters)
        or (arc and made.scope.provider.lower() == "microsoft.relay")
    )


def _whose(
    made: MadeAssignment,
    principals: dict[str, list[ComputeState]],
    identities: dict[str, list[str]],
) -> str:
    computes = principals.get(made.principal_id.lower())
    if computes:
        return ", ".join(f"compute {c.name} in workspace {c.workspace_id.name}" for c in computes)
    workspaces = identities.get(made.principal_id.lower())
    if workspaces:
        return f"the identity of workspace {', '.join(workspaces)}"
    return "no compute shown here"


def _compute_json(compute: ComputeState, principal: str | None) -> dict[str, Any]:
    return {
        "id": compute.id.raw,
        "name": compute.name,
        "workspace": compute.workspace_id.raw,
        "cluster": compute.cluster_id.raw if compute.cluster_id else None,
        "state": compute.provisioning_state,
        "namespace": compute.namespace,
        "identity_type": compute.identity_type.value if compute.identity_type else None,
        "identity": compute.user_assigned_identity.raw if compute.user_assigned_identity else None,
        "principal_id": principal,
        "created_on": compute.created_on or None,
    }


def _cluster_json(target: Target, cluster: ResourceId, step: Step = silent) -> dict[str, Any]:
    step(f"reading what was announced for cluster {cluster.name}")
    view = target.app.services.ledger.view(cluster)
    return {
        "cluster": cluster.raw,
        "announced": [
            {"type": e.get("type"), "id": e.get("id"), "active": e.get("active", True)}
            | {k: e[k] for k in ("compute", "workspace", "refused") if k in e}
            for e in view.announced.values()
        ],
        "last_outcome": view.last_outcome,
    }


def describe(report: dict[str, Any]) -> str:
    """What autoattach keeps, for people (--output table)."""
    out = [f"Computes autoattach attached ({len(report['computes'])}):"]
    for c in report["computes"]:
        identity = c["identity_type"] or "no"
        if c["identity"]:
            identity += f" {c['identity'].rsplit('/', 1)[-1]}"
        cluster = (c["cluster"] or "?").rsplit("/", 1)[-1]
        out.append(
            f"  {c['name']} in {c['workspace'].rsplit('/', 1)[-1]}: {c['state']}, cluster "
            f"{cluster}, namespace {c['namespace']}, {identity} identity "
            f"(principal {c['principal_id'] or 'unknown'})"
        )
        out.append(f"      {words(c['verdict'])}")
    out.append(f"Role assignments autoattach made ({len(report['grants'])}):")
    for g in report["grants"]:
        out.append(f"  {g['role']} on {g['scope'].rsplit('/', 1)[-1]} to {g['principal_id']}")
        out.append(f"      for {g['for']}")
    out.append(f"Clusters ({len(report['clusters'])}):")
    for c in report["clusters"]:
        out.append(f"  {c['cluster'].rsplit('/', 1)[-1]}  {c['cluster']}")
        out.append(f"      {words(c['verdict'])}")
        last = c["last_outcome"]
        if last is None:
            out.append("      last outcome: none recorded")
        else:
            why = last.get("reason") or last.get("summary") or ""
            out.append(
                f"      last outcome: {last.get('outcome')} at {last.get('at')} (event "
                f"{last.get('event_id')}): {why}"
            )
        active = [a for a in c["announced"] if a["active"]]
        told = ", ".join(sorted({str(a["type"]).removeprefix("Autoattach.") for a in active}))
        out.append(f"      announced, still current: {told or 'nothing'}")
    return printable_lines(out)
