"""Random scenarios from a seed: a small world, its attach policy, and a list of steps.

Pure: ``generate(seed, events)`` gives the same scenario for the same arguments. Names carry the
seed so scenarios of one campaign can share the sandbox's doubles without meeting each other.
Steps are plain data (a kind and its parameters); the driver gives them meaning at run time and
skips those the world no longer allows (deleting a cluster already gone, say).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.arm_ids import deterministic_principal
from shared.decisions.arm_id import ResourceId
from shared.decisions.ownership import description_for

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
TAG_KEY = "azureml-attach"
AZUREML = "Microsoft.AzureML.Kubernetes"
ROLE_DEFINITIONS = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def rg(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{name}"


WS_RESEARCH = f"{rg('rg-ml')}/providers/Microsoft.MachineLearningServices/workspaces/ws-research"
WS_PROD = f"{rg('rg-ml')}/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"
WS_EDGE = f"{rg('rg-ml')}/providers/Microsoft.MachineLearningServices/workspaces/ws-edge"
UAI_WS_EDGE = (
    f"{rg('rg-id')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-ws-edge"
)
UAI_JOBS = f"{rg('rg-id')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-jobs"
UAI_WS_EDGE_PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f01"
UAI_JOBS_PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f02"
# What a tag may say: workspaces by name or id, in any casing, and names the policy lacks.
TAG_ENTRIES = (
    "ws-research",
    "ws-prod",
    "ws-edge",
    "WS-Research",
    WS_PROD,
    "ws-unknown",
)
AKS = "Microsoft.ContainerService/managedClusters"
ARC = "Microsoft.Kubernetes/connectedClusters"


@dataclass(frozen=True)
class Step:
    """One campaign event: ``kind`` and its parameters, ``gap`` virtual seconds after the last."""

    kind: str
    gap: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster of the scenario: present at the start or created by a step."""

    id: str
    document: dict[str, Any]  # as in a world file (for create_cluster)
    initially: bool
    api_access: bool  # reached through the Kubernetes API (a kubeconfig in Key Vault)


@dataclass(frozen=True)
class CampaignScenario:
    seed: int
    world: dict[str, Any]
    policy: dict[str, Any]
    clusters: tuple[ClusterSpec, ...]
    steps: tuple[Step, ...]
    tag_key: str = TAG_KEY
    # the deployment's own settings where they may change what the product does (shared/settings)
    app_settings: dict[str, str] = field(default_factory=dict)


# How often an install is looked at (INSTALL_POLL_FIRST_SECONDS, INSTALL_POLL_PERCENT_OF_WAIT):
# the default, the slowest pace a deployment may set, and a fast start that slows steeply.
INSTALL_POLL_PACES: tuple[dict[str, str], ...] = (
    {},
    {"INSTALL_POLL_FIRST_SECONDS": "60", "INSTALL_POLL_PERCENT_OF_WAIT": "0"},
    {"INSTALL_POLL_FIRST_SECONDS": "1", "INSTALL_POLL_PERCENT_OF_WAIT": "100"},
)


def cluster_id(kind: str, group: str, name: str) -> str:
    return f"{rg(group)}/providers/{kind}/{name}"


def generate(seed: int, events: int) -> CampaignScenario:
    rng = random.Random(seed)
    tag = f"{seed:x}"[-6:]
    specs = _clusters(rng, tag)
    policy = _policy(rng, specs)
    world = _world(rng, specs)
    with_ownership_draws(rng, specs, world)
    steps = tuple(_steps(rng, specs, events))
    # drawn apart, so the scenario's world and events stay what the seed made them before
    pace = random.Random(f"install-poll-pace-{seed}").choice(INSTALL_POLL_PACES)
    return CampaignScenario(seed, world, policy, tuple(specs), steps, app_settings=dict(pace))


def _tags(rng: random.Random) -> dict[str, str]:
    tags = {"team": rng.choice(["platform", "data", "web"])}
    if rng.random() < 0.15:
        return tags
    entries = rng.sample(TAG_ENTRIES, rng.randint(1, 3))
    tags[TAG_KEY] = ",".join(entries)
    return tags


