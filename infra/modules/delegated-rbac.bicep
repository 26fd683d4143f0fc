targetScope = 'subscription'

// Role Based Access Control Administrator for the Function identity on one subscription, limited by an ABAC condition
// (infra/abac/rbac-admin-condition.txt) to creating and deleting assignments of exactly the roles autoattach grants,
// and only to service principals (managed identities). Without the condition this role could grant anything,
// including Owner; with it, it cannot. Owner and User Access Administrator are never assigned.
//
// The roles the condition allows, and why autoattach grants each:
//   AcrPull (7f951dda-...)                        compute identity pulls images from the workspace's registry
//   Storage Blob Data Reader (2a2b9908-...)       compute identity reads the workspace's storage (read-only policy)
//   Storage Blob Data Contributor (ba92f5b4-...)  compute identity writes the workspace's storage (read-write policy)
//   Reader (acdd72a7-...)                         workspace identity reads the cluster (attach needs it)
//   Kubernetes Extension Contributor (85cb6faf-...) workspace identity manages the Azure ML extension
//   Azure Kubernetes Service Cluster Admin Role (0ab0b1a8-...) workspace identity reaches the AKS cluster
//   Azure Relay Owner (2787bf04-...)              workspace identity uses the Arc extension's relay
//
// Role Based Access Control Administrator also carries */read on its scope; autoattach's reads are nonetheless
// listed explicitly in its custom roles so that they stand on their own.

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'

// Whitespace in a condition is insignificant; it is kept on one line for the API.
var condition = replace(replace(loadTextContent('../abac/rbac-admin-condition.txt'), '\r', ''), '\n', ' ')

resource delegatedRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, rbacAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: condition
    conditionVersion: '2.0'
    description: 'autoattach: grant and revoke only the roles attach needs, only to managed identities'
  }
}
