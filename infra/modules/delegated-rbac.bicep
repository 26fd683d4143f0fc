targetScope = 'subscription'

// On one watched subscription: the autoattach role delegator (role assignments write and delete, nothing else) for
// the Function identity, limited by an ABAC condition (infra/abac/cluster-roles-condition.txt) to the roles a
// workspace identity needs where clusters live, granted to and revoked from ONLY the user-assigned identities the
// allowed workspaces run under (their principal ids, which the preprovision hook reads from the workspaces), never
// autoattach itself; and the assignment reader (role assignments read) so that the code sees what is held and what
// it made.
//
// The roles the condition allows here, and why autoattach grants each (to a workspace's identity):
//   Reader (acdd72a7-...)                                     reads the cluster (attach needs it)
//   Kubernetes Extension Contributor (85cb6faf-...)           manages the Azure ML extension
//   Azure Kubernetes Service Cluster Admin Role (0ab0b1a8-...) reaches the AKS cluster
//   Azure Relay Owner (2787bf04-...)                          uses the Arc extension's relay (in the cluster's group)
//   Contributor (b24988ac-...)                                attach to an AKS cluster whose Trusted Access binds the
//                                                             workspace (Azure ML's attach doc); only where it does
// ABAC limits who and which role, not where: an assignment the condition allows may sit at any scope under this
// subscription (docs/deploy.md, "What limits where").
// The data roles (AcrPull, Storage Blob Data Reader/Contributor) are delegated only on each workspace's registry and
// storage account: delegated-rbac-data.bicep.

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Name (GUID) of the autoattach role delegator custom role in this subscription.')
param roleDelegatorRoleName string

@description('Name (GUID) of the autoattach assignment reader custom role in this subscription.')
param assignmentReaderRoleName string

@description('Built-in role ids the condition lets autoattach grant and revoke here.')
param grantableRoleIds array

@description('Principal (object) ids of the allowed workspaces\' user-assigned identities: the only principals the condition lets autoattach grant the cluster roles to. Empty: no workspace runs under one, so no delegation here at all.')
param grantablePrincipalIds array

// The placeholders are filled in; whitespace in a condition is insignificant, so it goes to the API on one line.
var template = replace(replace(loadTextContent('../abac/cluster-roles-condition.txt'), '\r', ''), '\n', ' ')
var condition = replace(replace(replace(template, '__GRANTABLE_ROLES__', join(grantableRoleIds, ', ')), '__PRINCIPALS__', join(grantablePrincipalIds, ', ')), '__SELF__', principalId)

resource delegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(grantablePrincipalIds)) {
  name: guid(subscription().id, principalId, roleDelegatorRoleName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDelegatorRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: condition
    conditionVersion: '2.0'
    description: 'autoattach: grant and revoke only the cluster roles attach needs, only to the allowed workspaces\' identities'
  }
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, assignmentReaderRoleName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', assignmentReaderRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read role assignments (what is held, what autoattach made)'
  }
}
