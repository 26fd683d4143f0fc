"""The attach policy: which workspaces each cluster may join, and how.

A tag on a cluster only asks; the policy decides. Loaded once at start from JSON, by the
Functions app and by ``autoattach policy validate`` alike: first against the published JSON
Schema (shared/schemas/attach-policy.schema.json; unknown keys are refused), then the checks
below. Every error names the entry and the field at fault.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from shared.decisions.arm_id import (
    CONNECTED_CLUSTER,
    MANAGED_CLUSTER,
    USER_ASSIGNED_IDENTITY,
    WORKSPACE,
    InvalidResourceId,
    ResourceId,
)
from shared.decisions.errors import PermanentError
from shared.decisions.model import (
    AdoptionPolicy,
    Attachment,
    ComputeIdentity,
    ExtensionPolicy,
    IdentityType,
    NamespaceRoute,
    StorageAccess,
    WhenExtensionMissing,
)
from shared.decisions.templates import TemplateError, literal, placeholders, substitute

# Azure ML names a Kubernetes (any "other") compute with 2-16 letters, digits and '-', starting
# with a letter and ending with a letter or digit ("Resource naming restrictions"; the RP's 400:
# "Compute name is invalid. It can include letters, digits and dashes. It must start with a
# letter, end with a letter or digit, and be between 2 and 16 characters in length").
COMPUTE_NAME_MAX = 16
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$")
COMPUTE_LITERAL = re.compile(r"^[A-Za-z0-9-]*$")
HASH_LENGTH = 4  # base32 characters of a cluster id's hash: 20 bits
SHORTENED_CLUSTER_MIN = 1 + 1 + HASH_LENGTH  # one character of the name, '-', the hash
PLACEHOLDERS = ("cluster", "workspace")
# Namespaces a compute must never run in: Kubernetes' own (and its reserved prefix kube-) and
# those AKS and Arc keep for their system components (AKS "Use managed namespaces": "Trying to
# on-board system namespaces such as kube-system, app-routing-system, istio-system,
# gatekeeper-system, etc. ... isn't allowed"; kubernetes.io, Namespaces: "Avoid creating
# namespaces with the prefix kube-"). ``azureml`` is the extension's namespace and the policy's
# default compute namespace: it stays allowed (docs/policy.md).
SYSTEM_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "app-routing-system",
        "istio-system",
        "gatekeeper-system",
        "calico-system",
        "tigera-operator",
        "azure-arc",
        "azure-arc-release",
    }
)
NAMESPACE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
NAMESPACE_LITERAL = re.compile(r"^[a-z0-9-]*$")
DEFAULT_COMPUTE_NAME = "{cluster}"
DEFAULT_NAMESPACE = "azureml"
SCHEMA_FILE = "schemas/attach-policy.schema.json"  # inside the ``shared`` package
# Key Vault secret names: 1-127 of 0-9, a-z, A-Z and '-'.
SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
CLUSTER_PLACEHOLDER = "{cluster}"
# In a kubeconfig secret's name: 16 hex of the SHA-256 of the cluster's lower-cased resource id
# (subscription, resource group, type and name), the same for one cluster on every run, and
# different for two clusters whose names alone are alike (kubeconfig_secret_placeholders).
CLUSTER_ID_HASH_PLACEHOLDER = "{cluster_id_hash}"
SECRET_PLACEHOLDERS = (CLUSTER_PLACEHOLDER, CLUSTER_ID_HASH_PLACEHOLDER)
# The extension needs one of these true (the Azure CLI's AzureMLKubernetes installer refuses both
# false); docs/policy.md.
EXTENSION_ROLES = ("enableTraining", "enableInference")


class PolicyError(ValueError):
    """The attach policy document is invalid; each problem says where (the JSON path) and why,
    and ``source`` (a file, or the app setting) where the document came from."""

    def __init__(self, *problems: str, source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + problem for problem in problems))


@dataclass(frozen=True)
class ComputeTemplate:
    name: str
    namespace: str
    identity: ComputeIdentity


@dataclass(frozen=True)
class WorkspaceRule:
    workspace_id: ResourceId
    cluster_scopes: tuple[ResourceId, ...]
    storage_access: StorageAccess
    computes: tuple[ComputeTemplate, ...]
    # The workspace's own user-assigned identity, when it runs on one: the only identity
    # autoattach gives rights on clusters for this workspace (issue 20)
    workspace_identity: ResourceId | None = None

    def allows(self, cluster_id: ResourceId) -> bool:
        return any(cluster_id.is_within(scope) for scope in self.cluster_scopes)

    def matches(self, tag_entry: str) -> bool:
        entry = tag_entry.strip().lower()
        return entry in (self.workspace_id.key, self.workspace_id.name.lower())


@dataclass(frozen=True)
class ClusterAccess:
    """How autoattach reaches clusters under a scope (Arc, and AKS without Azure RBAC)."""

    scope: ResourceId
    kubeconfig_secret: str | None


@dataclass(frozen=True)
class NamespacePolicy:
    """How ARM managed namespaces are made. autoattach never deletes a namespace, so the
    managed namespace's ``deletePolicy`` is always ``Keep`` and is not a setting."""

    adoption_policy: AdoptionPolicy = AdoptionPolicy.IF_IDENTICAL


