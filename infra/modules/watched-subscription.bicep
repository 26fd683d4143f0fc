targetScope = 'subscription'

// Everything autoattach needs in one watched subscription: the Event Grid system topic and its two event
// subscriptions (in a small resource group of their own), and the Function identity's cluster operator role (a
// definition of this subscription: custom-roles.bicep, deployed here before this module).
//
// ARM allows ONE system topic of type Microsoft.Resources.Subscriptions per subscription. When the platform already has
// one, existingSystemTopicId names it: autoattach then adds its two event subscriptions to that topic (in the topic's
// resource group) and delivers with the topic's system-assigned identity, which must be enabled; it creates no topic
// and no resource group. The preprovision hook finds such a topic and names the parameter to set (docs/deploy.md).

param resourceGroupName string
param location string
param tags object = {}
param systemTopicName string

@description('Resource id of an existing ARM (Microsoft.Resources.Subscriptions) system topic in this subscription to reuse. Empty: create systemTopicName in resourceGroupName.')
param existingSystemTopicId string = ''

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param functionPrincipalId string

@description('Name (GUID) of the autoattach cluster operator custom role of this subscription.')
param clusterOperatorRoleName string

@description('Resource id of the deployment\'s Log Analytics workspace (the created system topic\'s diagnostics).')
param logAnalyticsId string

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

var reuseTopic = !empty(existingSystemTopicId)
var topicGroupName = reuseTopic ? split(existingSystemTopicId, '/')[4] : resourceGroupName

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (!reuseTopic) {
  name: resourceGroupName
  location: location
  tags: tags
}

module topic 'event-topic.bicep' = if (!reuseTopic) {
  name: 'autoattach-topic-${token}'
  scope: eventsGroup
  params: {
    name: systemTopicName
    tags: tags
    logAnalyticsId: logAnalyticsId
  }
}

resource existingTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (reuseTopic) {
  name: last(split(existingSystemTopicId, '/'))
  scope: resourceGroup(topicGroupName)
}

var topicName = reuseTopic ? existingTopic.name : topic.outputs.name
var topicPrincipalId = reuseTopic ? existingTopic.identity.principalId : topic.outputs.principalId

// The topic's identity must be able to send before Event Grid validates the managed-identity destinations.
module deliveryAccess 'event-delivery-access.bicep' = {
  name: 'autoattach-delivery-${token}-${uniqueString(subscription().id)}'
  scope: hubGroup
  params: {
    principalId: topicPrincipalId
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
  scope: resourceGroup(topicGroupName)
  dependsOn: [
    deliveryAccess
    eventsGroup
  ]
  params: {
    systemTopicName: topicName
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
