targetScope = 'subscription'

// Everything autoattach needs in one watched subscription: the Event Grid system topic and its two event
// subscriptions (in a small resource group of their own), and the Function identity's cluster operator role (a
// definition of this subscription: custom-roles.bicep, deployed here before this module).

param resourceGroupName string
param location string
param tags object = {}
param systemTopicName string

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param functionPrincipalId string

@description('Name (GUID) of the autoattach cluster operator custom role of this subscription.')
param clusterOperatorRoleName string

@description('Environment token: deployment names in a subscription differ between environments.')
param token string

// Where the queues and the dead-letter container live (autoattach's own resource group).
param hubSubscriptionId string
param hubResourceGroupName string
param serviceBusNamespaceName string
param clusterEventsQueueName string
param extensionEventsQueueName string
param storageAccountName string
param deadLetterContainerName string

var hubGroup = resourceGroup(hubSubscriptionId, hubResourceGroupName)
var queueIds = {
  cluster: resourceId(hubSubscriptionId, hubResourceGroupName, 'Microsoft.ServiceBus/namespaces/queues', serviceBusNamespaceName, clusterEventsQueueName)
  extension: resourceId(hubSubscriptionId, hubResourceGroupName, 'Microsoft.ServiceBus/namespaces/queues', serviceBusNamespaceName, extensionEventsQueueName)
}
var storageId = resourceId(hubSubscriptionId, hubResourceGroupName, 'Microsoft.Storage/storageAccounts', storageAccountName)

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module topic 'event-topic.bicep' = {
  name: 'autoattach-topic-${token}'
  scope: eventsGroup
  params: {
    name: systemTopicName
    tags: tags
  }
}

// The topic's identity must be able to send before Event Grid validates the managed-identity destinations.
module deliveryAccess 'event-delivery-access.bicep' = {
  name: 'autoattach-delivery-${token}-${uniqueString(subscription().id)}'
  scope: hubGroup
  params: {
    principalId: topic.outputs.principalId
    serviceBusNamespaceName: serviceBusNamespaceName
    queueNames: [
      clusterEventsQueueName
      extensionEventsQueueName
    ]
    storageAccountName: storageAccountName
    deadLetterContainerName: deadLetterContainerName
  }
}

module eventSubscriptions 'event-subscriptions.bicep' = {
  name: 'autoattach-events-${token}'
  scope: eventsGroup
  dependsOn: [
    deliveryAccess
  ]
  params: {
    systemTopicName: topic.outputs.name
    clusterEventsQueueId: queueIds.cluster
    extensionEventsQueueId: queueIds.extension
    deadLetterStorageId: storageId
    deadLetterContainerName: deadLetterContainerName
  }
}

// Read clusters, install the Azure ML extension, create managed namespaces: see custom-roles.bicep for each action.
resource clusterOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, functionPrincipalId, clusterOperatorRoleName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', clusterOperatorRoleName)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: read clusters, install the Azure ML extension, create managed namespaces'
  }
}
