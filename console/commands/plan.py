"""``autoattach plan --cluster ID``: what autoattach would do for one cluster now, and why.

Read-only: observes the cluster from ARM as a reconcile request would (``discover``: reads
everything, lists every workspace of the policy) and plans with the product's own planner. It
writes nothing: no ARM write, no notice, no ledger entry, no lease.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from console.commands.target import (
    WHERE_HELP,
    Target,
    WrongInput,
    add_cluster,
    add_where,
    cluster_id,
    counts_line,
    opened,
    resolve_cluster,
)
from console.output import add_output, render
from console.progress import progress
from console.text import printable, printable_lines
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import AutoattachError
from shared.decisions.planner import (
    Action,
    AttachCompute,
    CreateNamespace,
    DetachCompute,
    GrantRole,
    InstallExtension,
    Observation,
    Plan,
    RevokeRole,
    data_roles,
    plan,
)
from shared.decisions.wording import action_words
from shared.engine.observe import Memo, observe, with_holdings

PLAN_HELP = f"""\
Show what autoattach would do for one cluster now, and why, without doing any of it: the
attachments the attach policy grants for the cluster's tag, the tag entries the policy refuses
(with the reason), what it waits for (the cluster provisioning, the Azure ML extension), the
problems that need a person (a compute of the same name that autoattach did not make, a
workspace without a registry), and each action it would take: namespaces to create, computes to
attach, roles to grant or remove, computes to detach (with the reason).

Read-only: reads the cluster, its extension and namespaces, every workspace of the policy and
the role assignments, as a reconcile request does; writes nothing to ARM, publishes no notice,
takes no lease. What the next round would do once the namespaces exist (attach) is shown after
the actions, and the roles of a compute's new identity with its attach. In Azure you need Reader
on the clusters and workspaces (role assignments included) and Storage Blob Data Reader on the
app's storage account (the cluster's ledger: what was announced).

{WHERE_HELP} Against the sandbox, the ARM requests made are printed at the end (0 writes).

Exit status: 0 the plan was printed; 1 Azure failed; 2 wrong input (the id, file or setting is
named); 3 nobody is signed in to Azure."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "plan",
        help="show what autoattach would do for a cluster, and why (read-only)",
        description=PLAN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_cluster(parser)
    add_output(
        parser,
        document="one object with cluster, tag, attachments, refused, waiting, problems, "
        "actions, then (what follows them), converged (and arm_requests in the sandbox)",
    )
    add_where(parser)


def run(args: argparse.Namespace) -> int:
    try:
        cluster = cluster_id(args.cluster)
        with opened(args) as target:
            return _plan(args, target, resolve_cluster(target, cluster))
    except WrongInput as error:
        print(f"autoattach plan: {error}", file=sys.stderr)
        return 2


