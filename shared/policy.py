"""The attach policy: which workspaces each cluster may join, and how.

A tag on a cluster only asks; the policy decides. Loaded once at start from JSON; every error
names the entry and the field at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.arm_id import MANAGED_CLUSTER, WORKSPACE, InvalidResourceId, ResourceId
from shared.model import (
    AdoptionPolicy,
    Attachment,
    ComputeIdentity,
    ExtensionPolicy,
    IdentityType,
    NamespaceRoute,
    StorageAccess,
    WhenExtensionMissing,
)

COMPUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{2,23}$")
NAMESPACE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
NAMESPACE_LITERAL = re.compile(r"^[a-z0-9-]*$")
DEFAULT_COMPUTE_NAME = "{cluster}"
DEFAULT_NAMESPACE = "azureml"


class PolicyError(ValueError):
    """The attach policy document is invalid; the message says where and why."""


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
    def from_json(cls, text: str) -> AttachPolicy:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyError(
                f"attach policy is not JSON: {error.msg} at char {error.pos}"
            ) from None
        return cls.from_dict(document)

    @classmethod
    def from_dict(cls, document: Any) -> AttachPolicy:
        if not isinstance(document, dict) or not isinstance(document.get("workspaces"), list):
            raise PolicyError("attach policy must be an object with a 'workspaces' list")
        rules = tuple(
            _workspace_rule(entry, f"workspaces[{index}]")
            for index, entry in enumerate(document["workspaces"])
        )
        seen: set[str] = set()
        for rule in rules:
            if rule.workspace_id.key in seen:
                raise PolicyError(f"workspace {rule.workspace_id} appears twice in the policy")
            seen.add(rule.workspace_id.key)
        access_doc = document.get("clusters", [])
        if not isinstance(access_doc, list):
            raise PolicyError("'clusters' must be a list of {scope, kubeconfig_secret} entries")
        access = tuple(_cluster_access(e, f"clusters[{i}]") for i, e in enumerate(access_doc))
        return cls(
            rules,
            access,
            _extension_policy(document.get("extension", {})),
            namespaces=_namespace_policy(document.get("namespaces", {})),
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
            return NamespaceRoute("kubernetes", best.kubeconfig_secret)
        if azure_rbac and cluster_id.resource_type == MANAGED_CLUSTER:
            return NamespaceRoute("arm", adoption_policy=self.namespaces.adoption_policy)
        return None


@dataclass(frozen=True)
class TagDecision:
    """What a cluster's tag asked for, split into what the policy allows and what it refuses."""

    attachments: tuple[Attachment, ...]
    refused: tuple[str, ...]


def decide_attachments(
    cluster_id: ResourceId, tags: dict[str, str], tag_key: str, policy: AttachPolicy
) -> TagDecision:
    """Pure: the attachments the policy grants this cluster for the workspaces its tag names."""
    value = next((v for k, v in tags.items() if k.lower() == tag_key.lower()), None)
    if value is None:
        return TagDecision((), ())
    attachments: list[Attachment] = []
    refused: list[str] = []
    for entry in dict.fromkeys(e.strip() for e in value.split(",") if e.strip()):
        candidates = [r for r in policy.workspaces if r.matches(entry) and r.allows(cluster_id)]
        if len(candidates) != 1:
            refused.append(entry)
            continue
        rule = candidates[0]
        for template in rule.computes:
            attachments.append(
                Attachment(
                    workspace_id=rule.workspace_id,
                    compute_name=render_compute_name(template.name, cluster_id, rule),
                    namespace=render_namespace(template.namespace, cluster_id, rule),
                    identity=template.identity,
                    storage_access=rule.storage_access,
                )
            )
    return TagDecision(tuple(dict.fromkeys(attachments)), tuple(refused))


def render_compute_name(template: str, cluster_id: ResourceId, rule: WorkspaceRule) -> str:
    """Fill the template; shorten deterministically to Azure ML's 24-character limit."""
    name = re.sub(r"[^a-zA-Z0-9-]", "-", _fill(template, cluster_id, rule)).strip("-")
    if not name or not name[0].isalpha():
        name = "k8s-" + name
    if len(name) > 24:
        digest = hashlib.sha256(name.lower().encode()).hexdigest()[:6]
        name = name[:17].rstrip("-") + "-" + digest
    if len(name) < 3:
        name = (name + "-k8s")[:24]
    return name


def render_namespace(template: str, cluster_id: ResourceId, rule: WorkspaceRule) -> str:
    """Fill the template and make it an RFC 1123 label: lower-case, every character other than
    a-z, 0-9 and '-' becomes '-', no '-' at either end, at most 63 characters (a longer name is
    cut and suffixed with 6 hex of its hash, so two long names stay apart)."""
    filled = _fill(template, cluster_id, rule).lower()
    name = re.sub(r"[^a-z0-9-]", "-", filled).strip("-")
    if len(name) > 63:
        digest = hashlib.sha256(filled.encode()).hexdigest()[:6]
        name = name[:56].rstrip("-") + "-" + digest
    return name


def _fill(template: str, cluster_id: ResourceId, rule: WorkspaceRule) -> str:
    return template.format(cluster=cluster_id.name, workspace=rule.workspace_id.name)


