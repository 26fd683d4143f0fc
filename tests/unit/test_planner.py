from shared.arm_id import ResourceId
from shared.model import (
    Attachment,
    ClusterState,
    ComputeIdentity,
    ComputeState,
    ExtensionState,
    IdentityType,
    Role,
    StorageAccess,
    WorkspaceState,
)
from shared.planner import AttachCompute, CreateNamespace, GrantRole, Observation, plan
from shared.policy import TagDecision

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = ResourceId.parse(
    SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)
WORKSPACE = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws"
)
STORAGE = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/st"
)
REGISTRY = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acr"
)
ATTACHMENT = Attachment(
    workspace_id=WORKSPACE,
    compute_name="aks-ml",
    namespace="azureml",
    identity=ComputeIdentity(IdentityType.SYSTEM_ASSIGNED),
    storage_access=StorageAccess.READ_WRITE,
)
READY_CLUSTER = ClusterState(
    id=CLUSTER, exists=True, provisioning_state="Succeeded", location="westeurope"
)
READY_EXTENSION = ExtensionState(
    id=CLUSTER.child("providers", "Microsoft.KubernetesConfiguration", "extensions", "ml"),
    extension_type="Microsoft.AzureML.Kubernetes",
    provisioning_state="Succeeded",
)
WORKSPACE_STATE = WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY)


def compute(**changes) -> ComputeState:
    fields = dict(
        workspace_id=WORKSPACE,
        name="aks-ml",
        cluster_id=CLUSTER,
        namespace="azureml",
        identity_type=IdentityType.SYSTEM_ASSIGNED,
        principal_id="principal-1",
        provisioning_state="Succeeded",
        managed_by_autoattach=True,
    )
    fields.update(changes)
    return ComputeState(**fields)


def observation(**changes) -> Observation:
    fields = dict(
        cluster=READY_CLUSTER,
        decision=TagDecision((ATTACHMENT,), ()),
        extension=READY_EXTENSION,
        workspaces={WORKSPACE: WORKSPACE_STATE},
        computes={},
        namespaces=frozenset(),
        role_holdings={},
    )
    fields.update(changes)
    return Observation(**fields)


def test_a_fresh_cluster_gets_its_namespace_before_its_compute():
    actions = plan(observation()).actions
    assert actions == (
        CreateNamespace(CLUSTER, "azureml"),
        AttachCompute(ATTACHMENT, CLUSTER, "westeurope"),
    )


def test_an_attached_compute_gets_acrpull_and_the_storage_role_policy_names():
    actions = plan(
        observation(namespaces=frozenset({"azureml"}), computes={(WORKSPACE, "aks-ml"): compute()})
    ).actions
    assert set(actions) == {
        GrantRole(REGISTRY, Role.ACR_PULL, "principal-1", ATTACHMENT),
        GrantRole(STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "principal-1", ATTACHMENT),
    }


def test_a_converged_cluster_plans_nothing():
    held = {
        (REGISTRY.key, "principal-1"): frozenset({Role.ACR_PULL.value}),
        (STORAGE.key, "principal-1"): frozenset({Role.STORAGE_BLOB_DATA_CONTRIBUTOR.value}),
    }
    result = plan(
        observation(
            namespaces=frozenset({"azureml"}),
            computes={(WORKSPACE, "aks-ml"): compute()},
            role_holdings=held,
        )
    )
    assert result.converged


def test_an_extension_still_installing_means_wait_not_act():
    installing = ExtensionState(READY_EXTENSION.id, READY_EXTENSION.extension_type, "Creating")
    result = plan(observation(extension=installing))
    assert result.actions == ()
    assert "is Creating" in (result.wait_reason or "")


def test_a_missing_extension_or_a_provisioning_cluster_means_wait():
    assert "not installed" in (plan(observation(extension=None)).wait_reason or "")
    updating = ClusterState(id=CLUSTER, exists=True, provisioning_state="Updating")
    assert "is Updating" in (plan(observation(cluster=updating)).wait_reason or "")


def test_a_cluster_without_attachments_plans_nothing_even_if_not_ready():
    assert plan(observation(decision=TagDecision((), ()), extension=None)).converged


def test_a_compute_name_taken_by_another_target_is_a_problem_not_an_overwrite():
    elsewhere = ResourceId.parse(
        SUB + "/resourceGroups/rg-x/providers/Microsoft.ContainerService/managedClusters/other"
    )
    result = plan(
        observation(
            namespaces=frozenset({"azureml"}),
            computes={
                (WORKSPACE, "aks-ml"): compute(cluster_id=elsewhere, managed_by_autoattach=False)
            },
        )
    )
    assert result.actions == ()
    assert "another target" in result.problems[0].message
