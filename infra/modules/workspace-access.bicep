// The compute operator role on one Azure ML workspace the attach policy allows: autoattach can write computes there
// and nowhere else.

param workspaceName string

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Name (GUID) of the autoattach compute operator custom role of the workspace\'s subscription.')
param computeOperatorRoleName string

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource computeOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, computeOperatorRoleName)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', computeOperatorRoleName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: attach and detach Kubernetes computes on this workspace'
  }
}
