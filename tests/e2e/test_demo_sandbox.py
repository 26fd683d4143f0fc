"""The built-in demo, as a user runs it: `autoattach sandbox --json`."""

import json

import pytest

from shared.decisions.arm_id import ResourceId
from shared.decisions.policy import AttachPolicy, decide_attachments
from tests.e2e.conftest import demo_document

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
EXTENSION_CONTRIBUTOR = "85cb6faf-e071-4c9b-8136-154b5a04f717"
CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
RELAY_OWNER = "2787bf04-f1f5-4bfe-8383-c8a24483ee38"


@pytest.fixture(scope="module")
def report():
    import contextlib
    import io

    from console.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sandbox", "--json"]) == 0
    return json.loads(out.getvalue())


def same(a, b):
    return a.lower() == b.lower()


def holds(report, principal, scope, role):
    return any(
        a["principal_id"] == principal
        and same(a["scope"], scope)
        and a["role_definition_id"].lower().endswith(role)
        for a in report["world"]["role_assignments"]
    )


def cluster_named(name):
    return next(c for c in demo_document()["clusters"] if c["id"].endswith("/" + name))


def computes_on(report, cluster_id):
    return [c for c in report["world"]["computes"] if same(c["resource_id"], cluster_id)]


def test_every_allowed_workspace_of_a_tagged_cluster_gets_ready_computes(report):
    demo = demo_document()
    policy_text = json.dumps(demo["policy"]).replace("{sandbox_vault}", "https://kv.example")
    policy = AttachPolicy.from_json(policy_text)
    workspaces = {w["id"].lower(): w for w in demo["workspaces"]}
    namespaces = {(n["cluster"].lower(), n["name"]) for n in report["world"]["namespaces"]}
    for cluster in demo["clusters"]:
        cluster_id = ResourceId.parse(cluster["id"])
        if not any(c["id"] == cluster["id"] and c["exists"] for c in report["world"]["clusters"]):
            continue
        tags = cluster["tags"]
        if cluster_id.name == "aks-late":  # tagged later by the demo's events
            tags = {"azureml-attach": "ws-prod"}
        wanted = decide_attachments(cluster_id, tags, "azureml-attach", policy).attachments
        found = {(c["workspace"].lower(), c["name"]) for c in computes_on(report, cluster["id"])}
        assert {(a.workspace_id.key, a.compute_name) for a in wanted} <= found
        for attachment in wanted:
            compute = next(
                c
                for c in computes_on(report, cluster["id"])
                if same(c["workspace"], attachment.workspace_id.raw)
                and c["name"] == attachment.compute_name
            )
            assert (cluster_id.key, compute["namespace"]) in namespaces
            workspace = workspaces[attachment.workspace_id.key]
            principal = compute["principal_id"]
            assert holds(report, principal, workspace["container_registry"], ACR_PULL)
            right = BLOB_CONTRIBUTOR if attachment.storage_access == "read-write" else BLOB_READER
            assert holds(report, principal, workspace["storage_account"], right)


def test_one_attached_notification_per_attachment_and_no_dead_letters(report):
    attached = [
        n for n in report["world"]["notifications"] if n["type"] == "Autoattach.ComputeAttached"
    ]
    subjects = [n["subject"].lower() for n in attached]
    assert len(subjects) == len(set(subjects))
    ours = [c for c in report["world"]["computes"] if c["name"] != "by-hand"]
    deleted = cluster_named("aks-old")["id"]
    assert len(attached) == len(ours) + 1  # the deleted cluster's compute was attached first
    assert any(deleted.split("/")[-1] in s for s in subjects)
    assert [e for e in report["events"] if e["outcome"] == "dead-lettered"] == []


def test_the_untagged_cluster_gets_nothing_at_all(report):
    web = cluster_named("aks-web")["id"]
    assert computes_on(report, web) == []
    assert {n["name"] for n in report["world"]["namespaces"] if same(n["cluster"], web)} == {
        "default",
        "kube-system",
    }
    assert not any(same(a["scope"], web) for a in report["world"]["role_assignments"])
    assert not any("aks-web" in n["subject"] for n in report["world"]["notifications"])


def test_every_arm_request_of_the_demo_was_checked_against_the_published_types(report):
    contracts = report["contracts"]
    assert contracts["violations"] == []  # neither refused requests nor answers off their type
    assert contracts["checked"] == sum(report["requests"].values())  # reads, polls and writes
    assert contracts["typed"] > 0


def test_clusters_are_listed_with_their_kind_and_whether_they_exist(report):
    kinds = {
        c["id"].rsplit("/", 1)[-1]: (c["kind"], c["exists"]) for c in report["world"]["clusters"]
    }
    assert kinds == {
        "aks-ml": ("aks", True),
        "aks-web": ("aks", True),
        "arc-edge": ("arc", True),
        "aks-late": ("aks", True),
        "aks-old": ("aks", False),
    }


def test_the_arc_clusters_computes_run_in_namespaces_of_its_kubernetes_api(report):
    arc = cluster_named("arc-edge")["id"]
    computes = computes_on(report, arc)
    assert len(computes) == 2  # one workspace, two computes, each in its own namespace
    assert len({c["namespace"] for c in computes}) == 2
    api_namespaces = {n["name"] for n in report["world"]["namespaces"] if same(n["cluster"], arc)}
    assert {c["namespace"] for c in computes} <= api_namespaces


