import json

import pytest

from shared.arm_id import ResourceId
from shared.model import IdentityType, StorageAccess
from shared.policy import AttachPolicy, PolicyError, decide_attachments

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
WS = SUB + "/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/"
CLUSTER = ResourceId.parse(
    SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)
OTHER_CLUSTER = ResourceId.parse(
    SUB + "/resourceGroups/rg-other/providers/Microsoft.ContainerService/managedClusters/aks-x"
)


def policy(**overrides):
    document = {
        "workspaces": [
            {
                "workspace": WS + "ws-research",
                "clusters": [SUB + "/resourceGroups/rg-platform"],
                "storage_access": "read",
                "computes": [{"name": "{cluster}", "namespace": "azureml-research"}],
            },
            {
                "workspace": WS + "ws-prod",
                "clusters": [SUB + "/resourceGroups/RG-PLATFORM"],
                "storage_access": "read-write",
            },
        ]
    }
    document.update(overrides)
    return AttachPolicy.from_json(json.dumps(document))


def test_a_tag_naming_allowed_workspaces_gets_one_attachment_each():
    decision = decide_attachments(
        CLUSTER, {"azureml-attach": "ws-research, ws-prod"}, "azureml-attach", policy()
    )
    assert [a.workspace_id.name for a in decision.attachments] == ["ws-research", "ws-prod"]
    research, prod = decision.attachments
    assert (research.compute_name, research.namespace) == ("aks-ml", "azureml-research")
    assert research.storage_access is StorageAccess.READ
    assert prod.storage_access is StorageAccess.READ_WRITE
    assert prod.namespace == "azureml"  # the default namespace
    assert prod.identity.type is IdentityType.SYSTEM_ASSIGNED


def test_a_tag_may_name_a_workspace_by_its_arm_id_in_any_case():
    decision = decide_attachments(
        CLUSTER, {"AzureML-Attach": (WS + "ws-research").upper()}, "azureml-attach", policy()
    )
    assert [a.workspace_id.name for a in decision.attachments] == ["ws-research"]


def test_a_tag_cannot_reach_a_workspace_the_policy_does_not_allow_for_that_cluster():
    decision = decide_attachments(
        OTHER_CLUSTER, {"azureml-attach": "ws-research,ws-unknown"}, "azureml-attach", policy()
    )
    assert decision.attachments == ()
    assert decision.refused == ("ws-research", "ws-unknown")


def test_an_untagged_cluster_gets_nothing():
    assert (
        decide_attachments(CLUSTER, {"team": "web"}, "azureml-attach", policy()).attachments == ()
    )


def test_long_compute_names_are_shortened_deterministically_to_24_characters():
    long_cluster = ResourceId.parse(
        SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/"
        "a-very-long-cluster-name-for-training"
    )
    first = decide_attachments(
        long_cluster, {"azureml-attach": "ws-prod"}, "azureml-attach", policy()
    )
    again = decide_attachments(
        long_cluster, {"azureml-attach": "ws-prod"}, "azureml-attach", policy()
    )
    name = first.attachments[0].compute_name
    assert len(name) <= 24 and name[0].isalpha()
    assert name == again.attachments[0].compute_name


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not JSON"),
        ('{"workspaces": {}}', "'workspaces' list"),
        (
            '{"workspaces": [{"workspace": "ws", "clusters": ["/subscriptions/x"]}]}',
            "workspaces[0].workspace",
        ),
        (
            '{"workspaces": [{"workspace": "/subscriptions/x/resourceGroups/r/providers/'
            'Microsoft.Storage/storageAccounts/s", "clusters": ["/subscriptions/x"]}]}',
            "not an Azure ML workspace id",
        ),
        (
            '{"workspaces": [{"workspace": "/subscriptions/x/resourceGroups/r/providers/'
            'Microsoft.MachineLearningServices/workspaces/w"}]}',
            "workspaces[0].clusters",
        ),
        (
            '{"workspaces": [{"workspace": "/subscriptions/x/resourceGroups/r/providers/'
            'Microsoft.MachineLearningServices/workspaces/w", "clusters": ["/subscriptions/x"], '
            '"storage_access": "write"}]}',
            "storage_access must be 'read' or 'read-write'",
        ),
        (
            '{"workspaces": [{"workspace": "/subscriptions/x/resourceGroups/r/providers/'
            'Microsoft.MachineLearningServices/workspaces/w", "clusters": ["/subscriptions/x"], '
            '"computes": [{"namespace": "Bad_Name"}]}]}',
            "not a Kubernetes namespace name",
        ),
        (
            '{"workspaces": [{"workspace": "/subscriptions/x/resourceGroups/r/providers/'
            'Microsoft.MachineLearningServices/workspaces/w", "clusters": ["/subscriptions/x"], '
            '"computes": [{"name": "{team}"}]}]}',
            "unknown placeholder",
        ),
        (
            '{"workspaces": [{"workspace": "/subscriptions/x/resourceGroups/r/providers/'
            'Microsoft.MachineLearningServices/workspaces/w", "clusters": ["/subscriptions/x"], '
            '"computes": [{"identity": {"type": "user_assigned"}}]}]}',
            "identity.resource_id",
        ),
    ],
)
def test_an_invalid_policy_is_rejected_with_the_entry_and_field_named(document, message):
    with pytest.raises(PolicyError) as caught:
        AttachPolicy.from_json(document)
    assert message in str(caught.value)
