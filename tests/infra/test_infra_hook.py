"""The preprovision hook derives the deployment's lists from the attach policy (issue 10)."""

from __future__ import annotations

import base64
import importlib.util
import json

import yaml

from tests.infra.bicep_model import ROOT

# The hook is a script azd runs (infra/ is not a package): load it from its file.
_spec = importlib.util.spec_from_file_location("policy_env", ROOT / "infra/hooks/policy_env.py")
assert _spec is not None and _spec.loader is not None
policy_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(policy_env)
derive, run = policy_env.derive, policy_env.run

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


def test_the_hook_sets_the_values_with_azd_and_refuses_a_broken_policy_naming_it(tmp_path, capsys):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(_policy()))
    set_values: dict[str, str] = {}
    assert run({"AUTOATTACH_POLICY_FILE": str(path)}, set_values.__setitem__) == 0
    assert base64.b64decode(set_values["AUTOATTACH_POLICY_BASE64"]) == path.read_bytes()
    assert set_values["AUTOATTACH_WORKSPACE_IDS"].count("/workspaces/") == 2
    path.write_text('{"workspaces": [{"workspac": "x"}]}')
    assert run({"AUTOATTACH_POLICY_FILE": str(path)}, set_values.__setitem__) == 2
    assert "workspaces[0].workspace" in capsys.readouterr().err


def test_azd_runs_the_hook_before_every_provision():
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]["preprovision"]
    assert "infra/hooks/policy_env.py" in hooks["posix"]["run"]
    assert "infra/hooks/policy_env.py" in hooks["windows"]["run"]
