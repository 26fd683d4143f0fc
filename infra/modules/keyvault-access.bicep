// Read-only access to the secrets of the Key Vault where the platform team keeps kubeconfigs for Arc clusters
// (autoattach creates namespaces on Arc clusters through the Kubernetes API). The vault must use Azure RBAC.

param vaultName string

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource readSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read kubeconfigs for Arc clusters'
  }
}
