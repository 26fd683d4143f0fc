"""The attach policy's published JSON Schema: unknown keys and wrong values are refused with
their JSON path before the semantic checks run, by the app at start as by the CLI."""

import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sandbox.credential import SandboxCredential
from shared import settings as names
from shared.decisions.model import AdoptionPolicy, IdentityType, StorageAccess, WhenExtensionMissing
from shared.decisions.policy import AttachPolicy, PolicyError, policy_schema, schema_problems
from shared.settings import Settings
from shared.wiring import build_app
from tests.unit.test_settings import VALID

ROOT = Path(__file__).resolve().parents[2]
SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
WS = SUB + "/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/"


def document(**rule_changes):
    rule = {"workspace": WS + "ws-research", "clusters": [SUB + "/resourceGroups/rg-platform"]}
    rule.update(rule_changes)
    return {"workspaces": [rule]}


def refusal(policy_document, source=None):
    with pytest.raises(PolicyError) as caught:
        AttachPolicy.from_dict(policy_document, source)
    return caught.value


def test_a_misspelt_storage_access_is_refused_instead_of_granting_read():
    error = refusal(document(storage_acess="read-write"))

    assert error.problems == (
        "workspaces[0].storage_acess: unknown key (did you mean 'storage_access'?); "
        "known here: clusters, computes, storage_access, workspace, workspace_identity",
    )


def test_a_misspelt_extension_section_is_refused_instead_of_waiting_for_the_extension():
    policy_document = document()
    policy_document["extention"] = {"when_missing": "install"}

    error = refusal(policy_document)

    assert "extention: unknown key (did you mean 'extension'?)" in str(error)


def test_a_value_outside_an_enum_is_refused_naming_the_path_and_the_choices():
    policy_document = document()
    policy_document["extension"] = {"when_missing": "instal"}

    error = refusal(policy_document)

    assert str(error) == "extension.when_missing must be 'wait' or 'install', got 'instal'"


def test_an_unknown_key_deep_in_a_compute_is_refused_with_its_full_path():
    error = refusal(
        document(computes=[{"name": "{cluster}"}, {"name": "x", "identty": "system_assigned"}])
    )

    assert str(error).startswith("workspaces[0].computes[1].identty: unknown key")


def test_every_schema_problem_is_reported_at_once_each_with_the_source():
    policy_document = document(storage_access="write", computes=[])
    policy_document["namespaces"] = {"adoption_policy": "never"}

    error = refusal(policy_document, source="policy.json")

    assert error.problems == (
        "namespaces.adoption_policy must be 'IfIdentical', 'Never' or 'Always', got 'never'",
        "workspaces[0].computes must not be empty",
        "workspaces[0].storage_access must be 'read' or 'read-write', got 'write'",
    )
    assert str(error).splitlines()[0].startswith("policy.json: namespaces.adoption_policy")


def test_a_missing_required_key_is_named():
    assert schema_problems({"workspaces": [{"workspace": WS + "w"}]}) == (
        "workspaces[0].clusters is required",
    )


def test_a_user_assigned_identity_without_its_resource_id_is_refused_by_the_schema():
    problems = schema_problems(document(computes=[{"identity": {"type": "user_assigned"}}]))

    assert problems == ("workspaces[0].computes[0].identity.resource_id is required",)


def test_the_only_delete_policy_says_why():
    policy_document = document()
    policy_document["namespaces"] = {"delete_policy": "Delete"}

    assert schema_problems(policy_document) == (
        "namespaces.delete_policy must be 'Keep', got 'Delete' "
        "(autoattach never deletes a namespace)",
    )


def test_a_policy_may_name_its_schema_for_editors():
    policy_document = {"$schema": "./attach-policy.schema.json", **document()}

    assert AttachPolicy.from_dict(policy_document).workspaces[0].workspace_id.name == "ws-research"


def test_the_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(policy_schema())
    on_disk = ROOT / "shared" / "schemas" / "attach-policy.schema.json"
    assert json.loads(on_disk.read_text()) == policy_schema()


def test_the_schemas_choices_are_the_products_own():
    defs = policy_schema()["$defs"]
    assert defs["workspace"]["properties"]["storage_access"]["enum"] == [
        s.value for s in StorageAccess
    ]
    assert defs["identity"]["properties"]["type"]["enum"] == [t.value for t in IdentityType]
    assert defs["extension"]["properties"]["when_missing"]["enum"] == [
        w.value for w in WhenExtensionMissing
    ]
    assert sorted(defs["namespaces"]["properties"]["adoption_policy"]["enum"]) == sorted(
        a.value for a in AdoptionPolicy
    )


def repo_policies():
    demo = json.loads(resources.files("sandbox").joinpath("demo_world.json").read_text())
    yield "sandbox/demo_world.json", demo["policy"]
    yield (
        "docs/examples/world.json",
        json.loads((ROOT / "docs/examples/world.json").read_text())["policy"],
    )
    yield (
        "docs/examples/attach-policy.json",
        json.loads((ROOT / "docs/examples/attach-policy.json").read_text()),
    )


@pytest.mark.parametrize(("where", "policy_document"), list(repo_policies()))
def test_every_policy_shipped_in_the_repo_is_accepted(where, policy_document):
    text = json.dumps(policy_document).replace("{sandbox_vault}", "https://kv.vault.azure.net")
    AttachPolicy.from_json(text, where)


def test_the_app_refuses_a_misspelt_policy_at_start_naming_the_file_and_the_path(tmp_path):
    policy_file = tmp_path / "attach-policy.json"
    policy_file.write_text(json.dumps(document(storage_acess="read-write")))
    env = {k: v for k, v in VALID.items() if k != names.ATTACH_POLICY}
    env[names.ATTACH_POLICY_FILE] = str(policy_file)

    with pytest.raises(PolicyError) as caught:
        build_app(Settings.from_environment(env), SandboxCredential())

    assert str(caught.value).startswith(
        f"ATTACH_POLICY_FILE={policy_file}: workspaces[0].storage_acess: unknown key"
    )


def test_the_app_refuses_a_misspelt_policy_in_its_app_setting_the_same_way():
    env = {**VALID, names.ATTACH_POLICY: json.dumps(document(storage_acess="read-write"))}

    with pytest.raises(PolicyError) as caught:
        build_app(Settings.from_environment(env), SandboxCredential())

    assert str(caught.value).startswith(
        "app setting ATTACH_POLICY: workspaces[0].storage_acess: unknown key"
    )
