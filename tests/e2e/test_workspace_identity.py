"""The workspace identity autoattach gives cluster rights to: Contributor too where the cluster's
Trusted Access binds the workspace (issue 18.5), and only the identity the attach policy names
for the workspace, never one a workspace contributor switched it to (issue 20.2)."""

from __future__ import annotations

from tests.e2e.conftest import ready_document, scenario_from, sweep
from tests.e2e.test_doctor import doctor, problems
from tests.e2e.test_lifecycle import (
    CLUSTER_WRITE,
    UAI,
    UAI_PRINCIPAL,
    aks,
    event,
    with_identity_workspace,
)

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
MINE = UAI.replace("/ws-id", "/someone-elses")
MINE_PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f55"


def held_by(sandbox, principal):
    return {
        (a["scope"].lower(), a["role_definition_id"].rsplit("/", 1)[-1])
        for a in sandbox.world.snapshot()["role_assignments"]
        if a["principal_id"] == principal
    }


def test_where_trusted_access_binds_the_workspace_its_identity_gets_contributor_and_attaches(
    sandbox_for,
):
    document = with_identity_workspace(ready_document())
    workspace = document["workspaces"][0]["id"]
    document["clusters"][0]["trusted_access"] = [workspace]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, aks(document), "x")]))
    report = sandbox.run_pass(0)
    assert report.deliveries[-1].outcome == "completed"
    assert (aks(document).lower(), CONTRIBUTOR) in held_by(sandbox, UAI_PRINCIPAL)
    states = {c["name"]: c["provisioning_state"] for c in sandbox.world.snapshot()["computes"]}
    assert set(states.values()) == {"Succeeded"}


def test_without_trusted_access_the_workspace_identity_gets_no_contributor(sandbox_for):
    document = with_identity_workspace(ready_document())
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, aks(document), "x")]))
    sandbox.run_pass(0)
    assert not any(role == CONTRIBUTOR for _s, role in held_by(sandbox, UAI_PRINCIPAL))


def switched(document):
    document["identities"].append(
        {"id": MINE, "principal_id": MINE_PRINCIPAL, "client_id": MINE_PRINCIPAL}
    )
    return document


def test_a_workspace_switched_to_another_identity_gets_it_no_cluster_rights_and_owners_hear(
    sandbox_for,
):
    document = switched(with_identity_workspace(ready_document()))
    workspace = document["workspaces"][0]["id"]
    sandbox = sandbox_for(scenario_from(document, [event(0, CLUSTER_WRITE, aks(document), "x")]))
    sandbox.run_pass(0)
    before = held_by(sandbox, UAI_PRINCIPAL)
    assert before  # the named identity got its cluster rights
    sandbox.world.apply_change(
        {"op": "set_workspace_identity", "workspace": workspace, "user_assigned_identity": MINE}
    )
    sweep(sandbox)
    assert held_by(sandbox, MINE_PRINCIPAL) == set()  # no cluster admin for the new identity
    assert held_by(sandbox, UAI_PRINCIPAL) == before  # the named one keeps its rights
    failed = [n for n in sandbox.topic.notifications if n["type"] == "Autoattach.AttachFailed"]
    assert any(MINE in n["data"]["problem"] for n in failed)


def test_doctor_shows_a_workspace_on_an_identity_the_policy_does_not_name():
    document = switched(with_identity_workspace(ready_document()))
    document["workspaces"][0]["identity"]["user_assigned_identity"] = MINE
    found = [c for c in problems(doctor(document)) if "identity" in c.subject]
    assert len(found) == 1
    assert MINE in found[0].detail and "workspace_identity" in found[0].fix


def test_doctor_says_contributor_is_granted_where_trusted_access_binds_the_workspace():
    document = with_identity_workspace(ready_document())
    document["clusters"][0]["trusted_access"] = [document["workspaces"][0]["id"]]
    checks = [c for c in doctor(document) if "rights of workspace" in c.subject]
    assert checks and "Contributor on" in checks[0].detail
