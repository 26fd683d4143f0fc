targetScope = 'subscription'

// autoattach's two custom roles. Built-in roles are either too broad (Contributor on clusters or workspaces) or too
// narrow (none covers managed namespaces plus extensions plus computes), so each role lists exactly the operations
// the code performs, and each operation says why.

@description('Unique suffix so that the role names (unique in the tenant) do not collide between environments.')
param nameSuffix string

@description('Subscriptions autoattach watches: where the cluster operator role may be assigned.')
param watchedSubscriptionIds array

@description('Subscriptions of the workspaces autoattach may attach to: where the compute operator role may be assigned.')
param workspaceSubscriptionIds array

// Assigned on each watched subscription.
var clusterOperatorActions = [
  // The periodic sweep lists tagged clusters across the subscription.
  'Microsoft.Resources/subscriptions/resources/read'
  'Microsoft.Resources/subscriptions/resourceGroups/read'
  // Read a cluster's tags and provisioningState (AKS and Arc).
  'Microsoft.ContainerService/managedClusters/read'
  'Microsoft.Kubernetes/connectedClusters/read'
  // Find the Azure ML extension by type and read its provisioningState; install it when the policy says so,
  // and poll the install's long-running operation. Never delete.
  'Microsoft.KubernetesConfiguration/extensions/read'
  'Microsoft.KubernetesConfiguration/extensions/write'
  'Microsoft.KubernetesConfiguration/extensions/operations/read'
  // Create the namespace a workspace's compute runs in, through ARM (AKS managed namespaces).
  'Microsoft.ContainerService/managedClusters/managedNamespaces/read'
  'Microsoft.ContainerService/managedClusters/managedNamespaces/write'
  // Attach with a user-assigned identity: Azure ML checks that the caller may assign that identity.
  'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'
]

// Assigned on each workspace the attach policy allows, never on a subscription.
var computeOperatorActions = [
  // Read the workspace's location, storage account, container registry and identity.
  'Microsoft.MachineLearningServices/workspaces/read'
  // Attach (create), inspect and detach (delete) the Kubernetes computes autoattach owns.
  'Microsoft.MachineLearningServices/workspaces/computes/read'
  'Microsoft.MachineLearningServices/workspaces/computes/write'
  'Microsoft.MachineLearningServices/workspaces/computes/delete'
]

resource clusterOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'autoattach-cluster-operator', nameSuffix)
  properties: {
    roleName: 'autoattach cluster operator (${nameSuffix})'
    description: 'autoattach: read AKS and Arc clusters, install the Azure ML extension, create AKS managed namespaces.'
    type: 'CustomRole'
    permissions: [
      {
        actions: clusterOperatorActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [for subscriptionId in watchedSubscriptionIds: '/subscriptions/${subscriptionId}']
  }
}

resource computeOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'autoattach-compute-operator', nameSuffix)
  properties: {
    roleName: 'autoattach compute operator (${nameSuffix})'
    description: 'autoattach: attach and detach Kubernetes computes on an allowed Azure ML workspace.'
    type: 'CustomRole'
    permissions: [
      {
        actions: computeOperatorActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [for subscriptionId in workspaceSubscriptionIds: '/subscriptions/${subscriptionId}']
  }
}

// The role definitions' names (GUIDs); a custom role is referenced under any of its assignable subscriptions.
output clusterOperatorRoleName string = clusterOperator.name
output computeOperatorRoleName string = computeOperator.name
