import json

from tests.e2e.conftest import demo_document

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def holds(report, principal, scope, role):
    return any(
        a["principal_id"] == principal
        and a["scope"].lower() == scope.lower()
        and a["role_definition_id"].lower().endswith(role)
        for a in report["world"]["role_assignments"]
    )


def test_every_allowed_workspace_of_the_tagged_cluster_gets_a_ready_compute(run_cli):
    code, out, _ = run_cli("sandbox", "--json")
    assert code == 0
    report = json.loads(out)
    demo = demo_document()
    tagged = demo["clusters"][0]["id"]
    untagged = demo["clusters"][1]["id"]
    workspaces = {w["id"].lower(): w for w in demo["workspaces"]}
    access = {r["workspace"].lower(): r["storage_access"] for r in demo["policy"]["workspaces"]}

    computes = report["world"]["computes"]
    assert {c["workspace"].lower() for c in computes} == set(workspaces)
    namespaces = {(n["cluster"].lower(), n["name"]) for n in report["world"]["namespaces"]}
    for compute in computes:
        assert compute["resource_id"].lower() == tagged.lower()
        assert (tagged.lower(), compute["namespace"]) in namespaces
        assert compute["identity_type"] == "system_assigned"
        workspace = workspaces[compute["workspace"].lower()]
        principal = compute["principal_id"]
        assert holds(report, principal, workspace["container_registry"], ACR_PULL)
        storage_role = (
            BLOB_CONTRIBUTOR if access[workspace["id"].lower()] == "read-write" else BLOB_READER
        )
        other_role = BLOB_READER if storage_role == BLOB_CONTRIBUTOR else BLOB_CONTRIBUTOR
        assert holds(report, principal, workspace["storage_account"], storage_role)
        assert not holds(report, principal, workspace["storage_account"], other_role)

    notifications = report["world"]["notifications"]
    assert len(notifications) == len(computes)
    assert {n["type"] for n in notifications} == {"Autoattach.ComputeAttached"}
    assert all(untagged.lower() not in str(c).lower() for c in computes)
    assert {
        n["cluster"].lower() for n in report["world"]["namespaces"] if "azureml" in n["name"]
    } == {tagged.lower()}
    assert [e for e in report["events"] if e["outcome"] == "dead-lettered"] == []
    assert any(e["outcome"] == "scheduled" and "Creating" in e["reason"] for e in report["events"])


def test_a_second_pass_over_the_same_events_writes_nothing_and_notifies_nobody(run_cli):
    code, out, _ = run_cli("sandbox", "--json", "--repeat", "2")
    assert code == 0
    report = json.loads(out)
    first, second = report["passes"]
    assert first["writes"] > 0
    assert second == {"reads": second["reads"], "writes": 0}
    assert second["reads"] > 0  # it did look: replays re-read Azure, they are not skipped
    assert len(report["world"]["notifications"]) == 2


def test_the_account_tells_step_by_step_what_happened(run_cli):
    code, out, _ = run_cli("sandbox")
    assert code == 0
    assert "is Creating" in out
    assert "created namespace azureml-research on aks-ml" in out
    assert "attached aks-ml as compute aks-ml in workspace ws-research" in out
    assert "granted Storage Blob Data Contributor on stprod" in out
    assert "Pass 1:" in out