@dataclass(frozen=True)
class AttachPolicy:
    workspaces: tuple[WorkspaceRule, ...]
    cluster_access: tuple[ClusterAccess, ...] = ()
    extension: ExtensionPolicy = field(default_factory=ExtensionPolicy)
    namespaces: NamespacePolicy = field(default_factory=NamespacePolicy)

    @classmethod
    def from_json(cls, text: str, source: str | None = None) -> AttachPolicy:
        """Parse and check a policy document; ``source`` names it in errors (a file name, or
        the app setting it came from)."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyError(
                f"attach policy is not JSON: {error.msg} at line {error.lineno} "
                f"column {error.colno}",
                source=source,
            ) from None
        return cls.from_dict(document, source)

    @classmethod
    def from_dict(cls, document: Any, source: str | None = None) -> AttachPolicy:
        """The one way a policy is loaded: the JSON Schema first, then the semantic checks;
        every problem of the failing step at once, each with its JSON path."""
        problems = schema_problems(document)
        if problems:
            raise PolicyError(*problems, source=source)
        try:
            return cls._checked(document)
        except PolicyError as error:
            raise PolicyError(*error.problems, source=source) from None

    @classmethod
    def _checked(cls, document: Any) -> AttachPolicy:
        if not isinstance(document, dict) or not isinstance(document.get("workspaces"), list):
            raise PolicyError("attach policy must be an object with a 'workspaces' list")
        check = _Problems()
        rules = [
            check.run(_workspace_rule, entry, f"workspaces[{index}]")
            for index, entry in enumerate(document["workspaces"])
        ]
        seen: set[str] = set()
        for rule in rules:
            if rule is None:
                continue
            if rule.workspace_id.key in seen:
                check.add(f"workspace {rule.workspace_id} appears twice in the policy")
            seen.add(rule.workspace_id.key)
        check.extend(_shared_namespaces(rules))
        access_doc = document.get("clusters", [])
        if not isinstance(access_doc, list):
            check.add("'clusters' must be a list of {scope, kubeconfig_secret} entries")
            access_doc = []
        access = [check.run(_cluster_access, e, f"clusters[{i}]") for i, e in enumerate(access_doc)]
        extension = check.run(_extension_policy, document.get("extension", {}))
        namespaces = check.run(_namespace_policy, document.get("namespaces", {}))
        check.raise_any()
        return cls(
            tuple(r for r in rules if r is not None),
            tuple(a for a in access if a is not None),
            extension or ExtensionPolicy(),
            namespaces=namespaces or NamespacePolicy(),
        )

    def rule_for(self, workspace_id: ResourceId) -> WorkspaceRule | None:
        return next((r for r in self.workspaces if r.workspace_id == workspace_id), None)

    def workspaces_for(self, cluster_id: ResourceId) -> tuple[ResourceId, ...]:
        """Every workspace this cluster may join: where autoattach may have attached it."""
        return tuple(r.workspace_id for r in self.workspaces if r.allows(cluster_id))

    def namespace_route(self, cluster_id: ResourceId, azure_rbac: bool) -> NamespaceRoute | None:
        """ARM managed namespaces where Azure RBAC allows, else the Kubernetes API with the
        most specific kubeconfig the policy names; None when there is no way in."""
        matches = [a for a in self.cluster_access if cluster_id.is_within(a.scope)]
        best = max(matches, key=lambda a: len(a.scope.key), default=None)
        if best is not None and best.kubeconfig_secret:
            return NamespaceRoute(
                "kubernetes", render_kubeconfig_secret(best.kubeconfig_secret, cluster_id)
            )
        if azure_rbac and cluster_id.resource_type == MANAGED_CLUSTER:
            return NamespaceRoute("arm", adoption_policy=self.namespaces.adoption_policy)
        return None


@dataclass(frozen=True)
class TagDecision:
    """What a cluster's tag asked for, split into what the policy allows and what it refuses.

    ``refused`` holds the refused tag entries, ``reasons`` why each was refused (in the same
    order), and ``tag_key`` the tag they were read from."""

    attachments: tuple[Attachment, ...]
    refused: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    tag_key: str = ""
    # computes the policy asks for under a name another of them already has (each would replace
    # the other at every look): left out, each with why (issue 19.4)
    collisions: tuple[tuple[Attachment, str], ...] = ()

    @property
    def refusals(self) -> tuple[tuple[str, str], ...]:
        """(entry, reason) for each refused entry."""
        reasons = self.reasons + ("not allowed by the attach policy",) * len(self.refused)
        return tuple(zip(self.refused, reasons, strict=False))


def decide_attachments(
    cluster_id: ResourceId, tags: dict[str, str], tag_key: str, policy: AttachPolicy
) -> TagDecision:
    """Pure: the attachments the policy grants this cluster for the workspaces its tag names."""
    value = next((v for k, v in tags.items() if k.lower() == tag_key.lower()), None)
    if value is None:
        return TagDecision((), ())
    attachments: list[Attachment] = []
    refused: list[str] = []
    reasons: list[str] = []
    for entry in dict.fromkeys(e.strip() for e in value.split(",") if e.strip()):
        candidates = [r for r in policy.workspaces if r.matches(entry) and r.allows(cluster_id)]
        if len(candidates) != 1:
            refused.append(entry)
            reasons.append(refusal_reason(entry, cluster_id, policy))
            continue
        rule = candidates[0]
        granted = [
            Attachment(
                workspace_id=rule.workspace_id,
                compute_name=render_compute_name(template.name, cluster_id, rule),
                namespace=render_namespace(template.namespace, cluster_id, rule),
                identity=template.identity,
                storage_access=rule.storage_access,
            )
            for template in rule.computes
        ]
        system = next((a.namespace for a in granted if is_system_namespace(a.namespace)), None)
        if system is not None:  # a cluster named after one, e.g. {cluster} for "default"
            refused.append(entry)
            reasons.append(
                f"the attach policy would put a compute of cluster {cluster_id.name} in "
                f"namespace {system}, which Kubernetes, AKS or Arc keeps for itself"
            )
            continue
        attachments.extend(granted)
    kept, collisions = _one_compute_per_name(cluster_id, list(dict.fromkeys(attachments)))
    return TagDecision(kept, tuple(refused), tuple(reasons), tag_key=tag_key, collisions=collisions)


def _one_compute_per_name(
    cluster_id: ResourceId, attachments: list[Attachment]
) -> tuple[tuple[Attachment, ...], tuple[tuple[Attachment, str], ...]]:
    """Keep the first attachment of each compute name in a workspace (Azure ML compares names
    without regard to case); the others are collisions, with the reason owners are told. The
    policy check refuses templates that collide; this keeps a collision it could not foresee
    from replacing one compute with the other at every look."""
    first: dict[tuple[str, str], Attachment] = {}
    kept: list[Attachment] = []
    collisions: list[tuple[Attachment, str]] = []
    for attachment in attachments:
        key = (attachment.workspace_id.key, attachment.compute_name.lower())
        other = first.setdefault(key, attachment)
        if other is attachment:
            kept.append(attachment)
            continue
        collisions.append(
            (
                attachment,
                f"the attach policy gives cluster {cluster_id.name} two computes with the same "
                f"name, {attachment.compute_name}, in workspace {attachment.workspace_id.name} "
                f"(namespaces {other.namespace} and {attachment.namespace}); each would replace "
                "the other at every look, so only the first is attached: give the policy's "
                "computes names that differ (docs/policy.md, Names and templates)",
            )
        )
    return tuple(kept), tuple(collisions)


def refusal_reason(entry: str, cluster_id: ResourceId, policy: AttachPolicy) -> str:
    """Pure: why the policy grants this cluster nothing for a tag entry (the entry is refused)."""
    named = [r for r in policy.workspaces if r.matches(entry)]
    allowed = [r for r in named if r.allows(cluster_id)]
    if not named:
        return (
            f"no workspace in the attach policy is named {entry!r} (give a workspace's name or "
            "its full resource id, as the policy lists it)"
        )
    if not allowed:
        names = ", ".join(r.workspace_id.raw for r in named)
        return (
            f"the attach policy does not let cluster {cluster_id.name} join {names}: the "
            "cluster is outside the workspace's allowed cluster scopes"
        )
    names = ", ".join(r.workspace_id.raw for r in allowed)
    return (
        f"{entry!r} names {len(allowed)} workspaces this cluster may join ({names}); tag the "
        "workspace's full resource id instead"
    )


def render_compute_name(template: str, cluster_id: ResourceId, rule: WorkspaceRule) -> str:
    """A compute name Azure accepts (2-16 letters, digits and '-', starting with a letter, ending
    with a letter or digit), the same every time, and one per cluster.

    The template's own text is kept as it is (the policy was refused at load unless it fits).
    The workspace's and cluster's names are filled in with every run of characters other than
    letters and digits as one '-'. A cluster name that had to change that way, or does not fit,
    is cut and ends in '-' and 4 characters of a hash of the cluster's resource id, so two
    clusters whose names differ only there (``aks_ml`` and ``aks-ml``, or two long names that
    share their start) get two computes."""
    workspace = _name_value(rule.workspace_id.name)
    value = _name_value(cluster_id.name)
    leads = template.startswith(CLUSTER_PLACEHOLDER)
    if leads and not value[:1].isalpha():
        value = "k" + value  # a compute name starts with a letter
    name = substitute(template, {"cluster": value, "workspace": workspace})
    count = template.count(CLUSTER_PLACEHOLDER)
    if count == 0 or (value == cluster_id.name and len(name) <= COMPUTE_NAME_MAX):
        return name
    fixed = len(substitute(template, {"cluster": "", "workspace": workspace}))
    room = max((COMPUTE_NAME_MAX - fixed) // count, SHORTENED_CLUSTER_MIN)
    kept = value[: room - HASH_LENGTH - 1].rstrip("-")
    short = f"{kept}-{_cluster_hash(cluster_id)}"
    return substitute(template, {"cluster": short, "workspace": workspace})


def render_namespace(template: str, cluster_id: ResourceId, rule: WorkspaceRule) -> str:
    """Fill the template and make it an RFC 1123 label: lower-case, every character other than
    a-z, 0-9 and '-' becomes '-', no '-' at either end, at most 63 characters (a longer name is
    cut and suffixed with 6 hex of its hash, so two long names stay apart)."""
    values = {"cluster": cluster_id.name, "workspace": rule.workspace_id.name}
    filled = substitute(template, values).lower()
    name = re.sub(r"[^a-z0-9-]", "-", filled).strip("-")
    if len(name) > 63:
        digest = hashlib.sha256(filled.encode()).hexdigest()[:6]
        name = name[:56].rstrip("-") + "-" + digest
    return name


def cluster_id_hash(cluster_id: ResourceId) -> str:
    """``{cluster_id_hash}``: 16 hex of the SHA-256 of the cluster's lower-cased resource id.
    ARM ids are case-insensitive and Key Vault secret names too, so one cluster always gets one
    secret name, and two clusters (same name, other resource group, subscription or type) two."""
    return hashlib.sha256(cluster_id.key.encode()).hexdigest()[:16]


def is_system_namespace(name: str) -> bool:
    """A namespace Kubernetes, AKS or Arc keeps for itself: no compute is put there."""
    return name in SYSTEM_NAMESPACES or name.startswith("kube-")


def _name_value(text: str) -> str:
    """A name as a compute name can hold it: each run of other characters becomes one '-'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def _cluster_hash(cluster_id: ResourceId) -> str:
    digest = hashlib.sha256(cluster_id.key.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:HASH_LENGTH]


