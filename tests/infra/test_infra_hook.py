"""The preprovision hook derives the deployment's lists from the attach policy (issue 10)."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import uuid

import pytest
import yaml

from sandbox.arm_double import ArmDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.tls import SandboxTls
from sandbox.world import World
from tests.infra.bicep_model import ROOT

# The hook is a script azd runs (infra/ is not a package): load it from its file.
_spec = importlib.util.spec_from_file_location("policy_env", ROOT / "infra/hooks/policy_env.py")
assert _spec is not None and _spec.loader is not None
policy_env = importlib.util.module_from_spec(_spec)
sys.modules["policy_env"] = policy_env  # dataclasses look their module up
_spec.loader.exec_module(policy_env)
derive, run, SdkArmReader = policy_env.derive, policy_env.run, policy_env.SdkArmReader


class NothingThere:
    """An ARM where the policy's resources exist as the policy says (no Azure is called)."""

    def get(self, resource_id: str, api_version: str) -> dict:
        data = "/subscriptions/s1/resourceGroups/ml/providers/Microsoft.Storage/storageAccounts/st"
        return {
            "id": resource_id,
            "properties": {"storageAccount": data, "containerRegistry": data},
        }

    def list_of_type(self, subscription_id: str, resource_type: str) -> list[str]:
        return []


WS = "/subscriptions/s1/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/{}"
MI = (
    "/subscriptions/s2/resourceGroups/ids/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/x"
)
VAULT = "/subscriptions/s1/resourceGroups/kv/providers/Microsoft.KeyVault/vaults/kubeconfigs"


def _policy(**extra):
    return {
        "workspaces": [
            {"workspace": WS.format("a"), "clusters": ["/subscriptions/s1"]},
            {
                "workspace": WS.format("b"),
                "clusters": ["/subscriptions/s1"],
                "computes": [{"identity": {"type": "user_assigned", "resource_id": MI}}],
            },
            {"workspace": WS.format("A").upper(), "clusters": ["/subscriptions/s1"]},
        ],
        **extra,
    }


def test_workspace_ids_and_compute_identities_come_from_the_policy_once_each():
    values = derive(_policy())
    assert values["AUTOATTACH_WORKSPACE_IDS"] == ",".join([WS.format("a"), WS.format("b")]).lower()
    assert values["AUTOATTACH_COMPUTE_IDENTITY_IDS"] == MI.lower()


def test_kubeconfig_secrets_are_named_only_when_every_uri_names_one_in_the_vault():
    literal = {
        "clusters": [
            {
                "scope": "/subscriptions/s1",
                "kubeconfig_secret": "https://kubeconfigs.vault.azure.net/secrets/arc-1",
            }
        ]
    }
    assert derive(_policy(**literal), VAULT)["AUTOATTACH_KUBECONFIG_SECRET_NAMES"] == "arc-1"
    templated = {
        "clusters": [
            {
                "scope": "/subscriptions/s1",
                "kubeconfig_secret": "https://kubeconfigs.vault.azure.net/secrets/{cluster}",
            }
        ]
    }
    assert derive(_policy(**templated), VAULT)["AUTOATTACH_KUBECONFIG_SECRET_NAMES"] == ""


def _valid_policy():
    """_policy() without its second spelling of workspace a (the app refuses a workspace twice)."""
    document = _policy()
    document["workspaces"] = document["workspaces"][:2]
    return document


def test_the_hook_sets_the_values_with_azd_and_refuses_a_broken_policy_naming_it(tmp_path, capsys):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(_valid_policy()))
    set_values: dict[str, str] = {}
    assert run({"AUTOATTACH_POLICY_FILE": str(path)}, set_values.__setitem__, NothingThere()) == 0
    assert base64.b64decode(set_values["AUTOATTACH_POLICY_BASE64"]) == path.read_bytes()
    assert set_values["AUTOATTACH_WORKSPACE_IDS"].count("/workspaces/") == 2
    path.write_text('{"workspaces": [{"workspac": "x"}]}')
    assert run({"AUTOATTACH_POLICY_FILE": str(path)}, set_values.__setitem__, NothingThere()) == 2
    assert "workspaces[0].workspace" in capsys.readouterr().err


def _run_with(document, capsys):
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    code = run({"AUTOATTACH_POLICY_BASE64": encoded}, lambda _key, _value: None, NothingThere())
    return code, capsys.readouterr().err


