from shared.decisions.arm_id import ResourceId
from shared.decisions.model import (
    Attachment,
    ClusterState,
    ComputeIdentity,
    ComputeState,
    ExtensionPolicy,
    ExtensionState,
    IdentityType,
    MadeAssignment,
    NamespaceRoute,
    Role,
    StorageAccess,
    WhenExtensionMissing,
    WorkspaceState,
)
from shared.decisions.planner import (
    AttachCompute,
    CreateNamespace,
    DetachCompute,
    GrantRole,
    InstallExtension,
    Observation,
    RevokeRole,
    plan,
)
from shared.decisions.policy import TagDecision

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
ARM_ROUTE = NamespaceRoute("arm")


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
        namespace_route=ARM_ROUTE,
        workspaces={WORKSPACE: WORKSPACE_STATE},
        allowed_workspaces=frozenset({WORKSPACE}),
        computes={},
        namespaces=frozenset(),
        role_holdings={},
    )
    fields.update(changes)
    return Observation(**fields)


def test_a_fresh_cluster_gets_its_namespace_before_its_compute():
    assert plan(observation()).actions == (CreateNamespace(CLUSTER, "azureml", ARM_ROUTE),)
    # the compute is attached once the namespace is there, never while ARM still makes it
    ready = observation(namespaces=frozenset({"azureml"}))
    assert plan(ready).actions == (AttachCompute(ATTACHMENT, CLUSTER, "westeurope"),)


