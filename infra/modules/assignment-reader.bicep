targetScope = 'subscription'

// On a subscription that holds allowed workspaces but is not watched: the assignment reader, so that the sweep can
// list the role assignments autoattach made there (AcrPull and storage roles) and remove orphans.

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Name (GUID) of the autoattach assignment reader custom role in this subscription.')
param assignmentReaderRoleName string

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, assignmentReaderRoleName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', assignmentReaderRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read role assignments (what is held, what autoattach made)'
  }
}
