"""A compute's ``createdOn`` is when it was made, the same on every read (the product derives
its ComputeAttached notice id from it): not the time of the read."""

from __future__ import annotations

from azure.ai.ml import MLClient
from azure.ai.ml.entities import IdentityConfiguration, KubernetesCompute

from sandbox.clock import VirtualClock
from sandbox.world import World
from tests.double.arm_world import AKS


def test_a_computes_created_on_stays_the_time_it_was_attached(
    ml: MLClient, world: World, clock: VirtualClock
) -> None:
    world.compute_attach_seconds = 0
    clock.advance(100)
    compute = KubernetesCompute(
        name="k8s-made",
        resource_id=AKS,
        namespace="team-x",
        identity=IdentityConfiguration(type="system_assigned"),
    )
    ml.compute.begin_create_or_update(compute).result(timeout=5)
    first = ml.compute.get("k8s-made").created_on
    clock.advance(600)
    again = ml.compute.get("k8s-made").created_on
    assert first and again == first
    listed = next(c for c in ml.compute.list() if c.name == "k8s-made")
    assert listed.created_on == first
