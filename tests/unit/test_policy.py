import json
import re

import pytest

from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import PermanentError
from shared.decisions.model import IdentityType, StorageAccess
from shared.decisions.policy import AttachPolicy, PolicyError, cluster_id_hash, decide_attachments

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
        ('{"workspaces": {}}', "workspaces must be a list"),
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


PROD_CLUSTER = ResourceId.parse(
    SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/"
    "AKS_Prod-1"
)


def namespaces_of(document_policy, cluster):
    decision = decide_attachments(
        cluster, {"azureml-attach": "ws-research"}, "azureml-attach", document_policy
    )
    return [a.namespace for a in decision.attachments]


def research_with_namespace(template):
    return policy(
        workspaces=[
            {
                "workspace": WS + "ws-research",
                "clusters": [SUB + "/resourceGroups/rg-platform"],
                "computes": [{"name": "{cluster}", "namespace": template}],
            }
        ]
    )


def test_a_cluster_name_with_capitals_and_underscores_renders_a_valid_namespace():
    assert namespaces_of(research_with_namespace("ml-{cluster}"), PROD_CLUSTER) == ["ml-aks-prod-1"]


def test_a_namespace_longer_than_63_characters_is_cut_with_a_stable_hash_suffix():
    long_cluster = ResourceId.parse(
        SUB
        + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/"
        + "A_" * 31
        + "Z"
    )
    rendered = namespaces_of(research_with_namespace("{cluster}-{workspace}"), long_cluster)

    assert len(rendered[0]) <= 63
    assert rendered[0][-7] == "-" and rendered[0][-6:].isalnum()
    assert rendered == namespaces_of(research_with_namespace("{cluster}-{workspace}"), long_cluster)
    assert re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", rendered[0])


def test_two_long_names_that_share_a_prefix_render_to_different_namespaces():
    def cluster(suffix):
        return ResourceId.parse(
            SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/"
            "managedClusters/" + "a" * 60 + suffix
        )

    template = research_with_namespace("{cluster}")
    assert namespaces_of(template, cluster("x")) != namespaces_of(template, cluster("y"))


@pytest.mark.parametrize("template", ["___", "-", "{cluster}_Team", "Team-{cluster}"])
def test_a_namespace_template_that_cannot_render_a_valid_name_is_refused_naming_the_field(
    template,
):
    with pytest.raises(PolicyError) as caught:
        research_with_namespace(template)
    assert "workspaces[0].computes[0].namespace" in str(caught.value)


def test_the_default_adoption_policy_adopts_only_identical_namespaces_and_never_deletes():
    route = policy().namespace_route(CLUSTER, azure_rbac=True)

    assert route is not None
    assert route.adoption_policy == "IfIdentical"


@pytest.mark.parametrize("value", ["Never", "IfIdentical", "Always"])
def test_the_adoption_policy_setting_reaches_the_arm_namespace_route(value):
    route = policy(namespaces={"adoption_policy": value}).namespace_route(CLUSTER, True)

    assert route is not None and route.adoption_policy == value


@pytest.mark.parametrize(
    ("namespaces", "message"),
    [
        ({"adoption_policy": "Sometimes"}, "namespaces.adoption_policy"),
        ({"adoption_policy": "never"}, "namespaces.adoption_policy"),
        ({"delete_policy": "Delete"}, "namespaces.delete_policy"),
        ({"adoptionPolicy": "Never"}, "namespaces.adoptionPolicy: unknown key"),
        ("Never", "namespaces must be an object"),
    ],
)
def test_an_invalid_namespaces_setting_is_refused_naming_it(namespaces, message):
    with pytest.raises(PolicyError) as caught:
        policy(namespaces=namespaces)
    assert message in str(caught.value)


def test_a_cluster_scope_in_another_subscription_than_the_workspace_is_refused_naming_the_field():
    other = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-edge"
    document = {
        "workspaces": [
            {
                "workspace": WS + "ws-research",
                "clusters": [SUB + "/resourceGroups/rg-platform", other],
            }
        ]
    }
    with pytest.raises(PolicyError) as caught:
        AttachPolicy.from_json(json.dumps(document))
    message = str(caught.value)
    assert "workspaces[0].clusters[1]" in message
    assert "11111111-2222-4333-8444-555555555555" in message
    assert "workspace's subscription" in message


def test_a_cluster_scope_naming_the_workspaces_subscription_in_other_case_is_accepted():
    document = {
        "workspaces": [{"workspace": WS + "ws-research", "clusters": [SUB.upper()]}],
    }
    assert AttachPolicy.from_json(json.dumps(document)).workspaces[0].allows(CLUSTER)