def test_the_hook_refuses_an_identity_written_as_a_string_naming_its_path(capsys):
    document = _valid_policy()
    document["workspaces"][1]["computes"][0]["identity"] = "user_assigned"
    code, err = _run_with(document, capsys)
    assert code == 2
    assert "workspaces[1].computes[0].identity" in err
    assert "KeyError" not in err


def test_the_hook_refuses_what_the_app_would_refuse_with_every_problem(capsys):
    document = _valid_policy()
    document["workspaces"][0]["computes"] = [{"name": "{cluster}_gpu", "namespace": "kube-system"}]
    code, err = _run_with(document, capsys)
    assert code == 2
    assert "workspaces[0].computes[0].name" in err
    assert "workspaces[0].computes[0].namespace" in err


def test_without_the_apps_checker_the_hook_still_refuses_a_malformed_identity():
    document = _valid_policy()
    document["workspaces"][1]["computes"][0]["identity"] = {"type": "user_assigned"}
    try:
        derive(document)
    except policy_env.PolicyInputError as error:
        assert "workspaces[1].computes[0].identity.resource_id" in str(error)
    else:
        raise AssertionError("a user-assigned identity without resource_id must be refused")


def test_azd_runs_the_hook_before_every_provision():
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]["preprovision"]
    assert "infra/hooks/policy_env.py" in hooks["posix"]["run"]
    assert "infra/hooks/policy_env.py" in hooks["windows"]["run"]


# ---- the preflight, against the ARM double -------------------------------------------------

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ml"
WS_SYSTEM = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-research"
WS_USER = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"
WS_GONE = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-gone"
WS_IDENTITY = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-ws-prod"
WS_PRINCIPAL = "11111111-1111-4111-8111-111111111111"
COMPUTE_IDENTITY = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-compute"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stresearch"
STORAGE_GONE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stgone"
ACR = f"{RG}/providers/Microsoft.ContainerRegistry/registries/acrresearch"
ARC_1 = (
    f"/subscriptions/{SUB}/resourceGroups/rg-edge/providers/"
    "Microsoft.Kubernetes/connectedClusters/arc-1"
)
KV = f"{RG}/providers/Microsoft.KeyVault/vaults/kubeconfigs"
PLATFORM = f"/subscriptions/{SUB}/resourceGroups/rg-platform"
TOPIC = f"{PLATFORM}/providers/Microsoft.EventGrid/systemTopics/arm"


def _world(**extra) -> dict:
    return {
        "workspaces": [
            {
                "id": WS_SYSTEM,
                "location": "westeurope",
                "storage_account": STORAGE,
                "container_registry": ACR,
                "identity": {"type": "SystemAssigned"},
            },
            {
                "id": WS_USER,
                "location": "westeurope",
                "storage_account": STORAGE,
                "container_registry": ACR,
                "identity": {"type": "UserAssigned", "user_assigned_identity": WS_IDENTITY},
            },
        ],
        "identities": [
            {"id": WS_IDENTITY, "principal_id": WS_PRINCIPAL, "client_id": str(uuid.uuid4())},
            {"id": COMPUTE_IDENTITY, "principal_id": str(uuid.uuid4()), "client_id": "c"},
        ],
        "storage_accounts": [STORAGE],
        "container_registries": [ACR],
        "key_vaults": [{"id": KV, "secrets": ["arc-1"]}],
        **extra,
    }


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


@pytest.fixture
def arm_for(tls: SandboxTls):
    started: list[ArmDouble] = []

    def start(document: dict) -> SdkArmReader:
        double = ArmDouble(World.from_dict(document), VirtualClock(), tls).start()
        started.append(double)
        return SdkArmReader(
            SandboxCredential(), double.base_url, connection_verify=str(tls.ca_bundle)
        )

    yield start
    for double in started:
        double.stop()


def _preflight_policy(*workspaces: str, identity: str = COMPUTE_IDENTITY) -> dict:
    rules: list[dict] = [
        {"workspace": w, "clusters": [f"/subscriptions/{SUB}"]} for w in workspaces
    ]
    rules[0]["computes"] = [{"identity": {"type": "user_assigned", "resource_id": identity}}]
    return {
        "workspaces": rules,
        "clusters": [
            {  # a literal secret reaches one cluster: the app refuses it for a wider scope
                "scope": ARC_1,
                "kubeconfig_secret": "https://kubeconfigs.vault.azure.net/secrets/arc-1",
            }
        ],
    }


def _env(tmp_path, policy: dict, **extra: str) -> dict[str, str]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return {
        "AUTOATTACH_POLICY_FILE": str(path),
        "AUTOATTACH_KUBECONFIG_VAULT_ID": KV,
        "AZURE_SUBSCRIPTION_ID": SUB,
        **extra,
    }


