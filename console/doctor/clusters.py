"""Per tagged cluster: what its tag asks and the policy allows, the Azure ML extension, the Arc
relay and connectivity, how namespaces will be made, and the workspace identities' rights there.

Pure functions over what the product's own adapters return (ClusterState, TagDecision,
ExtensionState, role holdings); the rules are the product's (shared.decisions.policy,
shared.decisions.planner, shared.decisions.azureml_extension), not copies.
"""

from __future__ import annotations

from console.doctor.report import Check, ok, problem
from shared.decisions.arm_id import ResourceId
from shared.decisions.azureml_extension import install_refusal
from shared.decisions.model import (
    ClusterState,
    ExtensionState,
    NamespaceRoute,
    Role,
    WhenExtensionMissing,
)
from shared.decisions.planner import readiness
from shared.decisions.policy import AttachPolicy, TagDecision

AREA = "clusters"


def refusal_reason(entry: str, cluster_id: ResourceId, policy: AttachPolicy) -> str:
    """Why ``decide_attachments`` refused a tag entry, in the policy's own terms."""
    named = [r for r in policy.workspaces if r.matches(entry)]
    if not named:
        return "no workspace of the policy has that name or id"
    allowing = [r for r in named if r.allows(cluster_id)]
    if not allowing:
        scopes = ", ".join(s.raw for r in named for s in r.cluster_scopes)
        return (
            f"the policy allows workspace {named[0].workspace_id.name} only for clusters under "
            f"{scopes}"
        )
    return (
        f"it names {len(allowing)} workspaces of the policy ("
        + ", ".join(r.workspace_id.raw for r in allowing)
        + "): use the workspace's full resource id"
    )


def check_tag(
    cluster: ClusterState, decision: TagDecision, policy: AttachPolicy, tag_key: str
) -> list[Check]:
    subject = f"{cluster.id.name} tag {tag_key}"
    checks = []
    allowed = list(dict.fromkeys(a.workspace_id.name for a in decision.attachments))
    if allowed:
        computes = ", ".join(
            f"{a.compute_name} in {a.workspace_id.name} (namespace {a.namespace})"
            for a in decision.attachments
        )
        checks.append(ok(AREA, subject, f"allows {', '.join(allowed)}: {computes}"))
    for entry in decision.refused:
        checks.append(
            problem(
                AREA,
                subject,
                f"entry {entry!r} is refused: {refusal_reason(entry, cluster.id, policy)}",
                "correct the tag, or allow the workspace for this cluster in the attach policy "
                "(docs/policy.md)",
            )
        )
    if not allowed and not decision.refused:
        checks.append(ok(AREA, subject, "asks for no workspace"))
    return checks


def check_cluster_ready(
    cluster: ClusterState, extension: ExtensionState | None, policy: AttachPolicy
) -> Check:
    """The cluster and its Azure ML extension, judged as the planner judges them."""
    subject = f"{cluster.id.name} Azure ML extension"
    waiting = readiness(cluster, extension)
    if waiting is None:
        assert extension is not None
        return ok(AREA, subject, f"{extension.id.name} Succeeded")
    if extension is None and cluster.provisioning_state.lower() == "succeeded":
        refusal = install_refusal(cluster.id, policy.extension)
        if refusal is None and policy.extension.when_missing is WhenExtensionMissing.INSTALL:
            return ok(AREA, subject, "not installed; the policy has autoattach install it")
        if refusal is not None:
            return problem(AREA, subject, "not installed", refusal)
        return problem(
            AREA,
            subject,
            "not installed, and the policy waits for it (extension.when_missing: wait)",
            f"az k8s-extension create --cluster-type managedClusters --cluster-name "
            f"{cluster.id.name} --resource-group {cluster.id.resource_group} --subscription "
            f"{cluster.id.subscription} --name {policy.extension.name} --extension-type "
            "Microsoft.AzureML.Kubernetes --config enableTraining=true",
        )
    if extension is not None and extension.provisioning_state.lower() in ("failed", "canceled"):
        return problem(
            AREA,
            subject,
            waiting,
            "see the extension's status in the portal; delete it and install it again",
        )
    return ok(AREA, subject, f"{waiting}: autoattach waits for it, then attaches")


