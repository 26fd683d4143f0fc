"""The smoke run against the local double: the same code, with the double playing Azure.

``Rehearsal(document, where)`` takes a world file and adds what docs/first-deployment.md has the
user make with `az` before a real run: a resource group carrying the ``autoattach-smoke`` tag, an
AKS cluster with Azure RBAC and without the Azure ML extension, a workspace, and the policy entry
allowing that workspace for clusters in that group. It starts the sandbox (the doubles and the
app, wired as the Functions app is), and Event Grid's system topic (sandbox/system_topic.py), so
the run's tag and extension writes reach the app's queues as in Azure. Waiting lets the app run:
``SandboxClock.wait`` delivers, in virtual time, what becomes due.

The run signs in as an operator of its own (a token with its own ``oid``), not as the app; when
the world enforces RBAC, the operator gets a custom role allowing everything on the subscription.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from typing import Any

from azure.core.credentials import AccessToken

from console.smoke.azure import Arm
from console.smoke.site import Site
from sandbox.runner import Sandbox
from sandbox.scenario import Scenario, split_world_file
from sandbox.system_topic import SystemTopic
from shared.adapters.arm import ArmConnection

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
GROUP_NAME = "rg-autoattach-smoke"
CLUSTER_NAME = "aks-smoke"
WORKSPACE_NAME = "ws-smoke"
OPERATOR = "7d3c2a10-5b4e-4f6a-9c8d-0e1f2a3b4c5d"  # the person running the smoke, in the sandbox
MARK_VALUE = "rehearsal"


class OperatorCredential:
    """A bearer token naming the operator's object id (unsigned: the double reads ``oid``)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

        token = ".".join([part({"alg": "none"}), part({"oid": OPERATOR}), "sandbox"])
        return AccessToken(token, int(time.time()) + 3600)

    def close(self) -> None:
        return None


class SandboxClock:
    """Virtual seconds; a wait delivers what the app's queues hold until then."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def now(self) -> float:
        return self.sandbox.clock.seconds()

    def wait(self, seconds: float) -> None:
        self.sandbox.deliver_until(self.now() + max(0.0, seconds))


def rehearsal_world(document: Any, where: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The world file plus what the doc's `az` commands make: (world, policy, tag key)."""
    world, policy, tag_key = split_world_file(document, where)
    world, policy = copy.deepcopy(world), copy.deepcopy(policy)
    subscription = _subscription(world)
    group = f"/subscriptions/{subscription}/resourceGroups/{GROUP_NAME}"
    location = next((str(w["location"]) for w in world.get("workspaces", [])), "westeurope")
    world.setdefault("resource_groups", []).append(
        {"id": group, "location": location, "tags": {"autoattach-smoke": MARK_VALUE}}
    )
    world.setdefault("clusters", []).append(
        {
            "id": f"{group}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER_NAME}",
            "location": location,
            "azure_rbac": True,
            "namespaces": ["default", "kube-system", "kube-public"],
        }
    )
    workspace = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE_NAME}"
    registry = f"{group}/providers/Microsoft.ContainerRegistry/registries/acrsmoke"
    world.setdefault("workspaces", []).append(
        {
            "id": workspace,
            "location": location,
            "storage_account": f"{group}/providers/Microsoft.Storage/storageAccounts/stsmoke",
            "container_registry": registry,
        }
    )
    policy.setdefault("workspaces", []).append(
        {
            "workspace": workspace,
            "clusters": [group],
            "storage_access": "read",
            "computes": [{"name": "{cluster}", "namespace": "azureml-smoke"}],
        }
    )
    if world.get("arm_authorization"):
        role = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
        role += "5b0f8d7e-2a3c-4e1f-9d6b-7c8a9e0f1a2b"
        world.setdefault("role_definitions", []).append(
            {"id": role, "role_name": "smoke operator (sandbox)", "actions": ["*"]}
        )
        world.setdefault("role_assignments", []).append(
            {
                "scope": f"/subscriptions/{subscription}",
                "role_definition_id": role,
                "principal_id": OPERATOR,
            }
        )
    return world, policy, tag_key


def _subscription(world: dict[str, Any]) -> str:
    for section in ("workspaces", "clusters"):
        for entry in world.get(section, []):
            parts = str(entry.get("id", "")).split("/")
            if len(parts) > 2 and parts[1].lower() == "subscriptions":
                return parts[2]
    return SUBSCRIPTION


class Rehearsal:
    """The sandbox a rehearsed run works in; a context manager."""

    def __init__(self, document: Any, where: str) -> None:
        world, policy, tag_key = rehearsal_world(document, where)
        self.scenario = Scenario(world=world, policy=policy, steps=(), tag_key=tag_key)
        self.sandbox = Sandbox(self.scenario)
        self.tag_key = tag_key
        group = next(g["id"] for g in world["resource_groups"] if GROUP_NAME in g["id"])
        self.resource_group = group
        self.cluster = (
            f"{group}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER_NAME}"
        )
        self.workspace = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/"
        self.workspace += WORKSPACE_NAME

    def __enter__(self) -> Rehearsal:
        self.sandbox.__enter__()
        self.topic = SystemTopic(self.sandbox.bus)
        self.sandbox.arm.write_listeners.append(self.topic.heard)
        self.connection = ArmConnection(OperatorCredential(), endpoint=self.sandbox.arm.base_url)
        self.clock = SandboxClock(self.sandbox)
        return self

    def __exit__(self, *exc: object) -> None:
        self.sandbox.__exit__(*exc)

    @property
    def world(self) -> Any:
        return self.sandbox.world

    def site(
        self,
        run_id: str,
        *,
        poll: float = 10.0,
        timeout: float = 1800.0,
        say: Callable[[str], None] = lambda _text: None,
    ) -> Site:
        """Where the run works: the rehearsal's group, cluster and workspace, signed in as the
        operator, on the virtual clock, with the app's status machinery and policy."""
        from console.commands.target import Target

        return Site(
            arm=Arm(self.connection, self.resource_group.split("/")[2]),
            clock=self.clock,
            run_id=run_id,
            resource_group=self.resource_group,
            cluster=self.cluster,
            workspace=self.workspace,
            world=self.world,
            tag_key=self.tag_key,
            poll=poll,
            timeout=timeout,
            say=say,
            status=Target(self.sandbox.app, self.sandbox),
            policy=self.sandbox.app.services.policy,
        )