def _extension(rng: random.Random, *, arc: bool) -> dict[str, Any]:
    extension: dict[str, Any] = {
        "name": rng.choice(["azureml", "aml-ext"]),
        "extension_type": AZUREML,
        "configuration_settings": {"enableTraining": "true", "enableInference": "false"},
    }
    if arc:
        extension["relay"] = True
    if rng.random() < 0.3:
        extension["provisioning_state"] = "Creating"
        extension["succeeds_after_seconds"] = rng.choice([30, 120, 400])
    return extension


def _cluster_document(
    rng: random.Random, resource_id: str, *, arc: bool, rbac: bool, provisioning: bool = False
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": resource_id,
        "location": "westeurope",
        "tags": _tags(rng),
        "provisioning_state": "Succeeded",
        "extensions": [] if rng.random() < 0.15 and not arc else [_extension(rng, arc=arc)],
        "namespaces": ["default", "kube-system"],
    }
    if not arc:
        document["azure_rbac"] = rbac
    if provisioning:
        document["provisioning_state"] = "Creating"
        document["succeeds_after_seconds"] = rng.choice([60, 300])
    if not arc and rng.random() < 0.4:
        # Trusted Access binds the workspace on a user-assigned identity: it needs Contributor
        document["trusted_access"] = [WS_EDGE]
    return document


def _clusters(rng: random.Random, tag: str) -> list[ClusterSpec]:
    """Two AKS clusters with Azure RBAC, one without (Kubernetes API), one Arc, one outside
    every policy scope, and one that only a later step creates."""
    plan = [
        ("rg-platform", AKS, f"aks-{tag}-a", True, True),
        ("rg-platform", AKS, f"aks-{tag}-b", True, True),
        ("rg-platform", AKS, f"aks-{tag}-k", False, True),
        ("rg-edge", ARC, f"arc-{tag}-e", False, True),
        ("rg-other", AKS, f"aks-{tag}-o", True, True),
        ("rg-platform", AKS, f"aks-{tag}-n", True, False),
    ]
    specs = []
    for group, kind, name, rbac, initially in plan:
        arc = kind == ARC
        resource_id = cluster_id(kind, group, name)
        document = _cluster_document(rng, resource_id, arc=arc, rbac=rbac)
        specs.append(ClusterSpec(resource_id, document, initially, api_access=arc or not rbac))
    return specs


def _policy(rng: random.Random, specs: list[ClusterSpec]) -> dict[str, Any]:
    access = [
        {"scope": s.id, "kubeconfig_secret": "{sandbox_vault}/secrets/kubeconfig-" + _name(s.id)}
        for s in specs
        if s.api_access and (rng.random() < 0.85 or ARC in s.id)
    ]
    prod_computes: list[dict[str, Any]] = [{"name": "{cluster}-prod", "namespace": "azureml-prod"}]
    if rng.random() < 0.5:
        prod_computes.append(
            {
                "name": "{cluster}-jobs",
                "namespace": "azureml-jobs",
                "identity": {"type": "user_assigned", "resource_id": UAI_JOBS},
            }
        )
    return {
        "workspaces": [
            {
                "workspace": WS_RESEARCH,
                "clusters": [rg("rg-platform")],
                "storage_access": "read",
                "computes": [{"name": "{cluster}", "namespace": "azureml-research"}],
            },
            {
                "workspace": WS_PROD,
                "clusters": [rg("rg-platform")],
                "storage_access": "read-write",
                "computes": prod_computes,
            },
            {
                "workspace": WS_EDGE,
                "workspace_identity": UAI_WS_EDGE,
                "clusters": [rg("rg-edge"), specs[0].id],
                "storage_access": rng.choice(["read", "read-write"]),
                "computes": [{"name": "{cluster}-edge", "namespace": "edge"}],
            },
        ],
        "clusters": access,
        "extension": {"when_missing": rng.choice(["wait", "install"])},
    }


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _workspace(resource_id: str, short: str, uai: str | None = None) -> dict[str, Any]:
    workspace: dict[str, Any] = {
        "id": resource_id,
        "location": "westeurope",
        "storage_account": f"{rg('rg-ml')}/providers/Microsoft.Storage/storageAccounts/st{short}",
        "container_registry": (
            f"{rg('rg-ml')}/providers/Microsoft.ContainerRegistry/registries/acr{short}"
        ),
        "identity": {"type": "SystemAssigned"},
    }
    if uai:
        workspace["identity"] = {"type": "UserAssigned", "user_assigned_identity": uai}
    return workspace