def check_relay(
    cluster: ClusterState, extension: ExtensionState | None, relay_found: bool | None
) -> Check | None:
    """Arc only: the relay the extension names exists (``relay_found``; None: not read)."""
    if cluster.kind != "arc" or extension is None:
        return None
    subject = f"{cluster.id.name} Azure Relay"
    if extension.relay is None:
        return problem(
            AREA,
            subject,
            "the extension names no relay (relayserver.hybridConnectionResourceID)",
            "install the extension with `az k8s-extension create`, which makes the relay",
        )
    if relay_found is False:
        return problem(
            AREA,
            subject,
            f"{extension.relay.raw} does not exist",
            "install the extension again with `az k8s-extension create`",
        )
    return ok(AREA, subject, f"{extension.relay.name}")


def check_connectivity(cluster: ClusterState) -> Check | None:
    if cluster.kind != "arc":
        return None
    subject = f"{cluster.id.name} Arc connectivity"
    if cluster.connectivity_status.lower() == "connected":
        return ok(AREA, subject, "Connected")
    return problem(
        AREA,
        subject,
        cluster.connectivity_status or "unknown",
        "bring the cluster's Arc agents back online (az connectedk8s troubleshoot)",
    )


def check_namespace_route(
    cluster: ClusterState, route: NamespaceRoute | None, kubeconfig_problem: str | None
) -> Check:
    subject = f"{cluster.id.name} namespaces"
    if route is None:
        if cluster.kind == "aks":
            fix = (
                f"enable Azure RBAC on the cluster (az aks update --enable-azure-rbac -g "
                f"{cluster.id.resource_group} -n {cluster.id.name}) or name a kubeconfig secret "
                "for it in the policy's clusters (docs/kubernetes-access.md)"
            )
        else:
            fix = (
                "name a kubeconfig secret for it in the policy's clusters "
                "(docs/kubernetes-access.md)"
            )
        return problem(AREA, subject, "autoattach has no way to create namespaces here", fix)
    if route.kubeconfig_secret is None:
        return ok(AREA, subject, "ARM managed namespaces (Azure RBAC is on)")
    if kubeconfig_problem is not None:
        return problem(
            AREA,
            subject,
            kubeconfig_problem,
            "fix the kubeconfig secret (docs/kubernetes-access.md)",
        )
    return ok(AREA, subject, f"Kubernetes API with the kubeconfig in {route.kubeconfig_secret}")


def check_workspace_identity(
    cluster: ClusterState,
    workspace: ResourceId,
    missing: list[tuple[ResourceId, Role]],
    trusted_access: bool = False,
) -> Check:
    subject = f"{cluster.id.name} rights of workspace {workspace.name}'s identity"
    if not missing:
        held = "Reader, Kubernetes Extension Contributor, AKS Cluster Admin"
        if trusted_access:
            held += ", and Contributor (the cluster's Trusted Access binds the workspace)"
        return ok(AREA, subject, f"holds {held}")
    names = ", ".join(f"{role.display_name} on {scope.name}" for scope, role in missing)
    return ok(AREA, subject, f"autoattach grants {names} when it attaches")


def check_named_identity(
    workspace: ResourceId, identity: ResourceId, named: ResourceId | None
) -> Check | None:
    """The workspace runs on the user-assigned identity the attach policy names for it (issue
    20): another one gets no rights on clusters, and nothing more is attached for it."""
    if named == identity:
        return None
    expected = f"the policy names {named.raw}" if named is not None else "the policy names none"
    return problem(
        AREA,
        f"workspace {workspace.name}'s identity",
        f"the workspace runs on {identity.raw}, but {expected}: autoattach gives it no rights "
        "on clusters and attaches nothing more for the workspace",
        "if the change is wanted, set workspace_identity in the attach policy to this identity; "
        "if not, switch the workspace back (a workspace contributor may have swapped it)",
    )
