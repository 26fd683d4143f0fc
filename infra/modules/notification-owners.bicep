// Workspace owners' groups may create, change and delete their own event subscriptions on the notification topic
// (EventGrid EventSubscription Contributor on this topic only): nothing on the resource group, nothing to publish.

param notificationTopicName string

@description('Microsoft Entra object ids of the owners (blanks and duplicates already dropped).')
param principalIds array

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
param principalType string = 'Group'

var eventSubscriptionContributor = '428e0ff0-5e57-4d9c-a221-2c70d0e0a443'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: notificationTopicName
}

resource subscribe 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in principalIds: {
  name: guid(topic.id, principalId, eventSubscriptionContributor)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventSubscriptionContributor)
    principalId: principalId
    principalType: principalType
    description: 'autoattach notification owners: create event subscriptions on the notification topic'
  }
}]