def _cluster_access(entry: Any, where: str) -> ClusterAccess:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be an object")
    secret = entry.get("kubeconfig_secret")
    if secret is not None and (
        not isinstance(secret, str)
        or not secret.startswith("https://")
        or "/secrets/" not in secret
    ):
        raise PolicyError(
            f"{where}.kubeconfig_secret must be a Key Vault secret URI "
            "(https://<vault>.vault.azure.net/secrets/<name>)"
        )
    return ClusterAccess(_resource_id(entry.get("scope"), f"{where}.scope"), secret)


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
    return ExtensionPolicy(
        when_missing=when_missing,
        name=name,
        release_train=str(entry.get("release_train", default.release_train)),
        settings=tuple(
            (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in settings.items()
        ),
    )


def _workspace_rule(entry: Any, where: str) -> WorkspaceRule:
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be an object")
    workspace_id = _resource_id(entry.get("workspace"), f"{where}.workspace")
    if workspace_id.resource_type != WORKSPACE:
        raise PolicyError(f"{where}.workspace is not an Azure ML workspace id: {workspace_id}")
    scopes = entry.get("clusters")
    if not isinstance(scopes, list) or not scopes:
        raise PolicyError(
            f"{where}.clusters must list the scopes (subscription, resource group or cluster ids) "
            "whose clusters may join this workspace"
        )
    access = entry.get("storage_access", StorageAccess.READ.value)
    try:
        storage_access = StorageAccess(access)
    except ValueError:
        raise PolicyError(
            f"{where}.storage_access must be 'read' or 'read-write', got {access!r}"
        ) from None
    computes_doc = entry.get("computes", [{}])
    if not isinstance(computes_doc, list) or not computes_doc:
        raise PolicyError(f"{where}.computes must be a non-empty list")
    rule = WorkspaceRule(
        workspace_id=workspace_id,
        cluster_scopes=tuple(
            _cluster_scope(s, workspace_id, f"{where}.clusters[{i}]") for i, s in enumerate(scopes)
        ),
        storage_access=storage_access,
        computes=tuple(
            _compute_template(c, f"{where}.computes[{i}]") for i, c in enumerate(computes_doc)
        ),
    )
    _check_templates(rule, where)
    return rule


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
    identity_doc = entry.get("identity", {"type": IdentityType.SYSTEM_ASSIGNED.value})
    if isinstance(identity_doc, str):
        identity_doc = {"type": identity_doc}
    if not isinstance(identity_doc, dict):
        raise PolicyError(f"{where}.identity must be an object")
    try:
        identity_type = IdentityType(str(identity_doc.get("type")))
    except ValueError:
        raise PolicyError(
            f"{where}.identity.type must be 'system_assigned' or 'user_assigned', "
            f"got {identity_doc.get('type')!r}"
        ) from None
    resource_id = None
    if identity_type is IdentityType.USER_ASSIGNED:
        resource_id = _resource_id(identity_doc.get("resource_id"), f"{where}.identity.resource_id")
    return ComputeTemplate(
        name=_template(entry.get("name", DEFAULT_COMPUTE_NAME), f"{where}.name"),
        namespace=_template(entry.get("namespace", DEFAULT_NAMESPACE), f"{where}.namespace"),
        identity=ComputeIdentity(identity_type, resource_id),
    )


def _check_templates(rule: WorkspaceRule, where: str) -> None:
    sample = ResourceId.parse(
        "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ContainerService/"
        "managedClusters/cluster"
    )
    for index, template in enumerate(rule.computes):
        try:
            namespace = render_namespace(template.namespace, sample, rule)
            render_compute_name(template.name, sample, rule)
        except (KeyError, IndexError, ValueError) as error:
            raise PolicyError(
                f"{where}.computes[{index}]: unknown placeholder {error}; "
                "use {cluster} and {workspace}"
            ) from None
        _check_namespace_template(template.namespace, namespace, f"{where}.computes[{index}]")


def _check_namespace_template(template: str, sample: str, where: str) -> None:
    """Placeholder values (cluster and workspace names) are made valid when rendered; the text
    the policy author typed must already be valid, and must leave a name for every cluster."""
    literal = re.sub(r"\{(cluster|workspace)\}", "", template)
    if not NAMESPACE_LITERAL.match(literal) or not NAMESPACE_NAME.match(sample):
        raise PolicyError(
            f"{where}.namespace {template!r} is not a Kubernetes namespace name template: its "
            "text outside {cluster} and {workspace} must be lowercase letters, digits and '-', "
            "and it must render to a name (at most 63 characters)"
        )


def _namespace_policy(entry: Any) -> NamespacePolicy:
    if not isinstance(entry, dict):
        raise PolicyError("'namespaces' must be an object with an 'adoption_policy'")
    unknown = sorted(set(entry) - {"adoption_policy", "delete_policy"})
    if unknown:
        raise PolicyError(
            f"namespaces: unknown setting(s) {unknown}; known: adoption_policy, delete_policy"
        )
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


def _resource_id(value: Any, where: str) -> ResourceId:
    try:
        return ResourceId.parse(value)
    except InvalidResourceId as error:
        raise PolicyError(f"{where}: {error}") from None