def test_a_user_assigned_compute_reports_that_identity_and_its_principal_holds_the_roles(report):
    demo = demo_document()
    jobs = next(i for i in demo["identities"] if i["id"].endswith("uai-edge-jobs"))
    edge = next(w for w in demo["workspaces"] if w["id"].endswith("ws-edge"))
    user_assigned = [
        c for c in report["world"]["computes"] if c["identity_type"] == "user_assigned"
    ]
    assert {c["name"] for c in user_assigned} == {"arc-edge-train", "aks-ml-train"}
    for compute in user_assigned:
        assert compute["principal_id"] == jobs["principal_id"]
    assert holds(report, jobs["principal_id"], edge["container_registry"], ACR_PULL)
    assert holds(report, jobs["principal_id"], edge["storage_account"], BLOB_CONTRIBUTOR)


def test_the_workspace_identity_holds_what_attach_needs_on_each_cluster_it_joined(report):
    demo = demo_document()
    workspace_identity = next(i for i in demo["identities"] if i["id"].endswith("uai-ws-edge"))
    principal = workspace_identity["principal_id"]
    joined = {c["resource_id"] for c in report["world"]["computes"] if "ws-edge" in c["workspace"]}
    assert len(joined) == 2
    for cluster_id in joined:
        for role in (READER, EXTENSION_CONTRIBUTOR, CLUSTER_ADMIN):
            assert holds(report, principal, cluster_id, role)
    relay_grants = [
        a
        for a in report["world"]["role_assignments"]
        if a["principal_id"] == principal and a["role_definition_id"].lower().endswith(RELAY_OWNER)
    ]
    assert len(relay_grants) == 1
    assert "/providers/Microsoft.Relay/namespaces/" in relay_grants[0]["scope"]
    assert "/resourceGroups/rg-edge/" in relay_grants[0]["scope"]


def test_the_deleted_cluster_keeps_no_computes_and_no_role_assignments_for_them(report):
    deleted = cluster_named("aks-old")["id"]
    assert computes_on(report, deleted) == []
    live_principals = {c["principal_id"] for c in report["world"]["computes"]}
    workspace_principals = {i["principal_id"] for i in demo_document()["identities"]}
    for assignment in report["world"]["role_assignments"]:
        assert assignment["principal_id"] in live_principals | workspace_principals
    detached = [
        n for n in report["world"]["notifications"] if n["type"] == "Autoattach.ComputeDetached"
    ]
    assert [n["subject"].rsplit("/", 1)[-1] for n in detached] == ["aks-old"]


def test_a_compute_made_by_hand_is_untouched(report):
    by_hand = next(c for c in demo_document()["computes"] if c["name"] == "by-hand")
    found = [c for c in report["world"]["computes"] if c["name"] == "by-hand"]
    assert len(found) == 1
    assert same(found[0]["resource_id"], by_hand["resource_id"])
    assert found[0]["namespace"] == by_hand["namespace"]
    assert not any(
        a["principal_id"] == found[0]["principal_id"] for a in report["world"]["role_assignments"]
    )


def test_the_extension_is_installed_where_policy_says_and_then_the_cluster_is_attached(report):
    late = cluster_named("aks-late")["id"]
    assert [c["name"] for c in computes_on(report, late)] == ["aks-late-prod"]
    assert any(
        n["type"] == "Autoattach.ExtensionInstalling" for n in report["world"]["notifications"]
    )
    assert any("installing the Azure ML extension" in e["reason"] for e in report["events"])


def test_a_second_pass_over_the_same_events_writes_nothing_and_notifies_nobody(run_cli):
    code, out, _ = run_cli("sandbox", "--json", "--repeat", "2")
    assert code == 0
    twice = json.loads(out)
    first, second = twice["passes"]
    assert first["writes"] > 0
    assert second["writes"] == 0
    assert second["reads"] > 0  # it did look: replays re-read Azure, they are not skipped
    once_notified = len(twice["world"]["notifications"])
    code, out, _ = run_cli("sandbox", "--json")
    assert once_notified == len(json.loads(out)["world"]["notifications"])


def test_the_account_tells_step_by_step_what_happened(run_cli):
    code, out, _ = run_cli("sandbox")
    assert code == 0
    assert "is Creating" in out
    assert "asked ARM for managed namespace azureml-research" in out
    assert "created namespace edge-train on arc-edge (via kubernetes)" in out
    assert "attached aks-ml as compute aks-ml in workspace ws-research" in out
    assert "granted Azure Relay Owner on" in out
    assert "detached compute aks-old from workspace ws-research: cluster aks-old was deleted" in out
    assert "Pass 1:" in out


def test_the_demo_on_exactly_what_infra_grants_converges_with_no_request_refused(run_cli):
    code, out, _ = run_cli("sandbox", "--least-privilege")

    assert code == 0
    assert "ARM authorized every request against the world's role assignments: 0 refused" in out
    assert "notified Autoattach.ComputeAttached" in out