def _world(rng: random.Random, specs: list[ClusterSpec]) -> dict[str, Any]:
    """The clusters present at the start, the workspaces, and what people made by hand: a
    compute of their own, sometimes one with the name the policy wants, and role assignments,
    some to the very principals autoattach's computes will have."""
    first = specs[0]
    computes = [
        {
            "workspace": WS_PROD,
            "name": "by-hand",
            "resource_id": first.id,
            "namespace": "team-x",
            "identity_type": "system_assigned",
            "description": "attached by a person",
        }
    ]
    if rng.random() < 0.3:
        computes.append(
            {
                "workspace": WS_RESEARCH,
                "name": _name(specs[1].id),  # the policy's name for cluster b in ws-research
                "resource_id": specs[1].id,
                "namespace": "azureml-research",
                "identity_type": "system_assigned",
            }
        )
    future_principal = deterministic_principal(f"{WS_RESEARCH}/computes/{_name(first.id)}")
    assignments = [
        {
            "name": "0f0e0d0c-0000-4000-8000-00000000a001",
            "scope": f"{rg('rg-ml')}/providers/Microsoft.ContainerRegistry/registries/acrresearch",
            "role_definition_id": f"{ROLE_DEFINITIONS}/{ACR_PULL}",
            "principal_id": future_principal,
            "description": "granted by a person",
        },
        {
            "name": "0f0e0d0c-0000-4000-8000-00000000a002",
            "scope": specs[3].id,
            "role_definition_id": f"{ROLE_DEFINITIONS}/{READER}",
            "principal_id": UAI_WS_EDGE_PRINCIPAL,
            "description": "granted by a person",
        },
    ]
    return {
        "clusters": [s.document for s in specs if s.initially],
        "workspaces": [
            _workspace(WS_RESEARCH, "research"),
            _workspace(WS_PROD, "prod"),
            _workspace(WS_EDGE, "edge", UAI_WS_EDGE),
        ],
        "identities": [
            {
                "id": UAI_WS_EDGE,
                "principal_id": UAI_WS_EDGE_PRINCIPAL,
                "client_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e01",
            },
            {
                "id": UAI_JOBS,
                "principal_id": UAI_JOBS_PRINCIPAL,
                "client_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e02",
            },
        ],
        "computes": computes,
        "role_assignments": assignments,
        # every unknown the product's behaviour depends on, drawn (sandbox/README.md, *Guesses*)
        "compute_attach_seconds": rng.choice([0, 60]),
        "compute_detach_seconds": rng.choice([0, 30]),
        # "Troubleshoot Azure RBAC": up to 10 minutes; the storage doc: up to 30
        "role_propagation_seconds": rng.choice([0, 60, 600, rng.uniform(0, 1800), 1800]),
        # both guesses of whether Azure ML's attach answer names the new principal
        "compute_principal_on_put": rng.choice([True, False]),
        # how Azure ML reports an attach it cannot do: its operation fails (as traces show),
        # or the PUT is refused at once
        "attach_failures": rng.choice(["operation", "operation", "refusal"]),
    }


