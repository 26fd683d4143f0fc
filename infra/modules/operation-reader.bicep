// On one allowed workspace's resource group: the autoattach operation reader, so that the Function identity can read
// the status of the attaches and detaches it starts there. ARM ("Track asynchronous Azure operations", permission for
// tracking async status): the status URL is not scoped to the resource, so a role on the resource (the compute
// operator is on the workspace) starts an operation but cannot track it; the resource group level is needed.

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Name (GUID) of the autoattach operation reader custom role in this resource group\'s subscription.')
param operationReaderRoleName string

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, operationReaderRoleName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', operationReaderRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read the status of the Azure ML operations it starts in this resource group'
  }
}