EDGE = SUB + "/resourceGroups/rg-edge"
ARC_1 = ResourceId.parse(EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-1")
ARC_2 = ResourceId.parse(EDGE + "/providers/Microsoft.Kubernetes/connectedClusters/arc-2")
VAULT = "https://kv-platform.vault.azure.net/secrets/"


def with_access(*entries):
    return policy(
        clusters=[{"scope": scope, "kubeconfig_secret": secret} for scope, secret in entries]
    )


def secret_for(document_policy, cluster):
    route = document_policy.namespace_route(cluster, azure_rbac=False)
    assert route is not None and route.via == "kubernetes"
    return route.kubeconfig_secret


PER_CLUSTER = VAULT + "kubeconfig-{cluster}-{cluster_id_hash}"


def test_a_kubeconfig_secret_named_per_cluster_renders_each_clusters_own_name():
    access = with_access((EDGE, PER_CLUSTER))

    assert secret_for(access, ARC_1) == VAULT + "kubeconfig-arc-1-" + cluster_id_hash(ARC_1)
    assert secret_for(access, ARC_2) == VAULT + "kubeconfig-arc-2-" + cluster_id_hash(ARC_2)


def test_clusters_named_alike_in_two_resource_groups_or_of_two_kinds_get_two_kubeconfigs():
    twins = [
        ResourceId.parse(f"{SUB}/resourceGroups/{group}/providers/{kind}/Arc-1")
        for group, kind in [
            ("rg-edge", "Microsoft.Kubernetes/connectedClusters"),
            ("rg-lab", "Microsoft.Kubernetes/connectedClusters"),
            ("RG-LAB", "Microsoft.Kubernetes/connectedClusters"),  # the same cluster as above
            ("rg-edge", "Microsoft.ContainerService/managedClusters"),
        ]
    ]
    access = with_access((SUB, PER_CLUSTER))

    secrets = [secret_for(access, cluster).lower() for cluster in twins]  # Key Vault: any case
    assert len(set(secrets)) == 3
    assert secrets[1] == secrets[2]
    hashes = [cluster_id_hash(cluster) for cluster in twins]
    assert all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashes)


@pytest.mark.parametrize("scope", [EDGE, SUB], ids=["resource group", "subscription"])
def test_a_kubeconfig_secret_named_by_the_cluster_name_alone_is_refused_where_two_can_share_it(
    scope,
):
    with pytest.raises(PolicyError) as caught:
        with_access((scope, VAULT + "kubeconfig-{cluster}"))

    message = str(caught.value)
    assert message.startswith("clusters[0].kubeconfig_secret: {cluster} alone can name one")
    assert "kubeconfig-{cluster}-{cluster_id_hash}" in message


def test_a_kubeconfig_secret_named_by_the_cluster_name_is_fine_for_one_clusters_scope():
    access = with_access((ARC_1.raw, VAULT + "kubeconfig-{cluster}"))

    assert secret_for(access, ARC_1) == VAULT + "kubeconfig-arc-1"


@pytest.mark.parametrize("scope", [EDGE, SUB], ids=["resource group", "subscription"])
def test_one_kubeconfig_secret_for_a_scope_that_can_hold_many_clusters_is_refused(scope):
    with pytest.raises(PolicyError) as caught:
        with_access((scope, VAULT + "kubeconfig-arc-1"))

    message = str(caught.value)
    assert message.startswith("clusters[0].kubeconfig_secret names one secret for every cluster")
    assert "{cluster_id_hash}" in message


def test_a_literal_kubeconfig_secret_for_one_cluster_is_used_for_that_cluster_only():
    access = with_access((EDGE, PER_CLUSTER), (ARC_1.raw, VAULT + "arc-one-admin"))

    assert secret_for(access, ARC_1) == VAULT + "arc-one-admin"
    assert secret_for(access, ARC_2) == VAULT + "kubeconfig-arc-2-" + cluster_id_hash(ARC_2)


def test_a_cluster_name_key_vault_cannot_hold_is_refused_not_altered():
    access = with_access((SUB + "/resourceGroups/rg-platform", PER_CLUSTER))

    with pytest.raises(PermanentError) as caught:
        access.namespace_route(PROD_CLUSTER, azure_rbac=False)  # AKS_Prod-1 has an '_'

    assert caught.value.reason == "KubeconfigSecretNameInvalid"
    assert "'kubeconfig-AKS_Prod-1-" in str(caught.value)
    assert "is not a Key Vault secret name" in str(caught.value)
    assert "its id as the scope" in str(caught.value)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (VAULT + "kubeconfig-{name}", "unknown placeholder(s) {name}"),
        (
            "https://{cluster}.vault.azure.net/secrets/kubeconfig-{cluster_id_hash}",
            "may only appear in the name",
        ),
        (VAULT + "kube_config-{cluster_id_hash}", "is not a Key Vault secret name"),
        (VAULT + "x" * 127 + "{cluster_id_hash}", "is not a Key Vault secret name"),
        ("kubeconfig-{cluster_id_hash}", "must be a Key Vault secret URI"),
        (VAULT + "kubeconfig-{cluster_id_hash}/" + "0" * 32, "a version cannot be pinned"),
    ],
)
def test_a_kubeconfig_secret_template_that_cannot_name_a_secret_is_refused(secret, message):
    with pytest.raises(PolicyError) as caught:
        with_access((EDGE, secret))

    assert message in str(caught.value)
    assert str(caught.value).startswith("clusters[0].kubeconfig_secret")
