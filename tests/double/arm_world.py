"""The world the ARM double's own tests start from, and its ids."""

from __future__ import annotations

from typing import Any

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ml"
AKS = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-ml"
AKS_PLAIN = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-plain"
ARC = f"{RG}/providers/Microsoft.Kubernetes/connectedClusters/arc-edge"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-research"
WS_UAI = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"
UAI = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-compute"
UAI_PRINCIPAL = "11111111-1111-4111-8111-111111111111"
UAI_CLIENT = "22222222-2222-4222-8222-222222222222"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stresearch"
ACR = f"{RG}/providers/Microsoft.ContainerRegistry/registries/acrresearch"
AZUREML = "Microsoft.AzureML.Kubernetes"

BASE_WORLD: dict[str, Any] = {
    "clusters": [
        {
            "id": AKS,
            "location": "westeurope",
            "tags": {"azureml-attach": "ws-research,ws-prod"},
            "provisioning_state": "Succeeded",
            "azure_rbac": True,
            "extensions": [{"name": "azureml", "extension_type": AZUREML}],
            "namespaces": ["default"],
        },
        {
            "id": AKS_PLAIN,
            "location": "westeurope",
            "tags": {"team": "web"},
            "azure_rbac": False,
            "extensions": [
                {
                    "name": "aml",
                    "extension_type": AZUREML,
                    "provisioning_state": "Creating",
                    "succeeds_after_seconds": 120,
                }
            ],
        },
        {
            "id": ARC,
            "location": "northeurope",
            "tags": {"azureml-attach": "ws-research"},
            "provisioning_state": "Creating",
            "succeeds_after_seconds": 60,
            "extensions": [{"name": "ml-ext", "extension_type": AZUREML}],
        },
    ],
    "workspaces": [
        {
            "id": WS,
            "location": "westeurope",
            "storage_account": STORAGE,
            "container_registry": ACR,
            "identity": {"type": "SystemAssigned"},
        },
        {
            "id": WS_UAI,
            "location": "westeurope",
            "storage_account": STORAGE,
            "container_registry": ACR,
            "identity": {"type": "UserAssigned", "user_assigned_identity": UAI},
        },
    ],
    "identities": [{"id": UAI, "principal_id": UAI_PRINCIPAL, "client_id": UAI_CLIENT}],
    "computes": [
        {
            "workspace": WS,
            "name": "by-hand",
            "resource_id": AKS,
            "namespace": "team-x",
            "identity_type": "system_assigned",
        }
    ],
    "role_assignments": [],
}


def compute_body(cluster: str = AKS) -> dict[str, Any]:
    """A raw Kubernetes compute PUT body (system-assigned identity, namespace team-x)."""
    return {
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "computeType": "Kubernetes",
            "resourceId": cluster,
            "properties": {"namespace": "team-x"},
        },
    }
