targetScope = 'subscription'

// autoattach's custom roles, created in ONE subscription (the one this module is deployed to) and assignable only
// there. Every subscription autoattach works in gets its own copy (main.bicep deploys this module once per watched or
// workspace subscription), so adding or removing a subscription never changes any definition's assignableScopes:
// ARM refuses to shrink assignableScopes while assignments exist under the removed scope
// (RoleScopeBeingRemovedContainsAssignments), and a definition is created where it is assignable (docs/deploy.md).
//
// Built-in roles are either too broad (Contributor on clusters or workspaces; Role Based Access Control Administrator
// with */read on the whole subscription) or too narrow, so each role lists exactly the operations the code performs,
// and each operation says why. No role borrows a read from another.

@description('Unique suffix (environment and its token) so that role names, unique in the tenant, do not collide.')
param nameSuffix string

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
  // Create the namespace a workspace's compute runs in, through ARM (AKS managed namespaces), and read the PUT's
  // long-running operation status (Azure-AsyncOperation under the provider's locations).
  'Microsoft.ContainerService/managedClusters/managedNamespaces/read'
  'Microsoft.ContainerService/managedClusters/managedNamespaces/write'
  'Microsoft.ContainerService/locations/operations/read'
  'Microsoft.ContainerService/locations/operationresults/read'
  // Read which workspaces an AKS cluster's Trusted Access binds (their user-assigned identity then also needs
  // Contributor on the cluster to attach it).
  'Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/read'
  // Read the Azure Relay an Arc cluster's extension names (it receives Azure Relay Owner for the workspace identity).
  'Microsoft.Relay/namespaces/read'
  'Microsoft.Relay/namespaces/hybridConnections/read'
]

// Assigned on each workspace the attach policy allows, never on a subscription.
var computeOperatorActions = [
  // Read the workspace's location, storage account, container registry and identity.
  'Microsoft.MachineLearningServices/workspaces/read'
  // Attach (create), inspect and detach (delete) the Kubernetes computes autoattach owns, and poll the attach.
  'Microsoft.MachineLearningServices/workspaces/computes/read'
  'Microsoft.MachineLearningServices/workspaces/computes/write'
  'Microsoft.MachineLearningServices/workspaces/computes/delete'
]

// Assigned on each allowed workspace's resource group: read the status of the attaches and detaches autoattach starts.
// ARM needs this at the resource group level, not on the workspace (modules/operation-reader.bicep). Azure ML's status
// URL is .../providers/Microsoft.MachineLearningServices/locations/{region}/computeOperationsStatus/{id}; its action is
// published ("Azure permissions for AI + machine learning": "Gets the status of a particular compute operation").
var operationReaderActions = [
  'Microsoft.MachineLearningServices/locations/computeoperationsstatus/read'
]

// Assigned with an ABAC condition: on each watched subscription for the cluster roles, granted only to the allowed
// workspaces' identities (infra/abac/cluster-roles-condition.txt); on each allowed workspace's container registry and
// storage account for the data roles (infra/abac/rbac-admin-condition.txt). Grant and revoke, never for itself.
var roleDelegatorActions = [
  'Microsoft.Authorization/roleAssignments/write'
  'Microsoft.Authorization/roleAssignments/delete'
]

// Assigned on each watched and workspace subscription: see which roles a principal holds, and list the assignments
// autoattach made (the sweep removes orphans).
var assignmentReaderActions = [
  'Microsoft.Authorization/roleAssignments/read'
]

var roles = [
  {
    key: 'cluster-operator'
    title: 'cluster operator'
    description: 'autoattach: read AKS and Arc clusters, install the Azure ML extension, create AKS managed namespaces.'
    actions: clusterOperatorActions
  }
  {
    key: 'compute-operator'
    title: 'compute operator'
    description: 'autoattach: attach and detach Kubernetes computes on an allowed Azure ML workspace.'
    actions: computeOperatorActions
  }
  {
    key: 'role-delegator'
    title: 'role delegator'
    description: 'autoattach: grant and revoke the roles attach needs (limited by an ABAC condition on each assignment).'
    actions: roleDelegatorActions
  }
  {
    key: 'assignment-reader'
    title: 'assignment reader'
    description: 'autoattach: read role assignments.'
    actions: assignmentReaderActions
  }
  {
    key: 'operation-reader'
    title: 'operation reader'
    description: 'autoattach: read the status of the Azure ML operations it starts.'
    actions: operationReaderActions
  }
]

resource definitions 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [for role in roles: {
  name: guid(subscription().id, 'autoattach-${role.key}', nameSuffix)
  properties: {
    roleName: 'autoattach ${role.title} (${nameSuffix}, ${subscription().subscriptionId})'
    description: role.description
    type: 'CustomRole'
    permissions: [
      {
        actions: role.actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}]

// The role definitions' names (GUIDs), to be assigned in this subscription.
output clusterOperatorRoleName string = definitions[0].name
output computeOperatorRoleName string = definitions[1].name
output roleDelegatorRoleName string = definitions[2].name
output assignmentReaderRoleName string = definitions[3].name
output operationReaderRoleName string = definitions[4].name