def render_kubeconfig_secret(template: str, cluster_id: ResourceId) -> str:
    """The kubeconfig secret URI for one cluster: ``{cluster}`` in the secret name becomes the
    cluster's name as it is, ``{cluster_id_hash}`` the hash of its whole resource id. A name Key
    Vault cannot hold (only 0-9, a-z, A-Z and '-', at most 127 characters; AKS names may hold
    '_') is refused rather than altered, so two clusters never end up sharing one secret."""
    if not any(p in template for p in SECRET_PLACEHOLDERS):
        return template
    rendered = template.replace(CLUSTER_ID_HASH_PLACEHOLDER, cluster_id_hash(cluster_id))
    rendered = rendered.replace(CLUSTER_PLACEHOLDER, cluster_id.name)
    name = _secret_name(rendered)
    if not SECRET_NAME.match(name):
        raise PermanentError(
            f"kubeconfig secret {template} cannot be named for cluster {cluster_id.name}: "
            f"{name!r} is not a Key Vault secret name (1-127 of 0-9, a-z, A-Z and '-'); "
            "give the cluster its own entry in the policy's 'clusters' section, with its id as "
            "the scope and a secret name of its own",
            reason="KubeconfigSecretNameInvalid",
        )
    return rendered


def _secret_name(uri: str) -> str:
    return uri.split("/secrets/", 1)[1].split("/", 1)[0] if "/secrets/" in uri else ""