def test_the_preflight_reads_the_workspaces_and_sets_their_identities_registries_and_accounts(
    tmp_path, arm_for
):
    reader = arm_for(_world())
    set_values: dict[str, str] = {}
    code = run(
        _env(tmp_path, _preflight_policy(WS_SYSTEM, WS_USER)), set_values.__setitem__, reader
    )
    assert code == 0
    # Only the workspace that runs under a user-assigned identity gives a principal.
    assert set_values["AUTOATTACH_WORKSPACE_PRINCIPAL_IDS"] == WS_PRINCIPAL
    assert set_values["AUTOATTACH_WORKSPACE_REGISTRY_IDS"] == ACR.lower()
    assert set_values["AUTOATTACH_WORKSPACE_STORAGE_IDS"] == STORAGE.lower()
    assert set_values["AUTOATTACH_KUBECONFIG_SECRET_NAMES"] == "arc-1"


def test_the_preflight_lists_everything_missing_and_stops_before_provisioning(
    tmp_path, arm_for, capsys
):
    world = _world()
    world["workspaces"][1]["storage_account"] = STORAGE_GONE
    reader = arm_for(world)
    missing_identity = COMPUTE_IDENTITY.replace("uai-compute", "uai-gone")
    policy = _preflight_policy(WS_USER, WS_GONE, identity=missing_identity)
    env = _env(tmp_path, policy, AUTOATTACH_KUBECONFIG_VAULT_ID=KV.replace("kubeconfigs", "kv2"))
    set_values: dict[str, str] = {}
    assert run(env, set_values.__setitem__, reader) == 1
    assert set_values == {}
    err = capsys.readouterr().err.lower()  # ids are compared case-insensitively
    for missing in (WS_GONE, STORAGE_GONE, missing_identity, KV.replace("kubeconfigs", "kv2")):
        assert f"{missing.lower()} does not exist" in err


def test_a_secret_that_does_not_exist_yet_puts_secrets_user_on_the_vault_for_this_deployment(
    tmp_path, arm_for, capsys
):
    world = _world(key_vaults=[{"id": KV, "secrets": []}])
    reader = arm_for(world)
    set_values: dict[str, str] = {}
    assert run(_env(tmp_path, _preflight_policy(WS_USER)), set_values.__setitem__, reader) == 0
    assert set_values["AUTOATTACH_KUBECONFIG_SECRET_NAMES"] == ""
    assert "arc-1 do not exist yet" in capsys.readouterr().err


def test_an_existing_arm_system_topic_must_be_named_for_reuse(tmp_path, arm_for, capsys):
    topic = {"id": TOPIC, "source": f"/subscriptions/{SUB}", "principal_id": str(uuid.uuid4())}
    reader = arm_for(_world(system_topics=[topic]))
    set_values: dict[str, str] = {}
    env = _env(tmp_path, _preflight_policy(WS_USER))
    assert run(env, set_values.__setitem__, reader) == 1
    assert f"AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS {TOPIC}" in capsys.readouterr().err
    env["AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS"] = TOPIC
    assert run(env, set_values.__setitem__, reader) == 0


def test_cluster_roles_are_delegated_to_the_identity_the_policy_names_for_a_workspace(
    tmp_path, arm_for
):
    reader = arm_for(_world())
    policy = _preflight_policy(WS_SYSTEM, WS_USER)
    policy["workspaces"][1]["workspace_identity"] = WS_IDENTITY
    set_values: dict[str, str] = {}
    assert run(_env(tmp_path, policy), set_values.__setitem__, reader) == 0
    assert set_values["AUTOATTACH_WORKSPACE_PRINCIPAL_IDS"] == WS_PRINCIPAL


def test_a_workspace_running_under_another_identity_than_the_policy_names_stops_the_preflight(
    tmp_path, arm_for, capsys
):
    """A workspace contributor who switched the workspace's identity gets no delegation for it:
    the preflight names both identities and provisions nothing."""
    reader = arm_for(_world())
    policy = _preflight_policy(WS_SYSTEM, WS_USER)
    policy["workspaces"][1]["workspace_identity"] = COMPUTE_IDENTITY  # not what ws-prod runs under
    set_values: dict[str, str] = {}
    assert run(_env(tmp_path, policy), set_values.__setitem__, reader) == 1
    assert set_values == {}
    err = capsys.readouterr().err.lower()
    assert f"runs under identity {WS_IDENTITY.lower()}" in err
    assert f"the policy names {COMPUTE_IDENTITY.lower()}" in err