def test_an_attached_compute_gets_acrpull_and_the_storage_role_policy_names():
    actions = plan(
        observation(namespaces=frozenset({"azureml"}), computes={(WORKSPACE, "aks-ml"): compute()})
    ).actions
    assert set(actions) == {
        GrantRole(REGISTRY, Role.ACR_PULL, "principal-1", WORKSPACE, ATTACHMENT),
        GrantRole(
            STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "principal-1", WORKSPACE, ATTACHMENT
        ),
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


def test_while_the_extension_installs_only_its_namespaces_are_made_then_it_waits():
    installing = ExtensionState(READY_EXTENSION.id, READY_EXTENSION.extension_type, "Creating")
    result = plan(observation(extension=installing))
    # the namespace needs nothing of the extension: made now, the attach waits for the install
    assert [type(a).__name__ for a in result.actions] == ["CreateNamespace"]
    assert "is Creating" in (result.wait_reason or "")
    made = plan(observation(extension=installing, namespaces=frozenset({"azureml"})))
    assert made.actions == ()


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


CONVERGED_HOLDINGS = {
    (REGISTRY.key, "principal-1"): frozenset({Role.ACR_PULL.value}),
    (STORAGE.key, "principal-1"): frozenset({Role.STORAGE_BLOB_DATA_CONTRIBUTOR.value}),
}


def test_a_workspace_removed_from_the_tag_loses_the_compute_autoattach_made_and_its_roles():
    ours = compute()
    result = plan(
        observation(
            decision=TagDecision((), ()),
            owned=(ours,),
            computes={},
            role_holdings=CONVERGED_HOLDINGS,
            our_roles=CONVERGED_HOLDINGS,
        )
    )
    assert set(result.actions[:-1]) == {
        RevokeRole(REGISTRY, Role.ACR_PULL, "principal-1", "compute aks-ml"),
        RevokeRole(STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "principal-1", "compute aks-ml"),
    }
    assert isinstance(result.actions[-1], DetachCompute)
    assert "no longer tagged" in result.actions[-1].reason


def test_a_compute_already_being_detached_has_its_roles_revoked_unless_another_still_needs_them():
    # a user-assigned identity several clusters' computes share: while the other cluster's
    # compute was there, the roles were kept; once it no longer needs them they go, even though
    # this compute's own detach is already under way
    leaving = compute(provisioning_state="Deleting")
    holdings = dict(CONVERGED_HOLDINGS)
    result = plan(
        observation(
            decision=TagDecision((), ()),
            owned=(leaving,),
            role_holdings=holdings,
            our_roles=holdings,
        )
    )
    assert set(result.actions) == {
        RevokeRole(REGISTRY, Role.ACR_PULL, "principal-1", "compute aks-ml"),
        RevokeRole(STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "principal-1", "compute aks-ml"),
    }  # and no second detach

    still_used = plan(
        observation(
            decision=TagDecision((), ()),
            owned=(leaving,),
            role_holdings=holdings,
            our_roles=holdings,
            kept_elsewhere=frozenset({(REGISTRY.key, Role.ACR_PULL.value, "principal-1")}),
        )
    )
    assert set(still_used.actions) == {
        RevokeRole(STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "principal-1", "compute aks-ml")
    }


def test_a_compute_gone_since_it_was_announced_has_its_identitys_roles_revoked_and_no_detach():
    uai = ResourceId.parse(
        SUB + "/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ml"
    )
    gone = compute(
        identity_type=IdentityType.USER_ASSIGNED,
        principal_id=None,
        user_assigned_identity=uai,
        provisioning_state="Deleted",
    )
    holdings = {
        (REGISTRY.key, "uai-principal"): frozenset({Role.ACR_PULL.value}),
        (STORAGE.key, "uai-principal"): frozenset({Role.STORAGE_BLOB_DATA_CONTRIBUTOR.value}),
    }
    result = plan(
        observation(
            decision=TagDecision((), ()),
            departed=(gone,),
            principals={uai.key: "uai-principal"},
            role_holdings=holdings,
            our_roles=holdings,
        )
    )
    assert set(result.actions) == {
        RevokeRole(REGISTRY, Role.ACR_PULL, "uai-principal", "compute aks-ml"),
        RevokeRole(STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "uai-principal", "compute aks-ml"),
    }


def test_a_deleted_cluster_detaches_what_autoattach_made_there():
    gone = ClusterState(id=CLUSTER, exists=False)
    result = plan(
        observation(
            cluster=gone,
            owned=(compute(),),
            role_holdings=CONVERGED_HOLDINGS,
            our_roles=CONVERGED_HOLDINGS,
        )
    )
    detaches = [a for a in result.actions if isinstance(a, DetachCompute)]
    assert len(detaches) == 1 and "was deleted" in detaches[0].reason
    assert sum(isinstance(a, RevokeRole) for a in result.actions) == 2


def test_a_compute_a_person_made_is_never_detached():
    by_hand = compute(managed_by_autoattach=False)
    result = plan(observation(decision=TagDecision((), ()), owned=(), computes={}))
    assert result.actions == ()
    assert by_hand.managed_by_autoattach is False


def test_a_failed_compute_autoattach_made_is_detached_to_be_attached_again():
    failed = compute(provisioning_state="Failed")
    result = plan(
        observation(
            namespaces=frozenset({"azureml"}),
            computes={(WORKSPACE, "aks-ml"): failed},
            owned=(failed,),
            role_holdings=CONVERGED_HOLDINGS,
        )
    )
    assert [type(a) for a in result.actions][-1] is DetachCompute
    assert "attaching again" in result.actions[-1].reason
    assert not any(isinstance(a, AttachCompute) for a in result.actions)


def test_a_failed_compute_is_left_failed_while_the_extension_it_needs_has_failed():
    failed = compute(provisioning_state="Failed")
    extension = ExtensionState(READY_EXTENSION.id, READY_EXTENSION.extension_type, "Failed")
    result = plan(
        observation(
            extension=extension,
            namespaces=frozenset({"azureml"}),
            computes={(WORKSPACE, "aks-ml"): failed},
            owned=(failed,),
            role_holdings=CONVERGED_HOLDINGS,
        )
    )
    assert not any(isinstance(a, DetachCompute | AttachCompute) for a in result.actions)
    assert "ended Failed; fix or reinstall it" in result.problems[0].message
    assert not result.problems[0].recheck


def test_a_workspace_on_a_user_assigned_identity_gets_its_cluster_rights_before_attach():
    identity = ResourceId.parse(
        SUB + "/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws"
    )
    workspace = WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, identity)
    result = plan(
        observation(
            workspaces={WORKSPACE: workspace},
            principals={identity.key: "ws-principal"},
            named_identities={WORKSPACE: identity},
            namespaces=frozenset({"azureml"}),
        )
    )
    grants = {(a.scope, a.role) for a in result.actions if isinstance(a, GrantRole)}
    assert grants == {
        (CLUSTER, Role.READER),
        (CLUSTER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR),
        (CLUSTER, Role.AKS_CLUSTER_ADMIN),
    }
    assert not any(isinstance(a, AttachCompute) for a in result.actions)


def test_an_arc_cluster_also_needs_azure_relay_owner_on_the_extensions_relay():
    arc = ResourceId.parse(
        SUB + "/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
    )
    relay = ResourceId.parse(SUB + "/resourceGroups/rg-edge/providers/Microsoft.Relay/namespaces/r")
    identity = ResourceId.parse(
        SUB + "/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws"
    )
    workspace = WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, identity)
    base = dict(
        cluster=ClusterState(id=arc, exists=True, provisioning_state="Succeeded"),
        workspaces={WORKSPACE: workspace},
        principals={identity.key: "ws-principal"},
        named_identities={WORKSPACE: identity},
        namespace_route=NamespaceRoute("kubernetes", "https://kv.vault.azure.net/secrets/k"),
        namespaces=frozenset({"azureml"}),
    )
    without_relay = plan(observation(**base))
    assert without_relay.wait_reason is None
    assert "relayserver.hybridConnectionResourceID" in without_relay.problems[0].message
    with_relay = plan(observation(**base, relay=relay))
    assert (relay, Role.AZURE_RELAY_OWNER) in {
        (a.scope, a.role) for a in with_relay.actions if isinstance(a, GrantRole)
    }