def _is_one_cluster(scope: ResourceId) -> bool:
    try:
        return scope.resource_type in (MANAGED_CLUSTER, CONNECTED_CLUSTER)
    except InvalidResourceId:  # a subscription or resource group: no provider
        return False


def _cluster_access(entry: Any, where: str) -> ClusterAccess:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be an object")
    scope = _resource_id(entry.get("scope"), f"{where}.scope")
    secret = entry.get("kubeconfig_secret")
    if secret is None:
        return ClusterAccess(scope, None)
    at = f"{where}.kubeconfig_secret"
    if not isinstance(secret, str) or not secret.startswith("https://") or not _secret_name(secret):
        raise PolicyError(
            f"{at} must be a Key Vault secret URI "
            "(https://<vault>.vault.azure.net/secrets/<name>, {cluster} and {cluster_id_hash} "
            "allowed in <name>)"
        )
    unknown = sorted(set(re.findall(r"\{[^}]*\}", secret)) - set(SECRET_PLACEHOLDERS))
    if unknown:
        raise PolicyError(
            f"{at}: unknown placeholder(s) {', '.join(unknown)}; only {{cluster}} (the "
            "cluster's name) and {cluster_id_hash} (a hash of its whole resource id) are filled in"
        )
    name = _secret_name(secret)
    if any(secret.count(p) != name.count(p) for p in SECRET_PLACEHOLDERS):
        raise PolicyError(f"{at}: {{cluster}} and {{cluster_id_hash}} may only appear in the name")
    literal = name.replace(CLUSTER_ID_HASH_PLACEHOLDER, "").replace(CLUSTER_PLACEHOLDER, "")
    if not re.fullmatch(r"[0-9A-Za-z-]*", literal) or len(literal) > 126:
        raise PolicyError(
            f"{at}: secret name {name!r} is not a Key Vault secret name: 1-127 of 0-9, a-z, "
            "A-Z and '-' (outside the placeholders)"
        )
    templated = any(p in name for p in SECRET_PLACEHOLDERS)
    if templated and secret.split("/secrets/", 1)[1].strip("/").count("/"):
        raise PolicyError(
            f"{at}: a version cannot be pinned with {{cluster}} or {{cluster_id_hash}} (each "
            "cluster's secret has versions of its own); leave it out and the latest is read"
        )
    if not templated and not _is_one_cluster(scope):
        raise PolicyError(
            f"{at} names one secret for every cluster under {scope}, which can hold more than "
            "one cluster: each would be reached with the same kubeconfig, so one cluster's "
            "namespaces would be made on another. Put {cluster_id_hash} in the secret name "
            "(e.g. .../secrets/kubeconfig-{cluster}-{cluster_id_hash}: one secret per cluster), "
            "or make the scope a single cluster's id"
        )
    if CLUSTER_ID_HASH_PLACEHOLDER not in name and not _is_one_cluster(scope):
        raise PolicyError(
            f"{at}: {{cluster}} alone can name one secret for two clusters under {scope}: "
            "cluster names are unique only within one resource group and type (an AKS and an "
            "Arc cluster, or clusters in two resource groups, may share a name) and Key Vault "
            "secret names ignore case, so one cluster's namespaces would be made on another. "
            "Put {cluster_id_hash} in the secret name (e.g. "
            ".../secrets/kubeconfig-{cluster}-{cluster_id_hash}), or make the scope a single "
            "cluster's id"
        )
    return ClusterAccess(scope, secret)


