"""Every resource in infra/ fits the published Bicep types; broken copies prove the check bites."""

from __future__ import annotations

import pytest
from pycep import BicepParser

from tests.infra.azure_types.copy_types import declared_types
from tests.infra.bicep_model import INFRA, all_templates
from tests.infra.typecheck import TYPES, check_template, type_index

INDEX = type_index()


def test_every_resource_in_infra_fits_its_published_type_and_api_version():
    problems = [
        str(p) for name, tpl in all_templates().items() for p in check_template(name, tpl, INDEX)
    ]
    assert problems == []


def test_the_copied_types_hold_every_type_and_api_version_infra_declares():
    known = {f"{t}@{v}".lower() for t in INDEX.type_names() for v in INDEX.versions(t)}
    assert declared_types() <= known
    assert (TYPES / "README.md").is_file() and (TYPES / "LICENSE").is_file()


def _problems_of_broken_copy(relative: str, old: str, new: str) -> list[str]:
    source = (INFRA / relative).read_text(encoding="utf-8")
    assert source.count(old) >= 1, f"{relative} no longer contains {old!r}"
    broken = BicepParser().parse(text=source.replace(old, new, 1))
    return [str(p) for p in check_template(relative, broken, INDEX)]


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [
        pytest.param(
            "modules/storage.bicep",
            "allowBlobPublicAccess: false",
            "allowBlobPublicAcess: false",
            "Could not find member 'allowBlobPublicAcess'",
            id="misspelled-property",
        ),
        pytest.param(
            "modules/storage.bicep",
            "accessTier: 'Hot'",
            "accessTier: 'Warm'",
            "'properties.accessTier' must be one of 'Hot', 'Cool', 'Premium', 'Cold'",
            id="wrong-enum-value",
        ),
        pytest.param(
            "modules/servicebus.bicep",
            ": 'Standard'\n    tier",
            ": 'Standart'\n    tier",
            'Error converting value "Standart"',
            id="wrong-enum-value-in-a-ternary-branch",
        ),
        pytest.param(
            "modules/event-subscriptions.bicep",
            "endpointType: 'ServiceBusQueue'",
            "endpointType: 'ServiceBusQueues'",
            "'endpointType' must be one of",
            id="wrong-discriminator",
        ),
        pytest.param(
            "modules/functionapp.bicep",
            "name: 'appsettings'",
            "name: 'appsetings'",
            "'name' must be one of",
            id="wrong-discriminator-in-a-resource-name",
        ),
        pytest.param(
            "modules/identity-access.bicep",
            "    principalId: principalId\n",
            "",
            "Required property 'principalId' not found",
            id="missing-required-property",
        ),
        pytest.param(
            "modules/storage.bicep",
            "Microsoft.Storage/storageAccounts@2023-05-01' = {",
            "Microsoft.Storage/storageAccounts@2023-05-02' = {",
            "unknown resource type or api-version Microsoft.Storage/storageAccounts@2023-05-02",
            id="unknown-api-version",
        ),
        pytest.param(
            "modules/event-topic.bicep",
            "Microsoft.EventGrid/systemTopics@2025-02-15'",
            "Microsoft.EventGrid/systemTopic@2025-02-15'",
            "unknown resource type or api-version Microsoft.EventGrid/systemTopic@",
            id="unknown-resource-type",
        ),
    ],
)
def test_a_broken_copy_of_the_bicep_fails_the_type_check(relative, old, new, expected):
    problems = _problems_of_broken_copy(relative, old, new)
    assert any(expected in p for p in problems), problems
