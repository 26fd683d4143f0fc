"""What a waiting reconcile leaves for its re-check: only a wait for autoattach's own writes."""

from dataclasses import replace

from shared.engine.continuation import NAMESPACE, Pending, capture, restore
from tests.unit.test_planner import CLUSTER, WORKSPACE, compute, observation

NAMESPACE_WRITE = Pending(NAMESPACE, "azureml", "https://arm/operationStatuses/1")


def test_a_wait_for_autoattachs_own_writes_is_kept_and_read_back_as_it_was():
    attaching = replace(compute(), provisioning_state="Creating", operation="https://arm/op/2")
    observed = observation(computes={(WORKSPACE, "aks-ml"): attaching}, owned=(attaching,))
    kept = restore(capture(observed, [NAMESPACE_WRITE]) or {})

    assert kept is not None
    assert kept.cluster.id == CLUSTER and kept.cluster.tags == observed.cluster.tags
    assert kept.computes == (attaching,) and kept.computes[0].operation == "https://arm/op/2"
    assert [p.kind for p in kept.pending] == ["namespace", "compute"]


def test_a_wait_for_anything_else_is_not_kept_so_the_re_check_reads_everything():
    detaching = replace(compute(), provisioning_state="Deleting")  # no operation autoattach holds
    assert capture(observation(owned=(detaching,)), [NAMESPACE_WRITE]) is None
    assert capture(observation(extension=None), [NAMESPACE_WRITE]) is None  # extension missing
    assert capture(observation(), [Pending("unknown", "", "")]) is None  # nothing to poll
    assert capture(observation(), []) is None  # not waiting on a write at all


def test_a_continuation_that_cannot_be_read_is_ignored():
    assert restore({"cluster": {"id": "../evil"}}) is None
    assert restore({}) is None
