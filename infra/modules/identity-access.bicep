// Managed Identity Operator on ONE user-assigned identity the attach policy gives a compute: Azure ML checks that
// whoever attaches a compute with a user-assigned identity may assign it
// (Microsoft.ManagedIdentity/userAssignedIdentities/assign/action, else LinkedAuthorizationFailed), and autoattach
// reads the identity's principal id to grant it roles. On this identity only, wherever it lives (a workspace-only
// subscription too), never on every identity of a subscription.

param identityName string

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

// Managed Identity Operator: */read and */assign/action on user-assigned identities. Assigned on one identity, its
// other actions (deployments, resource groups, support) have nothing under this scope to apply to.
var managedIdentityOperator = 'f1a07417-d97a-45cb-824c-7a7467783830'

resource computeIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource assign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(computeIdentity.id, principalId, managedIdentityOperator)
  scope: computeIdentity
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', managedIdentityOperator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: attach computes with this user-assigned identity'
  }
}
