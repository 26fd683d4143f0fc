"""A compute that flaps (issue 19.4): two computes the policy wants under one name would replace
each other at every look, dozens of PUTs and DELETEs per sweep. The policy check refuses such
templates when it loads; should a collision reach a reconcile anyway (a policy built in code, a
case the check cannot foresee), autoattach writes that compute a bounded number of times per look
and tells the owners why."""

from dataclasses import replace

from sandbox.scenario import arm_event
from shared.decisions.arm_id import ResourceId
from shared.decisions.model import ComputeIdentity, IdentityType
from shared.decisions.policy import ComputeTemplate
from shared.engine.run import MAX_COMPUTE_WRITES
from shared.wiring import current_app
from tests.e2e.conftest import ready_document, scenario_from, sweep

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
SYSTEM = ComputeIdentity(IdentityType.SYSTEM_ASSIGNED)


def colliding_sandbox(sandbox_for):
    """aks-ml tagged for ws-research, whose rule asks for two computes that are both named
    after the cluster, one in namespace team-a and one in team-b."""
    document = ready_document(realistic_timing=True)
    cluster = document["clusters"][0]
    cluster["tags"]["azureml-attach"] = "ws-research"
    steps = [{"at": 0, "event": arm_event(CLUSTER_WRITE, cluster["id"], event_id="write")}]
    sandbox = sandbox_for(scenario_from(document, steps))
    services = current_app().services
    rule = services.policy.rule_for(ResourceId.parse(document["workspaces"][0]["id"]))
    assert rule is not None
    twins = (
        ComputeTemplate("{cluster}", "team-a", SYSTEM),
        ComputeTemplate("{cluster}", "team-b", SYSTEM),
    )
    others = tuple(r for r in services.policy.workspaces if r is not rule)
    services.policy = replace(services.policy, workspaces=(replace(rule, computes=twins), *others))
    return sandbox


def compute_writes(sandbox):
    """The compute PUTs and DELETEs of the last pass (the double's log starts again each pass)."""
    return [
        f"{r.method} {r.path.rsplit('/', 1)[-1]}"
        for r in sandbox.arm.log
        if "/computes/" in r.path and r.method in ("PUT", "DELETE")
    ]


def test_a_compute_two_templates_share_is_written_a_bounded_number_of_times_and_owners_told_why(
    sandbox_for,
):
    sandbox = colliding_sandbox(sandbox_for)

    report = sandbox.run_pass(0)

    assert len(compute_writes(sandbox)) <= MAX_COMPUTE_WRITES
    assert [d.outcome for d in report.deliveries][-1] == "dead-lettered"
    failed = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]
    assert failed, "the owners must be told"
    problem = failed[-1]["data"]["problem"]
    assert "aks-ml" in problem and "same name" in problem


def test_each_sweep_over_a_flapping_compute_stays_bounded(sandbox_for):
    sandbox = colliding_sandbox(sandbox_for)
    sandbox.run_pass(0)
    for _ in range(3):
        sweep(sandbox)
        assert len(compute_writes(sandbox)) <= MAX_COMPUTE_WRITES, compute_writes(sandbox)
