"""The sequential baseline: what a platform engineer's script does for each new cluster, following
the documented manual sequence with the same SDKs the product uses, one step after another and
each waiting for completion (``poller.result()``):

1. ARM managed namespace PUT for the workspace's namespace (azure-mgmt-containerservice);
2. ``az ml compute attach`` = azure-ai-ml ``MLClient.compute.begin_create_or_update`` of a
   ``KubernetesCompute`` with a system-assigned identity;
3. ``az ml compute show`` = ``MLClient.compute.get`` (for the identity's principal id);
4. two role assignments for that principal (azure-mgmt-authorization): AcrPull on the workspace's
   registry, Storage Blob Data Reader/Contributor on its storage account.

It runs against its own ARM double (same world, same throttling, same realistic operation
durations); azure-core's sleeps (pollers, Retry-After) take virtual time there, so the script's
wall time is the virtual time it would take against Azure, not counting its own CPU."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

from azure.ai.ml import MLClient
from azure.ai.ml.entities import IdentityConfiguration, KubernetesCompute
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.containerservice.models import ManagedNamespace, NamespaceProperties

from benchmarks.worlds import cluster_id, namespace_of
from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.runner import virtual_sdk_sleeps
from sandbox.scenario import Scenario
from sandbox.tls import SandboxTls
from sandbox.world import World
from shared.adapters.namespaces import container_service_client
from shared.decisions.arm_id import ResourceId

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@dataclass
class BaselineRun:
    clusters: int
    workspaces: int
    seconds: float  # virtual
    reads: int
    polls: int
    writes: int
    throttled: int
    writes_admitted: int


def run_baseline(scenario: Scenario, clusters: int) -> BaselineRun:
    """Run the manual sequence for the first ``clusters`` clusters of the scenario's world."""
    tls = SandboxTls.create()
    clock = VirtualClock()
    world = World.from_dict(scenario.world)
    arm = ArmDouble(world, clock, tls).start()
    previous_ca = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_bundle)
    restore = virtual_sdk_sleeps(clock)
    try:
        script = _Script(arm, tls, scenario)
        for n in range(clusters):
            script.new_cluster(cluster_id(n))
        counts = arm.split_counts
        admitted = sum(1 for c in arm.throttle.charges if c.kind == "writes" and c.admitted)
        return BaselineRun(
            clusters=clusters,
            workspaces=len(scenario.world["workspaces"]),
            seconds=clock.seconds(),
            reads=counts["reads"],
            polls=counts["polls"],
            writes=counts["writes"],
            throttled=counts["throttled"],
            writes_admitted=admitted
            if arm.throttle.enforce
            else counts["writes"] - counts["throttled"],
        )
    finally:
        restore()
        if previous_ca is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous_ca
        arm.stop()


class _Script:
    def __init__(self, arm: ArmDouble, tls: SandboxTls, scenario: Scenario) -> None:
        self.credential = SandboxCredential()
        self.endpoint = arm.base_url.rstrip("/") + "/"
        self.verify = str(tls.ca_bundle)
        self.workspaces = [ResourceId.parse(w["id"]) for w in scenario.world["workspaces"]]
        self.raw_workspaces = scenario.world["workspaces"]
        self.rules = scenario.policy["workspaces"]
        sub = self.workspaces[0].subscription
        common: dict[str, Any] = {"base_url": arm.base_url, "connection_verify": self.verify}
        self.aks = container_service_client(self.credential, sub, **common)
        self.auth = AuthorizationManagementClient(self.credential, sub, **common)
        port = arm.base_url.rsplit(":", 1)[-1]
        self.ml = {
            ws.key: MLClient(
                self.credential,
                ws.subscription,
                ws.resource_group,
                ws.name,
                cloud=f"BenchBaseline-{port}",
                cloud_metadata={
                    "azure_portal": self.endpoint,
                    "resource_manager": self.endpoint,
                    "active_directory": self.endpoint,
                    "aml_resource_id": self.endpoint,
                    "storage_endpoint": "core.windows.net",
                    "registry_discovery_endpoint": self.endpoint,
                },
            )
            for ws in self.workspaces
        }

    def new_cluster(self, cluster: str) -> None:
        cid = ResourceId.parse(cluster)
        for index, ws in enumerate(self.workspaces):
            namespace = namespace_of(index)
            self.aks.managed_namespaces.begin_create_or_update(
                cid.resource_group,
                cid.name,
                namespace,
                ManagedNamespace(
                    location="westeurope",
                    properties=NamespaceProperties(
                        adoption_policy="IfIdentical", delete_policy="Keep"
                    ),
                ),
            ).result()
            ml = self.ml[ws.key]
            ml.compute.begin_create_or_update(
                KubernetesCompute(
                    name=cid.name,
                    resource_id=cluster,
                    namespace=namespace,
                    identity=IdentityConfiguration(type="system_assigned"),
                )
            ).result()
            shown = ml.compute.get(cid.name)
            principal = shown.identity.principal_id
            storage_role = (
                BLOB_CONTRIBUTOR
                if self.rules[index].get("storage_access") == "read-write"
                else BLOB_READER
            )
            raw = self.raw_workspaces[index]
            for scope, role in (
                (raw["container_registry"], ACR_PULL),
                (raw["storage_account"], storage_role),
            ):
                self.auth.role_assignments.create(
                    scope,
                    str(uuid.uuid4()),
                    RoleAssignmentCreateParameters(
                        role_definition_id=(
                            f"/subscriptions/{ws.subscription}/providers/"
                            f"Microsoft.Authorization/roleDefinitions/{role}"
                        ),
                        principal_id=principal,
                        principal_type="ServicePrincipal",
                    ),
                )