# kind -> weight. Changes, deliveries, faults; every one is an "event" of the campaign.
WEIGHTS = {
    "set_tags": 14,
    "delete_cluster": 3,
    "create_cluster": 4,
    "set_extension_state": 5,
    "set_compute_state": 4,
    "deliver": 26,
    "deliver_concurrently": 6,
    "redeliver": 5,
    "arm_fault": 8,
    "lro_failure": 3,
    "drop": 4,
    "notification_fault": 2,
    "crash": 7,
    "change_mid_run": 3,
    "advance": 3,
}
# What can befall a cluster's ledger record and the notices' publishing (with_ownership_draws):
# kind -> weight, added to WEIGHTS.
LEDGER_FAULTS = {
    "ledger_lost": 3,
    "ledger_corrupted": 2,
    "ledger_stale": 3,
    "lease_lapse": 3,
    "publish_answer_lost": 2,
}
WEIGHTS.update(LEDGER_FAULTS)
# Where a lease lapses mid-run: before a publish (what it published is then not recorded), after
# an attach or before a detach.
LAPSE_POINTS = (
    ("notifier", "publish", False),
    ("workspaces", "attach", True),
    ("workspaces", "detach", False),
    ("roles", "grant", True),
)
ARM_FAULTS = (
    (429, "SubscriptionRequestsThrottled", 30.0),
    (500, "InternalServerError", 10.0),
    (503, "ServiceUnavailable", 10.0),
    (409, "AnotherOperationInProgress", None),
    (403, "AuthorizationFailed", None),
)
FAULT_PATHS = (
    "/computes",
    "/roleassignments",
    "/managednamespaces",
    "/extensions",
    "/managedclusters/",
    "/connectedclusters/",
    "/workspaces/",
    "/userassignedidentities/",
)
# Adapter methods a worker can crash in (service attribute, method), reads and writes.
CRASH_POINTS = (
    ("clusters", "get"),
    ("extensions", "find_azureml"),
    ("extensions", "install"),
    ("namespaces", "create"),
    ("workspaces", "list_computes"),
    ("workspaces", "attach"),
    ("workspaces", "detach"),
    ("roles", "held"),
    ("roles", "grant"),
    ("roles", "revoke"),
    ("notifier", "publish"),
    ("ledger", "announced"),
    ("ledger", "record"),
)


def _steps(rng: random.Random, specs: list[ClusterSpec], events: int) -> list[Step]:
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    ids = [s.id for s in specs]
    steps = []
    for _ in range(events):
        kind = rng.choices(kinds, weights)[0]
        gap = rng.choice([0.0, 1.0, 5.0, 20.0, 60.0])
        params: dict[str, Any] = {}
        if kind in ("set_tags", "delete_cluster", "create_cluster", "set_extension_state"):
            params = _change(rng, kind, ids)
            params.update(_delivery(rng))
        elif kind == "set_compute_state":
            params = {
                "cluster": rng.choice(ids),
                "workspace": rng.choice([WS_RESEARCH, WS_PROD, WS_EDGE]),
                "provisioning_state": rng.choice(["Failed", "Failed", "Canceled", "Succeeded"]),
            }
        elif kind == "deliver":
            params = {"count": rng.randint(1, 8)}
        elif kind == "redeliver":
            params = {"pick": rng.random(), "same_id": rng.random() < 0.6}
        elif kind == "arm_fault":
            status, code, retry_after = rng.choice(ARM_FAULTS)
            params = {
                "method": rng.choice(["GET", "PUT", "DELETE", "*"]),
                "path": rng.choice(FAULT_PATHS),
                "status": status,
                "code": code,
                "retry_after": retry_after,
                "times": rng.choice([1, 1, 2, 3]),
            }
        elif kind == "lro_failure":
            params = {"path": rng.choice(["/computes/", "/extensions/", "/managednamespaces/"])}
        elif kind == "drop":
            params = {
                "method": rng.choice(["PUT", "PUT", "DELETE", "GET"]),
                "path": rng.choice(FAULT_PATHS),
                "after_apply": rng.random() < 0.6,
                "times": 1 if rng.random() < 0.85 else 3,
            }
        elif kind == "notification_fault":
            params = {"times": 1 if rng.random() < 0.8 else 3}
        elif kind == "crash":
            service, method = rng.choice(CRASH_POINTS)
            params = {
                "service": service,
                "method": method,
                "after": rng.random() < 0.5,
                "nth": rng.randint(1, 3),
            }
        elif kind == "change_mid_run":
            service, method = rng.choice(CRASH_POINTS)
            params = {
                "service": service,
                "method": method,
                "nth": rng.randint(1, 3),
                "change": _change(rng, "set_tags", ids),
            }
        elif kind == "advance":
            params = {"seconds": rng.choice([300.0, 900.0, 3600.0])}
        elif kind in LEDGER_FAULTS:
            params = _ledger_fault(rng, kind, ids)
        steps.append(Step(kind, gap, params))
    return steps


