"""ARM ids are parsed strictly: a text that an HTTP client would resolve to another resource, or
that ARM would not accept as an id, never reaches an Azure call or a scope check."""

import pytest

from shared.decisions.arm_id import InvalidResourceId, ResourceId

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters"
PLATFORM = ResourceId.parse(SUB + "/resourceGroups/rg-platform")


@pytest.mark.parametrize(
    "text",
    [
        CLUSTER + "/aks-ml/../../../../../rg-evil/providers/Microsoft.ContainerService/"
        "managedClusters/aks-ml",
        CLUSTER + "/./aks-ml",
        CLUSTER + "/aks-ml/.",
        CLUSTER + "//aks-ml",
        CLUSTER + "/aks-ml%2F..%2F..%2Frg-evil",
        CLUSTER + "/aks-ml%2f..",
        CLUSTER + "/aks%5Cml",
        CLUSTER + "/aks\\ml",
        CLUSTER + "/aks-ml?api-version=1",
        CLUSTER + "/aks-ml#x",
        CLUSTER + "/aks ml",
        CLUSTER + "/aks\x00ml",
        CLUSTER + "/%2e%2e",
        "https://management.azure.com" + CLUSTER + "/aks-ml",
    ],
)
def test_ids_with_dot_segments_encodings_or_foreign_characters_are_not_arm_ids(text):
    with pytest.raises(InvalidResourceId):
        ResourceId.parse(text)


def test_a_dotted_id_never_counts_as_inside_the_scope_it_textually_starts_with():
    sneaky = (
        CLUSTER + "/aks-ml/../../../../../rg-evil/providers/Microsoft.ContainerService/"
        "managedClusters/aks-ml"
    )
    with pytest.raises(InvalidResourceId):
        ResourceId.parse(sneaky).is_within(PLATFORM)


def test_scope_checks_compare_whole_segments_not_text_prefixes():
    sibling = ResourceId.parse(SUB + "/resourceGroups/rg-platform-2/providers/X.Y/z/a")
    inside = ResourceId.parse(SUB + "/resourceGroups/RG-PLATFORM/providers/X.Y/z/a")
    assert not sibling.is_within(PLATFORM)
    assert inside.is_within(PLATFORM)
    assert PLATFORM.is_within(PLATFORM)


def test_a_plain_id_with_a_trailing_slash_and_mixed_case_still_parses():
    parsed = ResourceId.parse(CLUSTER.upper() + "/AKS-ML/")
    assert parsed == ResourceId.parse(CLUSTER + "/aks-ml")
    assert parsed.name == "AKS-ML"


def test_an_event_whose_resource_uri_climbs_out_of_its_resource_group_is_malformed():
    import json

    from shared.decisions.events import MalformedEvent, parse_message

    event = {
        "id": "e-1",
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "subject": "x",
        "data": {
            "operationName": "Microsoft.ContainerService/managedClusters/write",
            "resourceUri": CLUSTER + "/aks-ml/../../../../../rg-evil/providers/"
            "Microsoft.ContainerService/managedClusters/aks-ml",
        },
    }
    with pytest.raises(MalformedEvent, match=r"'\.\.' segment"):
        parse_message(json.dumps(event).encode())