def _extension_policy(entry: Any) -> ExtensionPolicy:
    if not isinstance(entry, dict):
        raise PolicyError("'extension' must be an object")
    default = ExtensionPolicy()
    try:
        when_missing = WhenExtensionMissing(entry.get("when_missing", default.when_missing.value))
    except ValueError:
        raise PolicyError(
            f"extension.when_missing must be 'wait' or 'install', got {entry.get('when_missing')!r}"
        ) from None
    settings = entry.get("settings", dict(default.settings))
    if not isinstance(settings, dict) or not all(
        isinstance(k, str) and isinstance(v, str | bool | int) for k, v in settings.items()
    ):
        raise PolicyError("extension.settings must map setting names to strings")
    name = entry.get("name", default.name)
    if not isinstance(name, str) or not NAMESPACE_NAME.match(name):
        raise PolicyError(f"extension.name {name!r} is not a valid extension name")
    policy = ExtensionPolicy(
        when_missing=when_missing,
        name=name,
        release_train=str(entry.get("release_train", default.release_train)),
        settings=tuple(
            (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in settings.items()
        ),
    )
    enabled = {k for k, v in policy.settings if v.strip().lower() == "true"}
    if when_missing is WhenExtensionMissing.INSTALL and not enabled & set(EXTENSION_ROLES):
        raise PolicyError(
            "extension.settings: autoattach would install the Azure ML extension with neither "
            "enableTraining nor enableInference set to true, which the Azure CLI refuses (the "
            'extension would have nothing to run); set "enableTraining": true for training '
            'jobs and/or "enableInference": true for online endpoints'
        )
    return policy


def _workspace_rule(entry: Any, where: str) -> WorkspaceRule:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be an object")
    workspace_id = _resource_id(entry.get("workspace"), f"{where}.workspace")
    if workspace_id.resource_type != WORKSPACE:
        raise PolicyError(f"{where}.workspace is not an Azure ML workspace id: {workspace_id}")
    check = _Problems()
    scopes = entry.get("clusters")
    if not isinstance(scopes, list) or not scopes:
        check.add(
            f"{where}.clusters must list the scopes (subscription, resource group or cluster ids) "
            "whose clusters may join this workspace"
        )
        scopes = []
    access = entry.get("storage_access", StorageAccess.READ.value)
    try:
        storage_access = StorageAccess(access)
    except ValueError:
        check.add(f"{where}.storage_access must be 'read' or 'read-write', got {access!r}")
        storage_access = StorageAccess.READ
    computes_doc = entry.get("computes", [{}])
    if not isinstance(computes_doc, list) or not computes_doc:
        check.add(f"{where}.computes must be a non-empty list")
        computes_doc = []
    cluster_scopes = [
        check.run(_cluster_scope, s, workspace_id, f"{where}.clusters[{i}]")
        for i, s in enumerate(scopes)
    ]
    computes = [
        check.run(_compute_template, c, f"{where}.computes[{i}]")
        for i, c in enumerate(computes_doc)
    ]
    identity = check.run(_workspace_identity, entry.get("workspace_identity"), where)
    check.raise_any()
    rule = WorkspaceRule(
        workspace_id=workspace_id,
        cluster_scopes=tuple(s for s in cluster_scopes if s is not None),
        storage_access=storage_access,
        computes=tuple(c for c in computes if c is not None),
        workspace_identity=identity,
    )
    check.extend(_template_problems(rule, where))
    check.raise_any()
    return rule


def _workspace_identity(value: Any, where: str) -> ResourceId | None:
    if value is None:
        return None
    identity = _resource_id(value, f"{where}.workspace_identity")
    if identity.resource_type != USER_ASSIGNED_IDENTITY:
        raise PolicyError(
            f"{where}.workspace_identity is not a user-assigned managed identity id: {identity}"
        )
    return identity


def _cluster_scope(value: Any, workspace_id: ResourceId, where: str) -> ResourceId:
    """A scope whose clusters may join the workspace: Azure ML attaches only clusters of the
    workspace's own subscription, so a scope in another one could never be honoured."""
    scope = _resource_id(value, where)
    if scope.subscription.lower() != workspace_id.subscription.lower():
        raise PolicyError(
            f"{where} is in subscription {scope.subscription}, but workspace "
            f"{workspace_id.name} is in {workspace_id.subscription}: Azure ML attaches only "
            "clusters in the workspace's subscription"
        )
    return scope


def _compute_template(entry: Any, where: str) -> ComputeTemplate:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be an object")
    check = _Problems()
    identity_doc = entry.get("identity", {"type": IdentityType.SYSTEM_ASSIGNED.value})
    if isinstance(identity_doc, str):
        identity_doc = {"type": identity_doc}
    identity = ComputeIdentity(IdentityType.SYSTEM_ASSIGNED)
    if not isinstance(identity_doc, dict):
        check.add(f"{where}.identity must be an object")
    else:
        identity = check.run(_identity, identity_doc, f"{where}.identity") or identity
    name = check.run(_template, entry.get("name", DEFAULT_COMPUTE_NAME), f"{where}.name")
    namespace = check.run(
        _template, entry.get("namespace", DEFAULT_NAMESPACE), f"{where}.namespace"
    )
    check.raise_any()
    assert name is not None and namespace is not None
    return ComputeTemplate(name=name, namespace=namespace, identity=identity)


def _identity(document: dict[str, Any], where: str) -> ComputeIdentity:
    try:
        identity_type = IdentityType(str(document.get("type")))
    except ValueError:
        raise PolicyError(
            f"{where}.type must be 'system_assigned' or 'user_assigned', "
            f"got {document.get('type')!r}"
        ) from None
    resource_id = None
    if identity_type is IdentityType.USER_ASSIGNED:
        resource_id = _resource_id(document.get("resource_id"), f"{where}.resource_id")
    return ComputeIdentity(identity_type, resource_id)


def _sample_clusters(rule: WorkspaceRule) -> tuple[ResourceId, ...]:
    """Clusters a rule's templates are tried on when the policy loads: a short name, a long one
    with capitals and '_', one that starts with a digit."""
    group = f"/subscriptions/{rule.workspace_id.subscription}/resourceGroups/rg-sample/providers/"
    return tuple(
        ResourceId.parse(group + kind + "/" + name)
        for kind, name in (
            ("Microsoft.ContainerService/managedClusters", "aks-a1"),
            ("Microsoft.ContainerService/managedClusters", "AKS_Vision_Prod_WestEurope_01"),
            ("Microsoft.Kubernetes/connectedClusters", "01-edge"),
        )
    )


def _holds_several_clusters(rule: WorkspaceRule) -> bool:
    return len(rule.cluster_scopes) > 1 or not all(_is_one_cluster(s) for s in rule.cluster_scopes)


def _template_problems(rule: WorkspaceRule, where: str) -> list[str]:
    """Every way the rule's compute name and namespace templates could fail a cluster: a name
    Azure refuses, two computes on one name, a namespace Kubernetes refuses or keeps for itself."""
    problems: list[str] = []
    samples = _sample_clusters(rule)
    names: dict[int, list[str]] = {}
    for index, template in enumerate(rule.computes):
        at = f"{where}.computes[{index}]"
        found = _compute_name_problems(template.name, rule, samples, f"{at}.name")
        if not found:
            names[index] = [render_compute_name(template.name, c, rule).lower() for c in samples]
        problems.extend(found)
        problems.extend(_namespace_problems(template.namespace, rule, samples, f"{at}.namespace"))
    for first, second in _pairs(sorted(names)):
        clash = next((n for n, m in zip(names[first], names[second], strict=True) if n == m), None)
        if clash is not None:
            problems.append(
                f"{where}.computes[{first}].name {rule.computes[first].name!r} and "
                f"{where}.computes[{second}].name {rule.computes[second].name!r} give one "
                f"cluster's two computes the same name ({clash!r}; Azure ML compares compute "
                "names without regard to case), so each would replace the other at every look: "
                "make their text outside the placeholders differ, e.g. {cluster}-train and "
                "{cluster}-infer"
            )
    return problems


def _compute_name_problems(
    template: str, rule: WorkspaceRule, samples: tuple[ResourceId, ...], at: str
) -> list[str]:
    try:
        used = placeholders(template, PLACEHOLDERS)
    except TemplateError as error:
        return [f"{at} {template!r}: {error}"]
    typed = literal(template)
    if not COMPUTE_LITERAL.match(typed):
        bad = "".join(sorted(set(re.sub(r"[A-Za-z0-9-]", "", typed))))
        return [
            f"{at} {template!r}: the text outside the placeholders holds {bad!r}; Azure ML "
            "compute names hold only letters, digits and '-' (the cluster's and workspace's "
            "names are made to fit when filled in, the text you type is not rewritten: write "
            f"{re.sub(r'[^A-Za-z0-9{}-]', '-', template)!r})"
        ]
    rule_fixed = substitute(
        template, {"cluster": "", "workspace": _name_value(rule.workspace_id.name)}
    )
    count = used.count("cluster")
    if count == 0 and _holds_several_clusters(rule):
        return [
            f"{at} {template!r} has no {{cluster}}, but the workspace's scopes can hold several "
            "clusters: all of them would be attached as one compute, each attach undoing the "
            'last. Put {cluster} in the name (e.g. "{cluster}-gpu"), or make the scope one '
            "cluster's id"
        ]
    if count and len(rule_fixed) + count * SHORTENED_CLUSTER_MIN > COMPUTE_NAME_MAX:
        return [
            f"{at} {template!r} leaves {max(COMPUTE_NAME_MAX - len(rule_fixed), 0)} of a compute "
            f"name's {COMPUTE_NAME_MAX} characters for the cluster's name; it needs at least "
            f"{count * SHORTENED_CLUSTER_MIN} ({SHORTENED_CLUSTER_MIN} per {{cluster}}: a "
            f"letter, '-' and a {HASH_LENGTH}-character hash): shorten the text around {{cluster}}"
        ]
    for cluster in samples:
        name = render_compute_name(template, cluster, rule)
        if not COMPUTE_NAME.match(name):
            return [
                f"{at} {template!r} gives {name!r} for cluster {cluster.name}, which Azure ML "
                f"refuses: a compute name is 2-{COMPUTE_NAME_MAX} letters, digits and '-', "
                "starting with a letter and ending with a letter or digit"
            ]
    return []


def _namespace_problems(
    template: str, rule: WorkspaceRule, samples: tuple[ResourceId, ...], at: str
) -> list[str]:
    """Placeholder values (cluster and workspace names) are made valid when rendered; the text
    the policy author typed must already be valid, and must leave a name for every cluster."""
    try:
        placeholders(template, PLACEHOLDERS)
    except TemplateError as error:
        return [f"{at} {template!r}: {error}"]
    rendered = [render_namespace(template, cluster, rule) for cluster in samples]
    if not NAMESPACE_LITERAL.match(literal(template)) or not all(
        NAMESPACE_NAME.match(n) for n in rendered
    ):
        return [
            f"{at} {template!r} is not a Kubernetes namespace name template: its text outside "
            "{cluster} and {workspace} must be lowercase letters, digits and '-', and it must "
            "render to a name (at most 63 characters)"
        ]
    system = next((n for n in rendered if is_system_namespace(n)), None)
    if system is not None:
        return [
            f"{at} {template!r} gives namespace {system!r}, which Kubernetes, AKS or Arc keeps "
            "for its own components (kube-*, default, gatekeeper-system, azure-arc, ...): "
            'choose a namespace of your own, e.g. "azureml-{workspace}"'
        ]
    return []


def _shared_namespaces(rules: list[WorkspaceRule | None]) -> list[str]:
    """Two workspaces of one name (in two resource groups) whose namespace templates name the
    workspace would share one namespace on a cluster both may take: refused, naming both."""
    problems: list[str] = []
    indexed = [(i, r) for i, r in enumerate(rules) if r is not None]
    for (i, first), (j, second) in _pairs(indexed):
        if not _scopes_overlap(first, second):
            continue
        for a, ta in enumerate(first.computes):
            for b, tb in enumerate(second.computes):
                if "{workspace}" not in ta.namespace + tb.namespace:
                    continue
                for cluster in _sample_clusters(first):
                    mine = render_namespace(ta.namespace, cluster, first)
                    if mine == render_namespace(tb.namespace, cluster, second):
                        problems.append(
                            f"workspaces[{i}].computes[{a}].namespace {ta.namespace!r} and "
                            f"workspaces[{j}].computes[{b}].namespace {tb.namespace!r} give "
                            f"one namespace, {mine!r}, to workspaces {first.workspace_id.name} "
                            f"(resource group {first.workspace_id.resource_group}) and "
                            f"{second.workspace_id.name} (resource group "
                            f"{second.workspace_id.resource_group}) on a cluster both may take: "
                            "their computes would share it. Give one of them a namespace of "
                            'its own (e.g. "azureml-{workspace}-prod")'
                        )
                        break
    return problems


def _scopes_overlap(first: WorkspaceRule, second: WorkspaceRule) -> bool:
    return any(
        a.is_within(b) or b.is_within(a)
        for a in first.cluster_scopes
        for b in second.cluster_scopes
    )


def _pairs(items: list[Any]) -> list[tuple[Any, Any]]:
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


def _namespace_policy(entry: Any) -> NamespacePolicy:
    if not isinstance(entry, dict):
        raise PolicyError("'namespaces' must be an object with an 'adoption_policy'")
    value = entry.get("adoption_policy", NamespacePolicy.adoption_policy.value)
    try:
        adoption = AdoptionPolicy(value)
    except ValueError:
        raise PolicyError(
            f"namespaces.adoption_policy must be one of "
            f"{', '.join(p.value for p in AdoptionPolicy)}, got {value!r}"
        ) from None
    if entry.get("delete_policy", "Keep") != "Keep":
        raise PolicyError(
            "namespaces.delete_policy can only be 'Keep': autoattach never deletes a namespace"
        )
    return NamespacePolicy(adoption)


def _template(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where} must be a non-empty string")
    return value.strip()


class _Problems:
    """Collects every problem of a policy, so one run reports them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def extend(self, problems: list[str]) -> None:
        self.problems.extend(problems)

    def run(self, check: Any, *args: Any) -> Any:
        """``check(*args)``, or None with its problems kept when it raises PolicyError."""
        try:
            return check(*args)
        except PolicyError as error:
            self.problems.extend(error.problems)
            return None

    def raise_any(self) -> None:
        if self.problems:
            raise PolicyError(*self.problems)


def _resource_id(value: Any, where: str) -> ResourceId:
    try:
        return ResourceId.parse(value)
    except InvalidResourceId as error:
        raise PolicyError(f"{where}: {error}") from None


# -- the JSON Schema ---------------------------------------------------------------------------


@functools.cache
def policy_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of the attach policy, shipped in the package."""
    text = resources.files("shared").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    schema = policy_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_problems(document: Any) -> tuple[str, ...]:
    """Every way ``document`` breaks the schema, each as ``<JSON path>: <what is wrong>``, in
    document order; empty when it fits."""
    errors = sorted(_validator().iter_errors(document), key=_document_order)
    problems: list[str] = []
    for error in errors:
        problems.extend(_describe(error))
    return tuple(dict.fromkeys(problems))


def _document_order(error: ValidationError) -> list[tuple[int, int, str]]:
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]


