// Read-only access to the kubeconfigs of Arc clusters (autoattach creates namespaces on Arc clusters through the
// Kubernetes API). The vault must use Azure RBAC. Key Vault Secrets User on each named secret only, when the
// secrets are named (the preprovision hook takes them from the policy's kubeconfig_secret URIs); on the whole vault
// only when they cannot be named at deploy time (a policy that names secrets per cluster with a placeholder) or do
// not exist yet: a role assignment on a secret needs the secret, and Key Vault has no ABAC condition that could
// narrow a vault-wide assignment. On a first deployment before the secrets exist the hook therefore passes no names
// (vault-wide); provisioning again once they exist narrows it (docs/deploy.md).

param vaultName string

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Names of the secrets autoattach reads. Empty: the whole vault (see docs/deploy.md).')
param secretNames array = []

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for secretName in secretNames: {
  parent: vault
  name: secretName
}]

resource readSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (secretName, i) in secretNames: {
  name: guid(secrets[i].id, principalId, keyVaultSecretsUser)
  scope: secrets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read the kubeconfig ${secretName}'
  }
}]

resource readVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (empty(secretNames)) {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read kubeconfigs for Arc clusters (secrets not named at deploy time)'
  }
}
