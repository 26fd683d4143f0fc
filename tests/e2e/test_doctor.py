"""``autoattach doctor`` against the sandbox: clean on the healthy example world, and each way
the world can be broken is reported as a problem with what to do. Doctor never writes."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from console.commands.doctor import doctor_in_sandbox
from console.doctor import events, grants
from console.doctor.report import Check, Status
from shared.decisions.arm_id import ResourceId
from tests.e2e.conftest import assert_contracts_kept, simple_document, write_json

ROOT = Path(__file__).resolve().parents[2]
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
ARC = (
    f"/subscriptions/{SUB}/resourceGroups/rg-platform/providers/Microsoft.Kubernetes/"
    "connectedClusters/arc-lab"
)


def doctor(document: dict[str, Any], cluster: str | None = None) -> list[Check]:
    """Run doctor on the world; assert it wrote nothing and kept the published contracts."""
    checks, requests = doctor_in_sandbox(
        document, "test world", ResourceId.parse(cluster) if cluster else None
    )
    assert requests["arm"]["writes"] == 0
    counts = requests["arm"]
    assert_contracts_kept(requests["contracts"], counts["reads"] + counts["polls"])
    return checks


def problems(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status is Status.PROBLEM]


def only_problem(checks: list[Check]) -> Check:
    found = problems(checks)
    assert len(found) == 1, [f"{c.subject}: {c.detail}" for c in found]
    return found[0]


def assignment_named(document: dict[str, Any], description_start: str) -> dict[str, Any]:
    return next(
        a for a in document["role_assignments"] if a["description"].startswith(description_start)
    )


def test_the_example_world_is_healthy_and_doctor_exits_0_without_writing(run_cli):
    code, out, _ = run_cli("doctor", "--world", "docs/examples/world.json", "--output", "json")
    report = json.loads(out)
    assert code == 0, [c for c in report["checks"] if c["status"] != "ok"]
    assert report["problems"] == 0
    assert all(c["status"] == "ok" for c in report["checks"])
    assert report["sandbox"]["arm"]["writes"] == 0
    assert report["sandbox"]["contracts"]["violations"] == []
    areas = {c["area"] for c in report["checks"]}
    assert areas == {
        "settings", "policy", "deployment", "workspaces", "permissions", "events", "queues",
        "notifications", "clusters",
    }  # fmt: skip


def test_a_missing_role_is_named_with_the_az_command_that_grants_it():
    document = simple_document()
    document["role_assignments"].remove(
        assignment_named(document, "autoattach: publish owner notifications")
    )
    checks = doctor(document)
    missing = [c for c in problems(checks) if c.area == "permissions"]
    assert len(missing) == 1
    principal = document["autoattach"]["principal_id"]
    topic = document["event_grid_topics"][0]["id"]
    assert missing[0].fix == (
        f"az role assignment create --assignee-object-id {principal} "
        "--assignee-principal-type ServicePrincipal "
        f"--role {grants.EVENTGRID_DATA_SENDER} --scope {topic}"
    )
    notice = next(c for c in checks if c.area == "notifications")
    assert notice.status is Status.PROBLEM and "may not publish" in notice.detail


def test_a_missing_custom_role_assignment_names_the_subscriptions_custom_role():
    document = simple_document()
    document["role_assignments"].remove(assignment_named(document, "autoattach: read clusters"))
    check = only_problem(doctor(document))
    operator = next(d for d in document["role_definitions"] if "cluster operator" in d["role_name"])
    assert check.subject == f"autoattach cluster operator at /subscriptions/{SUB}"
    assert f"--role {operator['id'].rsplit('/', 1)[-1]} --scope /subscriptions/{SUB}" in check.fix


def test_a_role_delegator_without_its_condition_is_more_than_the_deployment_meant():
    document = simple_document()
    assignment_named(document, "autoattach: grant and revoke only AcrPull").pop("condition")
    check = only_problem(doctor(document))
    assert "no ABAC condition" in check.detail
    assert "--condition-version 2.0" in check.fix and grants.DATA_GRANTABLE[0].value in check.fix


def with_workspace_identity(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """ws-research under a user-assigned identity, and the subscription-wide delegator of the
    cluster roles infra/ then gives autoattach (to that identity only); its principal id."""
    principal = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    identity = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-research"  # noqa: E501
    document.setdefault("identities", []).append(
        {"id": identity, "principal_id": principal, "client_id": "c" + principal[1:]}
    )
    document["workspaces"][0]["identity"] = {
        "type": "UserAssigned",
        "user_assigned_identity": identity,
    }
    document["policy"]["workspaces"][0]["workspace_identity"] = identity  # the policy names it
    app = document["autoattach"]["principal_id"]
    delegator = assignment_named(document, "autoattach: grant and revoke only AcrPull")
    document["role_assignments"].append(
        {
            **delegator,
            "scope": f"/subscriptions/{SUB}",
            "name": "0d7c5a1e-2b8f-4c3d-9e6a-1f2b3c4d5e6f",
            "description": "autoattach: grant and revoke only the cluster roles attach needs",
            "condition": grants.condition_for(grants.CLUSTER_GRANTABLE, app, [principal]),
        }
    )
    return document, principal


def test_a_workspace_identity_makes_doctor_expect_the_cluster_role_delegator_for_it_only():
    document, principal = with_workspace_identity(simple_document())
    checks = doctor(document)
    assert problems(checks) == []
    held = next(
        c for c in checks if c.subject == f"autoattach role delegator at /subscriptions/{SUB}"
    )
    assert held.status is Status.OK
    document["role_assignments"][-1]["condition"] = grants.condition_for(
        grants.CLUSTER_GRANTABLE, document["autoattach"]["principal_id"]
    )
    check = only_problem(doctor(document))
    assert check.subject == f"autoattach role delegator at /subscriptions/{SUB}"
    assert "to any service principal" in check.detail
    assert principal in check.fix


def test_a_missing_data_role_delegator_is_reported_missing_and_no_fix_deletes_what_the_app_needs():
    document, _ = with_workspace_identity(simple_document())
    delegator = assignment_named(document, "autoattach: grant and revoke only the Storage Blob")
    document["role_assignments"].remove(delegator)
    checks = doctor(document)
    check = only_problem(checks)
    assert check.subject == f"autoattach role delegator at {delegator['scope']}"
    assert check.detail.startswith("missing (grant storage data roles)")
    assert check.fix.startswith("az role assignment create ")
    assert f"--scope {delegator['scope']}" in check.fix
    assert all(role.value in check.fix for role in grants.STORAGE_GRANTABLE)
    assert not any("az role assignment delete" in c.fix for c in checks)
    subscription_wide = f"autoattach role delegator at /subscriptions/{SUB}"
    assert next(c for c in checks if c.subject == subscription_wide).status is Status.OK


def test_a_role_the_deployment_does_not_grant_is_reported_with_its_removal():
    document = simple_document()
    extra = dict(assignment_named(document, "autoattach: publish owner notifications"))
    extra.update(
        scope=f"/subscriptions/{SUB}",
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
        "roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
        name="6f1d0a77-3c5e-4b8a-9f2e-0c4d6b8a1e35",
    )
    document["role_assignments"].append(extra)
    check = only_problem(doctor(document))
    assert "does not grant it" in check.detail
    assert check.fix.startswith("remove it: az role assignment delete --ids /subscriptions/")


def test_a_workspace_open_to_a_whole_subscription_is_warned_about_but_doctor_still_exits_0(
    run_cli, tmp_path
):
    document = simple_document()
    document["policy"]["workspaces"][0]["clusters"] = [f"/subscriptions/{SUB}"]
    code, out, _ = run_cli("doctor", "--world", str(write_json(tmp_path / "w.json", document)))
    assert code == 0
    warned = [line for line in out.splitlines() if line.startswith("warning")]
    assert len(warned) == 1
    assert f"ws-research cluster scope /subscriptions/{SUB}" in warned[0]
    assert "whoever may write tags on any cluster" in warned[0]
    assert "1 warning(s)" in out.splitlines()[-2]


def test_a_failed_system_topic_is_a_problem():
    document = simple_document()
    document["system_topics"][0]["provisioning_state"] = "Failed"
    check = only_problem(doctor(document))
    assert check.area == "events" and "Failed, not Succeeded" in check.detail


def test_a_missing_system_topic_leaves_the_subscription_unwatched():
    document = simple_document()
    document["system_topics"] = []
    check = only_problem(doctor(document))
    assert check.subject == f"system topic of subscription {SUB}"


def test_an_event_subscription_filter_that_leaves_out_tag_writes_is_a_problem():
    document = simple_document()
    subscription = document["system_topics"][0]["event_subscriptions"][0]
    subscription["advanced_filters"][0]["values"].remove("Microsoft.Resources/tags/write")
    check = only_problem(doctor(document))
    assert "leaves out Microsoft.Resources/tags/write" in check.detail


def test_an_event_subscription_to_another_queue_leaves_this_one_without_events():
    document = simple_document()
    subscription = document["system_topics"][0]["event_subscriptions"][1]
    subscription["queue"] = subscription["queue"].replace("extension-events", "elsewhere")
    check = only_problem(doctor(document))
    assert check.subject.endswith("to queue extension-events")


def test_a_queue_without_duplicate_detection_is_a_problem():
    document = simple_document()
    document["service_bus_namespaces"][0]["queues"][0]["requires_duplicate_detection"] = False
    check = only_problem(doctor(document))
    assert check.subject == "queue cluster-events" and "duplicate detection is off" in check.detail


def test_a_queue_with_another_delivery_count_and_lock_is_a_problem():
    document = simple_document()
    queue = document["service_bus_namespaces"][0]["queues"][1]
    queue.update(max_delivery_count=10, lock_duration="PT1M")
    check = only_problem(doctor(document))
    assert "lock duration PT1M" in check.detail and "max delivery count 10" in check.detail


def test_dead_letters_are_counted_per_queue(tmp_path):
    from console.doctor.run import Target, run_checks
    from sandbox.runner import Sandbox
    from sandbox.scenario import Scenario, split_world_file
    from sandbox.servicebus_double import DeadLetterQueues

    world, policy, tag_key = split_world_file(simple_document(), "test world")
    scenario = Scenario(world=world, policy=policy, steps=(), tag_key=tag_key)
    with Sandbox(scenario) as sandbox:
        queue = sandbox.bus.queues["cluster-events"]
        queue.send(b"not an event", message_id="broken-1")
        sandbox.deliver_pending()  # malformed: dead-lettered at once
        sandbox.arm.reset_counts()
        from sandbox.credential import SandboxCredential

        checks = run_checks(
            Target(
                env=sandbox.app_settings(),
                credential=SandboxCredential(),
                principal_id=world["autoattach"]["principal_id"],
                resource_group=ResourceId.parse(world["autoattach"]["resource_group"]),
                dead_letters=lambda _s: DeadLetterQueues(sandbox.bus),
            )
        )
        assert sandbox.arm.split_counts["writes"] == 0
    check = only_problem(checks)
    assert check.subject == "dead letters of cluster-events" and check.detail.startswith("1 ")
    assert "autoattach dead-letters list --queue cluster-events" in check.fix


def test_an_unreadable_storage_account_of_a_workspace_is_a_problem():
    document = simple_document()
    research = document["workspaces"][0]["storage_account"]
    document["storage_accounts"] = [s for s in document["storage_accounts"] if s["id"] != research]
    check = only_problem(doctor(document))
    assert check.subject == "ws-research storage account" and "does not exist" in check.detail


def test_a_missing_workspace_is_a_problem():
    document = simple_document()
    document["workspaces"] = document["workspaces"][1:]
    document["role_assignments"] = [
        a for a in document["role_assignments"] if not a["scope"].endswith("ws-research")
    ]
    found = [c for c in problems(doctor(document)) if c.area in ("workspaces", "permissions")]
    assert [c.subject for c in found if c.area == "workspaces"] == ["ws-research"]


def test_a_refused_tag_entry_is_reported_with_why():
    document = simple_document()
    document["clusters"][0]["tags"]["azureml-attach"] = "ws-research,ws-typo"
    check = only_problem(doctor(document))
    assert "entry 'ws-typo' is refused: no workspace of the policy has that name" in check.detail


def test_a_tag_entry_for_a_workspace_not_allowed_here_says_where_it_is_allowed():
    document = simple_document()
    document["policy"]["workspaces"][1]["clusters"] = [f"/subscriptions/{SUB}/resourceGroups/rg-x"]
    check = only_problem(doctor(document))
    assert "allows workspace ws-prod only for clusters under" in check.detail


def test_a_missing_extension_on_a_cluster_the_policy_waits_for_is_a_problem():
    document = simple_document()
    document["clusters"][0]["extensions"] = []
    check = only_problem(doctor(document))
    assert check.subject == "aks-ml Azure ML extension" and "not installed" in check.detail
    assert check.fix.startswith("az k8s-extension create --cluster-type managedClusters")


def test_a_failed_extension_is_a_problem():
    document = simple_document()
    extension = document["clusters"][0]["extensions"][0]
    extension.update(provisioning_state="Failed")
    extension.pop("succeeds_after_seconds")
    check = only_problem(doctor(document))
    assert "is Failed" in check.detail


def test_aks_without_azure_rbac_or_kubeconfig_has_no_way_to_make_namespaces():
    document = simple_document()
    document["clusters"][0]["azure_rbac"] = False
    check = only_problem(doctor(document))
    assert check.subject == "aks-ml namespaces" and "--enable-azure-rbac" in check.fix


def _arc_world(**extension: Any) -> dict[str, Any]:
    document = simple_document()
    document["clusters"].append(
        {
            "id": ARC,
            "location": "westeurope",
            "tags": {"azureml-attach": "ws-research"},
            "extensions": [
                {
                    "name": "azureml",
                    "extension_type": "Microsoft.AzureML.Kubernetes",
                    "relay": True,
                    **extension,
                }
            ],
        }
    )
    document["policy"]["clusters"] = [
        {"scope": ARC, "kubeconfig_secret": "{sandbox_vault}/secrets/kubeconfig-arc-lab"}
    ]
    return document


def test_a_healthy_arc_cluster_shows_its_relay_connectivity_and_kubeconfig():
    checks = doctor(_arc_world(), cluster=ARC)
    assert problems(checks) == []
    subjects = {c.subject for c in checks if c.area == "clusters"}
    assert {"arc-lab Azure Relay", "arc-lab Arc connectivity", "arc-lab namespaces"} <= subjects


def test_an_offline_arc_cluster_is_a_problem():
    document = _arc_world()
    document["clusters"][-1]["connectivity_status"] = "Offline"
    found = problems(doctor(document, cluster=ARC))
    assert "arc-lab Arc connectivity" in {c.subject for c in found}


def test_an_arc_extension_without_a_relay_is_a_problem():
    document = _arc_world(relay=False)
    found = problems(doctor(document, cluster=ARC))
    assert any("names no relay" in c.detail for c in found)


def test_an_unsafe_kubeconfig_is_refused_as_the_app_would_refuse_it(monkeypatch):
    from sandbox.kubernetes_double import KubernetesApiDouble

    original = KubernetesApiDouble.add_cluster

    def unsafe(self, cluster_id, namespaces):  # the platform team left TLS checks off
        text = original(self, cluster_id, namespaces)
        return text.replace("certificate-authority-data:", "insecure-skip-tls-verify: true\n    x:")

    monkeypatch.setattr(KubernetesApiDouble, "add_cluster", unsafe)
    check = only_problem(doctor(_arc_world(), cluster=ARC))
    assert check.subject == "arc-lab namespaces" and "unsafe" in check.detail


def test_cluster_limits_the_cluster_checks_to_that_cluster():
    checks = doctor(_arc_world(), cluster=ARC)
    assert {c.subject.split(" ")[0] for c in checks if c.area == "clusters"} == {"arc-lab"}


def test_missing_settings_are_a_problem_line_not_a_crash(run_cli, tmp_path, monkeypatch):
    for name in ("SERVICEBUS_CONNECTION__fullyQualifiedNamespace", "ATTACH_POLICY"):
        monkeypatch.delenv(name, raising=False)
    settings = write_json(
        tmp_path / "settings.json", [{"name": "CLUSTER_EVENTS_QUEUE", "value": "q"}]
    )
    code, out, _ = run_cli("doctor", "--settings", str(settings))
    assert code == 1
    assert out.startswith("problem      settings: app settings: missing app settings:")


def test_an_invalid_policy_is_reported_as_the_app_would_refuse_it(run_cli, tmp_path):
    document = simple_document()
    document["policy"]["workspaces"][0]["storage_acess"] = "read-write"
    code, out, _ = run_cli("doctor", "--world", str(write_json(tmp_path / "w.json", document)))
    assert code == 1
    assert "problem      policy: attach policy:" in out and "storage_acess" in out


def test_wrong_input_exits_2_naming_it(run_cli, tmp_path):
    code, _, err = run_cli("doctor", "--world", str(tmp_path / "nowhere.json"))
    assert code == 2 and "nowhere.json" in err
    code, _, err = run_cli("doctor", "--world", "docs/examples/world.json", "--cluster", "aks")
    assert code == 2 and "--cluster" in err


def test_help_text_names_every_area_and_exit_status(capsys):
    from console.cli import main

    with pytest.raises(SystemExit):
        main(["doctor", "--help"])
    out = capsys.readouterr().out
    for area in ("settings", "policy", "workspaces", "permissions", "events", "queues",
                 "notifications", "clusters"):  # fmt: skip
        assert f"\n  {area}" in out
    assert "Exit status: 0 when no check is a problem (warnings do not count), 1 when any" in out


# ---- the expected set in code is the one infra/ deploys -------------------------------------


def _bicep_list(text: str, name: str) -> list[str]:
    block = re.search(rf"var {name} = \[(.*?)\n\]", text, re.S)
    assert block is not None, name
    return re.findall(r"^\s*'([^']+)'", block.group(1), re.M)


def test_the_custom_roles_doctor_expects_are_those_infra_defines():
    text = (ROOT / "infra/modules/custom-roles.bicep").read_text()
    for key, variable in (
        ("cluster operator", "clusterOperatorActions"),
        ("compute operator", "computeOperatorActions"),
        ("role delegator", "roleDelegatorActions"),
        ("assignment reader", "assignmentReaderActions"),
        ("operation reader", "operationReaderActions"),
    ):
        assert list(grants.CUSTOM_ROLES[key]) == _bicep_list(text, variable)


def test_the_conditions_doctor_offers_are_the_ones_infra_sets():
    text = (ROOT / "infra/abac/rbac-admin-condition.txt").read_text()
    assert " ".join(text.split()) == " ".join(grants.CONDITION_TEMPLATE.split())
    text = (ROOT / "infra/abac/cluster-roles-condition.txt").read_text()
    assert " ".join(text.split()) == " ".join(grants.CLUSTER_CONDITION_TEMPLATE.split())


def test_the_filters_and_queue_settings_doctor_expects_are_those_infra_deploys():
    subscriptions = (ROOT / "infra/modules/event-subscriptions.bicep").read_text()
    assert _bicep_list(subscriptions, "clusterOperations") == list(events.CLUSTER_OPERATIONS)
    assert _bicep_list(subscriptions, "extensionOperations") == list(events.EXTENSION_OPERATIONS)
    assert _bicep_list(subscriptions, "eventTypes") == list(events.EVENT_TYPES)
    bus = (ROOT / "infra/modules/servicebus.bicep").read_text()
    assert f"var lockDuration = '{events.LOCK_DURATION}'" in bus
    assert f"var maxDeliveryCount = {events.MAX_DELIVERY_COUNT}" in bus
    assert "var duplicateDetectionWindow = 'P1D'" in bus


def test_the_built_in_roles_doctor_expects_are_those_infra_grants():
    text = (ROOT / "infra/modules/app-access.bicep").read_text()
    for guid in (
        grants.STORAGE_BLOB_DATA_OWNER,
        grants.SERVICE_BUS_DATA_OWNER,
        grants.EVENTGRID_DATA_SENDER,
        grants.MONITORING_METRICS_PUBLISHER,
    ):
        assert guid in text
    assert (
        grants.MANAGED_IDENTITY_OPERATOR
        in (ROOT / "infra/modules/identity-access.bicep").read_text()
    )


def test_doctor_leaves_the_world_as_it_was():
    document = simple_document()
    before = copy.deepcopy(document)
    doctor(document)
    assert document == before