def _change(rng: random.Random, kind: str, ids: list[str]) -> dict[str, Any]:
    target = rng.choice(ids)
    if kind == "set_tags":
        return {"op": "set_tags", "resource": target, "tags": _tags(rng)}
    if kind == "delete_cluster":
        return {"op": "delete_cluster", "resource": target}
    if kind == "create_cluster":
        return {
            "op": "create_cluster",
            "resource": target,
            "provisioning": rng.random() < 0.3,
            "variant": rng.randrange(1 << 30),
        }
    state = rng.choice(["Failed", "Creating", "Succeeded", "Succeeded"])
    change: dict[str, Any] = {
        "op": "set_extension_state",
        "cluster": target,
        "provisioning_state": state,
    }
    if state == "Creating":
        change["succeeds_after_seconds"] = rng.choice([60.0, 300.0])
    return change


def _delivery(rng: random.Random) -> dict[str, Any]:
    """How Event Grid delivers the change's event: lost, late (reordered), twice (same id:
    Event Grid's own retry; another id: ARM sent two), or as it should."""
    roll = rng.random()
    if roll < 0.10:
        return {"delivery": "lost"}
    if roll < 0.22:
        return {"delivery": "late", "delay": rng.choice([120.0, 600.0, 1800.0])}
    if roll < 0.30:
        return {"delivery": "twice", "same_id": rng.random() < 0.5}
    return {"delivery": "once"}


def cluster_document_for(
    scenario: CampaignScenario, resource_id: str, variant: int, *, provisioning: bool
) -> dict[str, Any]:
    """The document a create_cluster step creates: the spec's cluster, with tags and extension
    drawn again from ``variant`` (a re-created cluster need not look like the old one)."""
    spec = next(s for s in scenario.clusters if s.id == resource_id)
    rng = random.Random(variant)
    arc = ARC in resource_id
    rbac = bool(spec.document.get("azure_rbac", False))
    return _cluster_document(rng, resource_id, arc=arc, rbac=rbac, provisioning=provisioning)


# ---- ownership and the ledger (issues 18.2, 19.2) --------------------------------------------


def with_ownership_draws(
    rng: random.Random, specs: list[ClusterSpec], world: dict[str, Any]
) -> None:
    """Both readings of compute tags (Azure ML drops them, or keeps them), and persons' computes
    that say they are autoattach's: one tagged ``managed-by: autoattach`` (kept only where tags
    are), one with autoattach's sealed description copied from the compute it made for the
    first cluster, one with the description autoattach wrote before seals. None may be touched."""
    world["compute_tags"] = rng.choice(["dropped", "kept"])
    first = specs[0]
    copied = description_for(
        ResourceId.parse(WS_RESEARCH), _name(first.id), ResourceId.parse(first.id)
    )
    claims: list[tuple[str, dict[str, Any]]] = [
        ("tagged-copy", {"tags": {"managed-by": "autoattach"}}),
        ("sealed-copy", {"description": copied}),
        ("legacy-copy", {"description": f"Attached by autoattach from cluster {_name(first.id)}"}),
    ]
    for name, claim in claims:
        if rng.random() < 0.5:
            world["computes"].append(
                {
                    "workspace": WS_RESEARCH,
                    "name": name,
                    "resource_id": first.id,
                    "namespace": "team-y",
                    "identity_type": "system_assigned",
                    **claim,
                }
            )


def _ledger_fault(rng: random.Random, kind: str, ids: list[str]) -> dict[str, Any]:
    if kind == "publish_answer_lost":
        return {"times": rng.choice([1, 3, 5])}  # 3 and more: past the publisher's own retries
    if kind == "lease_lapse":
        service, method, after = rng.choice(LAPSE_POINTS)
        return {"service": service, "method": method, "after": after, "nth": rng.randint(1, 3)}
    # which record: ``pick`` among those that announced a compute when the fault strikes (the
    # driver chooses); then, often, the cluster is untagged or deleted before anyone looks again
    then = None
    if rng.random() < 0.6:
        then = _change(rng, rng.choice(["set_tags", "set_tags", "delete_cluster"]), ids)
        then.update(_delivery(rng))
    return {"pick": rng.random(), "back": rng.randint(1, 4), "then": then}
