"""An Azure ML extension that ends Failed after autoattach read it: Azure then answers the attach
that the extension "is not installed or not in Succeeded state", which right after fresh cluster
roles may also mean the roles have not taken effect yet. The extension's own state decides: its
owners are told it failed at the first look that reads it, nothing is blamed on role
propagation as a fact, and no compute is detached to be attached again meanwhile."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ready_document, scenario_from
from tests.e2e.test_lifecycle import CLUSTER_WRITE, aks, computes, event, with_identity_workspace


@pytest.mark.parametrize("attach_failures", ["refusal", "operation"])
def test_an_extension_that_fails_after_it_was_read_is_reported_as_failed_not_as_propagation(
    sandbox_for, attach_failures
):
    document = with_identity_workspace(ready_document(realistic_timing=True))
    document["attach_failures"] = attach_failures
    document["role_propagation_seconds"] = 300
    failed = {
        "op": "set_extension_state",
        "cluster": aks(document),
        "name": "azureml",
        "provisioning_state": "Failed",
    }
    # read Succeeded by the first delivery (which grants the workspace identity its cluster
    # roles and waits a re-check for them), Failed a second later: the attach that follows is
    # refused, or its operation fails, with "not installed or not in Succeeded state"
    steps = [event(0, CLUSTER_WRITE, aks(document), "x"), {"at": 1, "change": failed}]
    sandbox = sandbox_for(scenario_from(document, steps))
    report = sandbox.run_pass(0)
    deliveries = report.deliveries
    assert not any(d.reason.startswith("RecheckLimitReached") for d in deliveries)
    # what autoattach could not know is not told as a fact
    assert not any("not installed although it is" in d.reason for d in deliveries)
    # the attach (refused, or failed by its operation), then the look that reads the extension
    # tells the owners: the first delivery waits for the roles, the second attaches
    assert [d.outcome for d in deliveries] == ["scheduled", "scheduled", "dead-lettered"]
    assert "azureml" in deliveries[-1].reason and "ended Failed" in deliveries[-1].reason
    told = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]
    last = {n["subject"].rsplit("/", 1)[-1]: n["data"]["problem"] for n in told}
    assert set(last) == {"ws-research", "ws-prod"}
    assert all("ended Failed; fix or reinstall it" in problem for problem in last.values())
    # a refused attach is told as Azure answered it, its causes hedged, before the extension's
    # state decides; an attach that Azure failed is not blamed on propagation at all
    hedged = [
        n["data"]["problem"] for n in told if "may not have taken effect" in n["data"]["problem"]
    ]
    if attach_failures == "operation":
        assert hedged == []
    assert all("or the extension changed since" in problem for problem in hedged)
    # a compute whose attach Azure failed is left Failed for its owners to see why, not
    # detached to be attached again while the extension it needs has failed
    detaches = [r for r in sandbox.arm.log if r.method == "DELETE" and "/computes/" in r.path]
    assert detaches == []
    states = {n: c["provisioning_state"] for n, c in computes(sandbox).items()}
    made = {} if attach_failures == "refusal" else {"aks-ml": "Failed", "aks-ml-prod": "Failed"}
    assert states == made


EXTENSION_WRITE = "Microsoft.KubernetesConfiguration/extensions/write"


def converged_then(sandbox_for, change, operation=EXTENSION_WRITE):
    """The example cluster converged at 0; at 100 ``change`` befalls its Azure ML extension and
    ARM sends the extension's event at 101."""
    document = ready_document()
    extension = f"{aks(document)}/providers/Microsoft.KubernetesConfiguration/extensions/azureml"
    steps = [event(0, CLUSTER_WRITE, aks(document), "created")]
    if change is not None:
        steps.append({"at": 100, "change": {**change, "cluster": aks(document), "name": "azureml"}})
    steps.append(event(101, operation, extension, "extension-changed"))
    sandbox = sandbox_for(scenario_from(document, steps))
    return sandbox, sandbox.run_pass(0)


def test_an_extension_that_fails_after_convergence_is_told_at_its_own_event_not_the_next_sweep(
    sandbox_for,
):
    failed = {"op": "set_extension_state", "provisioning_state": "Failed"}
    sandbox, report = converged_then(sandbox_for, failed)

    last = report.deliveries[-1]
    assert last.outcome == "dead-lettered"
    assert "azureml" in last.reason and "ended Failed" in last.reason
    told = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]
    assert {n["subject"].rsplit("/", 1)[-1] for n in told} == {"ws-research", "ws-prod"}
    assert states_of(sandbox) == {"aks-ml": "Succeeded", "aks-ml-prod": "Succeeded"}


def test_an_extension_updating_after_convergence_is_watched_until_it_settles(sandbox_for):
    updating = {  # from 100 s to 190 s of virtual time
        "op": "set_extension_state",
        "provisioning_state": "Updating",
        "succeeds_after_seconds": 190,
    }
    sandbox, report = converged_then(sandbox_for, updating)

    after = [d for d in report.deliveries if d.at >= 101]
    assert after[0].outcome == "scheduled" and "Updating" in after[0].reason
    assert after[-1].outcome == "completed"
    assert not [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]


def test_an_extension_event_on_a_converged_cluster_reads_the_extension_and_nothing_else(
    sandbox_for,
):
    sandbox, report = converged_then(sandbox_for, None)

    assert report.deliveries[-1].outcome == "completed"
    read = [e.path.rsplit("/", 1)[-1] for e in sandbox.arm.log if e.at >= 101]
    assert read == ["aks-ml", "extensions"]  # the cluster, then its extensions


def states_of(sandbox):
    return {n: c["provisioning_state"] for n, c in computes(sandbox).items()}
