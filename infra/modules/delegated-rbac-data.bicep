// On ONE allowed workspace's container registry or storage account (in that resource's own resource group): the
// autoattach role delegator for the Function identity, limited by the ABAC condition
// (infra/abac/rbac-admin-condition.txt) to the data roles a compute identity needs there, granted to and revoked
// from service principals other than autoattach:
//   AcrPull (7f951dda-...)                        on the registry: pulls images
//   Storage Blob Data Reader (2a2b9908-...)       on the storage account: reads (read-only policy)
//   Storage Blob Data Contributor (ba92f5b4-...)  on the storage account: writes (read-write policy)
// The registry and account ids come from the workspaces themselves (the preprovision hook reads them), wherever they
// live. The principal cannot be pinned here: a compute's system-assigned identity exists only once the compute is
// attached (docs/deploy.md).

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Name (GUID) of the autoattach role delegator custom role in this resource group\'s subscription.')
param roleDelegatorRoleName string

@description('Name of the workspace\'s container registry here; empty when this deployment is for a storage account.')
param registryName string = ''

@description('Name of the workspace\'s storage account here; empty when this deployment is for a registry.')
param storageAccountName string = ''

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var blobRoles = [
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // Storage Blob Data Reader
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
]

var template = replace(replace(loadTextContent('../abac/rbac-admin-condition.txt'), '\r', ''), '\n', ' ')
var registryCondition = replace(replace(template, '__GRANTABLE_ROLES__', acrPull), '__SELF__', principalId)
var storageCondition = replace(replace(template, '__GRANTABLE_ROLES__', join(blobRoles, ', ')), '__SELF__', principalId)

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = if (!empty(registryName)) {
  name: registryName
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!empty(storageAccountName)) {
  name: storageAccountName
}

resource onRegistry 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(registryName)) {
  name: guid(registry.id, principalId, roleDelegatorRoleName)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDelegatorRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: registryCondition
    conditionVersion: '2.0'
    description: 'autoattach: grant and revoke only AcrPull on this registry, only to other managed identities'
  }
}

resource onAccount 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(storageAccountName)) {
  name: guid(account.id, principalId, roleDelegatorRoleName)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDelegatorRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: storageCondition
    conditionVersion: '2.0'
    description: 'autoattach: grant and revoke only the Storage Blob Data roles on this account, only to other managed identities'
  }
}
