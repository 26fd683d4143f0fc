"""The run-time guard against a compute that flaps (issue 19.4): one reconcile writes a compute
at most MAX_COMPUTE_WRITES times; the next write is not made and the owners are told why."""

from typing import Any, cast

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import Attachment, ComputeIdentity, IdentityType, StorageAccess
from shared.decisions.planner import AttachCompute
from shared.engine.run import MAX_COMPUTE_WRITES, ReconcileResult, Run

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = ResourceId.parse(
    SUB + "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)
WORKSPACE = ResourceId.parse(
    SUB + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws-a"
)


def attach(name: str, namespace: str) -> AttachCompute:
    attachment = Attachment(
        WORKSPACE,
        name,
        namespace,
        ComputeIdentity(IdentityType.SYSTEM_ASSIGNED),
        StorageAccess.READ,
    )
    return AttachCompute(attachment, CLUSTER, "westeurope")


def test_a_compute_written_more_often_than_a_reconcile_allows_is_stopped_with_its_cause():
    result = ReconcileResult(CLUSTER)
    run = Run(cast(Any, None), result)
    writes = [attach("aks-ml", "team-a"), attach("AKS-ML", "team-b")] * 3

    stopped = [run.flapping(action) for action in writes]

    assert stopped == [False] * MAX_COMPUTE_WRITES + [True] * (len(writes) - MAX_COMPUTE_WRITES)
    assert len(result.problems) == 2  # one per attachment it blocked, said once each
    message = result.problems[0].message
    assert "compute" in message and "ws-a" in message and "aks-ml" in message
    assert "same name" in message


def test_other_computes_are_counted_apart():
    run = Run(cast(Any, None), ReconcileResult(CLUSTER))
    assert not any(run.flapping(attach(f"aks-ml-{i}", "team-a")) for i in range(5))
