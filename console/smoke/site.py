"""Where a smoke run works: the marked resource group, the cluster and workspace named in it, and
the names and tags that mark what the run makes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.smoke.azure import Arm, Clock

# The tag the user puts on the resource group (docs/first-deployment.md): no run starts without it.
GROUP_MARK = "autoattach-smoke"
# The tag on everything a run makes that takes tags; its value is the run id.
RUN_MARK = "autoattach-smoke-run"
# Every name a run makes starts so (Azure ML compute names: at most 16 characters, so short).
PREFIX = "aasmoke"
# Role assignments a run makes say so in their description.
DESCRIPTION = "autoattach smoke run"

API = {
    "group": "2024-03-01",
    "tags": "2024-03-01",
    "compute": "2024-10-01",
    "workspace": "2024-10-01",
    "roles": "2022-04-01",
    "namespaces": "2026-05-01",
    "extensions": "2023-05-01",
    "aks": "2026-05-01",
    "arc": "2024-01-01",
}
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
AZUREML_EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"


@dataclass
class Site:
    arm: Arm
    clock: Clock
    run_id: str
    resource_group: str  # /subscriptions/{s}/resourceGroups/{rg}
    cluster: str  # resource id, in the resource group
    workspace: str  # resource id, in the resource group
    world: Any  # the double's settings to compare with (a sandbox World)
    tag_key: str = "azureml-attach"
    poll: float = 10.0  # seconds between reads while waiting
    timeout: float = 1800.0  # longest wait for one step
    say: Callable[[str], None] = field(default=lambda _text: None)
    status: Any = None  # console.commands.target.Target: the app's status machinery
    policy: Any = None  # the app's AttachPolicy (shared.decisions.policy), read from its settings
    workspace_location: str = ""  # read by the preflight
    cluster_location: str = ""
    azure_rbac: bool = False  # AKS with Azure RBAC: managed namespaces can be made

    @property
    def subscription(self) -> str:
        return self.resource_group.split("/")[2]

    def name(self, suffix: str) -> str:
        """A name this run makes: the prefix, the run id, a suffix."""
        return f"{PREFIX}{self.run_id}{suffix}"

    @property
    def run_tags(self) -> dict[str, str]:
        return {RUN_MARK: self.run_id}

    def compute_path(self, name: str) -> str:
        return f"{self.workspace}/computes/{name}"

    def namespace_path(self, name: str) -> str:
        return f"{self.cluster}/managedNamespaces/{name}"

    def extensions_path(self, name: str | None = None) -> str:
        base = f"{self.cluster}/providers/Microsoft.KubernetesConfiguration/extensions"
        return base if name is None else f"{base}/{name}"

    def role_path(self, name: str) -> str:
        return f"{self.resource_group}/providers/Microsoft.Authorization/roleAssignments/{name}"

    def reader_role(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{READER}"
        )

    @property
    def cluster_api(self) -> str:
        return API["aks"] if "/managedclusters/" in self.cluster.lower() else API["arc"]
