// On one allowed workspace's resource group: the autoattach role delegator for the Function identity, limited by the
// ABAC condition (infra/abac/rbac-admin-condition.txt) to the data roles a compute identity needs on the workspace's
// container registry and storage account, granted to and revoked from service principals other than autoattach:
//   AcrPull (7f951dda-...)                        pulls images from the workspace's registry
//   Storage Blob Data Reader (2a2b9908-...)       reads the workspace's storage (read-only policy)
//   Storage Blob Data Contributor (ba92f5b4-...)  writes the workspace's storage (read-write policy)
// Azure ML keeps a workspace's registry and storage account in the workspace's resource group unless told otherwise;
// a registry or account elsewhere is not covered (docs/deploy.md).

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Name (GUID) of the autoattach role delegator custom role in this resource group\'s subscription.')
param roleDelegatorRoleName string

@description('Built-in role ids the condition lets autoattach grant and revoke here.')
param grantableRoleIds array

var template = replace(replace(loadTextContent('../abac/rbac-admin-condition.txt'), '\r', ''), '\n', ' ')
var condition = replace(replace(template, '__GRANTABLE_ROLES__', join(grantableRoleIds, ', ')), '__SELF__', principalId)

resource delegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDelegatorRoleName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDelegatorRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: condition
    conditionVersion: '2.0'
    description: 'autoattach: grant and revoke only the data roles attach needs, only to other managed identities'
  }
}
