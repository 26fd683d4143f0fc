"""Every malformed policy gets a refusal with its JSON path (PolicyError), never another
exception: a typo such as ``"identity": "user_assigned"`` must not stop the app with a bare
KeyError (issue 21.1)."""

import copy
import json
import re

import pytest

from shared.decisions.policy import AttachPolicy, PolicyError

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
WS = SUB + "/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-a"
MI = SUB + "/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"
VALID = {
    "$schema": "./shared/schemas/attach-policy.schema.json",
    "workspaces": [
        {
            "workspace": WS,
            "clusters": [SUB + "/resourceGroups/rg-platform"],
            "storage_access": "read",
            "computes": [
                {"name": "{cluster}", "namespace": "azureml", "identity": "system_assigned"},
                {
                    "name": "{cluster}-u",
                    "namespace": "team-{workspace}",
                    "identity": {"type": "user_assigned", "resource_id": MI},
                },
            ],
        }
    ],
    "clusters": [
        {
            "scope": SUB + "/resourceGroups/rg-platform",
            "kubeconfig_secret": "https://kv.vault.azure.net/secrets/kubeconfig-{cluster}-{cluster_id_hash}",
        }
    ],
    "extension": {
        "when_missing": "install",
        "name": "azureml",
        "release_train": "stable",
        "settings": {"enableTraining": True, "enableInference": "false"},
    },
    "namespaces": {"adoption_policy": "IfIdentical", "delete_policy": "Keep"},
}
WRONG = [None, True, 0, -1, 1.5, "", "x", "user_assigned", "{cluster}", [], [None], {}, {"a": 1}]
# a problem starts with the JSON path at fault (or says it is about the whole policy)
PATHED = re.compile(r"^(the policy|[a-z_$]+(\[\d+\])?(\.[A-Za-z_$]+(\[\d+\])?)*)\b")


def paths(value, at=()):
    """Every path inside a JSON value (the root too)."""
    yield at
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*at, index))


def replaced(document, path, value):
    changed = copy.deepcopy(document)
    if not path:
        return value
    holder = changed
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    return changed


def removed(document, path):
    changed = copy.deepcopy(document)
    holder = changed
    for part in path[:-1]:
        holder = holder[part]
    del holder[path[-1]]
    return changed


def shapes():
    for path in paths(VALID):
        for value in WRONG:
            yield replaced(VALID, path, value)
        if path:
            yield removed(VALID, path)


def test_the_valid_document_loads():
    AttachPolicy.from_dict(copy.deepcopy(VALID))


def test_every_malformed_shape_is_refused_with_a_path_and_nothing_else_is_raised():
    refused = 0
    for document in shapes():
        try:
            AttachPolicy.from_dict(document, "app setting ATTACH_POLICY")
        except PolicyError as error:
            refused += 1
            assert error.problems, json.dumps(document)
            for problem in error.problems:
                assert PATHED.match(problem), (problem, json.dumps(document))
            assert str(error).startswith("app setting ATTACH_POLICY: ")
    assert refused > 200


def test_a_user_assigned_identity_written_as_a_string_is_refused_with_its_path():
    document = replaced(VALID, ("workspaces", 0, "computes", 0, "identity"), "user_assigned")
    with pytest.raises(PolicyError) as caught:
        AttachPolicy.from_dict(document)
    assert "workspaces[0].computes[0].identity" in str(caught.value)
    assert "resource_id" in str(caught.value)