def _plan(args: argparse.Namespace, target: Target, cluster: ResourceId) -> int:
    try:
        with progress("autoattach plan") as step:
            workspaces = len({r.workspace_id for r in target.app.services.policy.workspaces})
            step(
                f"reading {cluster.name}: its extension, namespaces, {workspaces} workspace(s) "
                "and role assignments"
            )
            observed, current = observe_and_plan(target, cluster)
    except AutoattachError as error:
        print(f"autoattach plan: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return 1
    report = plan_report(observed, current)
    counts = target.arm_counts()
    if not observed.cluster.exists and not current.actions:
        print(
            f"autoattach plan: --cluster {cluster.raw}: no such cluster in ARM, and autoattach "
            "keeps nothing for it",
            file=sys.stderr,
        )
        return 2
    if counts is not None:
        report["arm_requests"] = counts
    text = render(report, args.output, args.query, lambda r: describe(r) + counts_line(target))
    if text is not None:
        print(text)
    return 0


def observe_and_plan(target: Target, cluster: ResourceId) -> tuple[Observation, Plan]:
    """Observe as a reconcile request does (everything), plan; reads only."""
    services = target.app.services
    announced = services.ledger.view(cluster).announced
    observed = observe(cluster, services, Memo(), announced, discover=True)
    if observed.new_principals:
        # reconcile takes never-announced principals as holding what it granted them; a plan
        # reads what they hold
        observed = with_holdings(replace(observed, new_principals=frozenset()), services, Memo())
    return observed, plan(observed)


def following(observed: Observation, current: Plan) -> list[Action]:
    """Pure: what the next round would do once this plan's namespaces exist (attaching waits for
    its namespace); what follows an attach (its new identity's roles) is told with the attach."""
    made = {a.namespace for a in current.actions if isinstance(a, CreateNamespace)}
    if not made:
        return []
    after = replace(observed, namespaces=observed.namespaces | made)
    return [a for a in plan(after).actions if a not in current.actions]


def plan_report(observed: Observation, current: Plan) -> dict[str, Any]:
    """The plan as plain data (what --output json prints)."""
    cluster = observed.cluster
    decision = observed.decision
    extension = None
    if observed.extension_read:
        extension = (
            {
                "name": observed.extension.id.name,
                "provisioning_state": observed.extension.provisioning_state,
            }
            if observed.extension is not None
            else None
        )
    return {
        "cluster": cluster.id.raw,
        "exists": cluster.exists,
        "kind": cluster.kind,
        "provisioning_state": cluster.provisioning_state,
        "tag": {
            "key": decision.tag_key,
            "value": next(
                (v for k, v in cluster.tags.items() if k.lower() == decision.tag_key.lower()),
                None,
            ),
        },
        "extension": extension,
        "namespace_route": observed.namespace_route.via if observed.namespace_route else None,
        "attachments": [
            {
                "workspace": a.workspace_id.raw,
                "compute": a.compute_name,
                "namespace": a.namespace,
                "identity_type": a.identity.type.value,
                "storage_access": a.storage_access.value,
            }
            for a in decision.attachments
        ],
        "refused": [{"entry": e, "reason": r} for e, r in decision.refusals],
        "waiting": current.wait_reason,
        "problems": [
            {
                "workspace": p.workspace.raw,
                "compute": p.attachment.compute_name if p.attachment else None,
                "problem": p.message,
            }
            for p in current.problems
        ],
        "actions": [action_json(a, observed) for a in current.actions],
        "then": [action_json(a, observed) for a in following(observed, current)],
        "converged": current.converged and not current.problems,
    }


def action_json(action: Action, observed: Observation) -> dict[str, Any]:
    kind, text = describe_action(action, observed)
    return {"action": kind, "description": text}


def describe_action(action: Action, observed: Observation) -> tuple[str, str]:
    """(kind, words): worded as reconcile words what it did (shared.decisions.wording), with what
    a person deciding needs beside it (the state ARM shows, the grants an attach leads to)."""
    text = action_words(action, observed.cluster.id.name, done=False)
    if isinstance(action, CreateNamespace) and action.state:
        text += f" (ARM shows it {action.state})"
    if isinstance(action, AttachCompute):
        workspace = observed.workspaces.get(action.attachment.workspace_id)
        if workspace is not None:
            roles = [
                f"{role.display_name} on {scope.name}"
                for scope, role in data_roles(action.attachment, workspace)
            ]
            if roles:
                text += f"; then grant its identity {' and '.join(roles)}"
    return _KINDS[type(action)], text


_KINDS: dict[type, str] = {
    CreateNamespace: "create-namespace",
    InstallExtension: "install-extension",
    AttachCompute: "attach",
    GrantRole: "grant",
    RevokeRole: "revoke",
    DetachCompute: "detach",
}


def describe(report: dict[str, Any]) -> str:
    """The plan for people (--output table)."""
    name = report["cluster"].rsplit("/", 1)[-1]
    state = report["provisioning_state"] or "unknown state"
    out = [f"Cluster {name} ({report['kind']}, {state if report['exists'] else 'not found'})"]
    out.append(f"  {report['cluster']}")
    tag = report["tag"]
    value = tag["value"]
    out.append(f"Tag {tag['key']}: {value!r}" if value is not None else f"Tag {tag['key']}: none")
    extension = report["extension"]
    if extension is not None:
        out.append(f"Azure ML extension {extension['name']}: {extension['provisioning_state']}")
    elif report["attachments"]:
        out.append("Azure ML extension: not installed")
    if report["attachments"]:
        out.append("The attach policy grants:")
        for a in report["attachments"]:
            out.append(
                f"  - compute {a['compute']} in workspace {a['workspace'].rsplit('/', 1)[-1]} "
                f"(namespace {a['namespace']}, {a['identity_type']} identity, storage "
                f"{a['storage_access']})"
            )
    if report["refused"]:
        out.append("Refused tag entries:")
        out += [f"  - {r['entry']}: {r['reason']}" for r in report["refused"]]
    if report["waiting"]:
        out.append(f"Waiting: {report['waiting']}")
    if report["problems"]:
        out.append("Problems (need a person):")
        for p in report["problems"]:
            where = p["workspace"].rsplit("/", 1)[-1]
            compute = f" compute {p['compute']}" if p["compute"] else ""
            out.append(f"  - workspace {where}{compute}: {p['problem']}")
    if report["actions"]:
        out.append(f"Would do ({len(report['actions'])}):")
        out += [f"  {i}. {a['description']}" for i, a in enumerate(report["actions"], 1)]
        if report["then"]:
            out.append("Then, once those namespaces exist:")
            out += [f"  - {a['description']}" for a in report["then"]]
    elif report["converged"]:
        out.append("Nothing to do: converged.")
    else:
        out.append("Nothing to do now.")
    return printable_lines(out)
