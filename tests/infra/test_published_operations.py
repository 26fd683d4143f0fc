"""Every action a custom role names is one its provider publishes (issue 20, item 10).

A custom role naming an action the provider does not know fails to deploy.
infra/published-operations/ holds a copy of the providers' published operations (with their
sources); an action must be listed there, and an action with a wildcard must match at least one
listed operation. ARM compares actions case-insensitively.
"""

from __future__ import annotations

import pytest

from sandbox.arm_rbac import action_matches
from tests.infra.bicep_model import INFRA, template, variable

PUBLISHED = INFRA / "published-operations"
ROLE_VARIABLES = (
    "clusterOperatorActions",
    "computeOperatorActions",
    "operationReaderActions",
    "roleDelegatorActions",
    "assignmentReaderActions",
)


def _published() -> dict[str, list[str]]:
    """provider (lower-cased) -> its published operations (wildcards a page publishes included)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PUBLISHED.glob("*.txt")):
        lines = [line.strip() for line in path.read_text().splitlines()]
        operations = [line for line in lines if line and not line.startswith("#")]
        assert all(op.lower().startswith(path.stem.lower() + "/") for op in operations), path.name
        found[path.stem.lower()] = operations
    return found


def _custom_role_actions() -> list[str]:
    tpl = template("modules/custom-roles.bicep")
    return [action for name in ROLE_VARIABLES for action in variable(tpl, name)]


def is_published(action: str, published: dict[str, list[str]]) -> bool:
    operations = published.get(action.split("/", 1)[0].lower(), [])
    if "*" in action:  # a wildcard must grant at least one real operation
        return any(action_matches(action, op) for op in operations if "*" not in op)
    return any(
        op.lower() == action.lower() or ("*" in op and action_matches(op, action))
        for op in operations
    )


@pytest.mark.parametrize("action", _custom_role_actions())
def test_every_custom_role_action_is_a_published_operation(action: str) -> None:
    assert is_published(action, _published()), (
        f"{action} is not in infra/published-operations/ (a custom role naming it fails to deploy)"
    )


def test_the_check_refuses_an_action_no_provider_publishes() -> None:
    published = _published()
    assert not is_published(
        "Microsoft.MachineLearningServices/locations/computeOperations/read", published
    )
    assert not is_published("Microsoft.MachineLearningServices/locations/nothing*/read", published)
    assert not is_published("Microsoft.Unknown/things/read", published)
    assert is_published("Microsoft.MachineLearningServices/locations/*/read", published)
    assert is_published("microsoft.relay/namespaces/hybridconnections/read", published)


def test_each_copy_names_its_source_page_and_commit() -> None:
    for path in sorted(PUBLISHED.glob("*.txt")):
        header = path.read_text().split("\n# ")[0:4]
        text = "\n".join(header)
        assert "MicrosoftDocs/azure-docs" in text and "commit " in text, path.name
    assert (PUBLISHED / "README.md").is_file()