def test_an_arc_cluster_without_a_kubeconfig_in_policy_is_a_problem_in_words():
    arc = ResourceId.parse(
        SUB + "/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
    )
    result = plan(
        observation(
            cluster=ClusterState(id=arc, exists=True, provisioning_state="Succeeded"),
            namespace_route=None,
        )
    )
    assert result.actions == ()
    assert "kubeconfig_secret" in result.problems[0].message


def test_a_missing_extension_is_installed_when_policy_says_so_and_waited_for_otherwise():
    install = ExtensionPolicy(when_missing=WhenExtensionMissing.INSTALL)
    installing = plan(observation(extension=None, extension_policy=install))
    assert installing.actions == (InstallExtension(CLUSTER, install),)
    assert "installing" in (installing.wait_reason or "")
    waiting = plan(observation(extension=None))
    assert waiting.actions == () and "not installed" in (waiting.wait_reason or "")


def test_a_failed_extension_is_reported_not_waited_for():
    failed = ExtensionState(READY_EXTENSION.id, READY_EXTENSION.extension_type, "Failed")
    result = plan(observation(extension=failed))
    assert result.wait_reason is None and result.actions == ()
    assert "ended Failed" in result.problems[0].message


def test_roles_a_person_granted_are_never_revoked_on_detach():
    result = plan(
        observation(
            decision=TagDecision((), ()),
            owned=(compute(),),
            role_holdings=CONVERGED_HOLDINGS,
            our_roles={},
        )
    )
    assert [type(a) for a in result.actions] == [DetachCompute]


def test_switching_storage_access_replaces_the_storage_role_autoattach_granted():
    reader_held = {
        (REGISTRY.key, "principal-1"): frozenset({Role.ACR_PULL.value}),
        (STORAGE.key, "principal-1"): frozenset({Role.STORAGE_BLOB_DATA_READER.value}),
    }
    result = plan(
        observation(
            namespaces=frozenset({"azureml"}),
            computes={(WORKSPACE, "aks-ml"): compute()},
            role_holdings=reader_held,
            our_roles=reader_held,
        )
    )
    assert (
        GrantRole(STORAGE, Role.STORAGE_BLOB_DATA_CONTRIBUTOR, "principal-1", WORKSPACE, ATTACHMENT)
        in result.actions
    )
    revokes = [a for a in result.actions if isinstance(a, RevokeRole)]
    assert [(r.scope, r.role) for r in revokes] == [(STORAGE, Role.STORAGE_BLOB_DATA_READER)]


def test_a_workspace_identity_loses_the_cluster_rights_autoattach_gave_when_it_leaves():
    identity = ResourceId.parse(
        SUB + "/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws"
    )
    workspace = WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, identity)
    made = (
        MadeAssignment(CLUSTER, Role.READER, "ws-principal"),
        MadeAssignment(CLUSTER, Role.AKS_CLUSTER_ADMIN, "ws-principal"),
    )
    result = plan(
        observation(
            decision=TagDecision((), ()),
            owned=(compute(),),
            workspaces={WORKSPACE: workspace},
            principals={identity.key: "ws-principal"},
            made_here=made,
        )
    )
    revoked = {(a.scope, a.role) for a in result.actions if isinstance(a, RevokeRole)}
    assert revoked == {(CLUSTER, Role.READER), (CLUSTER, Role.AKS_CLUSTER_ADMIN)}


def test_cluster_rights_autoattach_gave_an_identity_no_workspace_here_uses_are_revoked():
    # the run that detached that workspace's last compute stopped before revoking: the next run
    # no longer sees the workspace, only autoattach's assignments on the cluster
    made = (MadeAssignment(CLUSTER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, "gone-principal"),)
    result = plan(observation(decision=TagDecision((), ()), made_here=made))
    revoked = [
        (a.scope, a.role, a.principal_id) for a in result.actions if isinstance(a, RevokeRole)
    ]
    assert revoked == [(CLUSTER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, "gone-principal")]


def test_an_arc_cluster_that_is_offline_or_expired_is_waited_for_not_failed():
    arc = ResourceId.parse(
        SUB + "/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
    )
    for status in ("Offline", "Expired"):
        cluster = ClusterState(
            id=arc, exists=True, provisioning_state="Succeeded", connectivity_status=status
        )
        result = plan(observation(cluster=cluster))
        assert status in (result.wait_reason or "")
        assert result.actions == () and result.problems == ()