def json_path(path: Any) -> str:
    """``workspaces[0].storage_access`` for the path ("workspaces", 0, "storage_access")."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: ValidationError) -> list[str]:
    path = list(error.absolute_path)
    where = json_path(path) or "the policy"
    instance = error.instance
    kind = error.validator
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = sorted(error.schema.get("properties", {}))
        problems = []
        for key in sorted(set(instance) - set(known)):
            guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{guess[0]}'?)" if guess else ""
            problems.append(
                f"{json_path([*path, key])}: unknown key{hint}; known here: {', '.join(known)}"
            )
        return problems
    if kind == "required" and isinstance(instance, dict):
        return [
            f"{json_path([*path, key])} is required"
            for key in error.validator_value
            if key not in instance
        ]
    if kind == "enum":
        choices = [repr(v) for v in error.validator_value]
        allowed = (
            choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
        )
        description = error.schema.get("description") if isinstance(error.schema, dict) else None
        why = f" ({description})" if len(choices) == 1 and description else ""
        return [f"{where} must be {allowed}, got {instance!r}{why}"]
    if kind == "type":
        wanted = error.validator_value
        wanted = wanted if isinstance(wanted, list) else [wanted]
        return [
            f"{where} must be {' or '.join(_ARTICLES[t] for t in wanted)}, got {_kind(instance)}"
        ]
    if kind in ("minItems", "minLength"):
        return [f"{where} must not be empty"]
    return [f"{where}: {error.message}"]


_ARTICLES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "null": "null",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return f"{names.get(type(value), type(value).__name__)} {json.dumps(value)[:40]}"
