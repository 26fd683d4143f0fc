// What the Function App's identity may do on the resources of its own resource group, each at the narrowest scope.

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

param storageAccountName string
param serviceBusNamespaceName string
param queueNames array
param notificationTopicName string
param applicationInsightsName string

// On each queue, and only there: the Service Bus triggers receive, complete, abandon and dead-letter messages; the
// code schedules re-check copies onto the same queue; and Flex Consumption's target-based scaling reads the queue's
// message count through the Service Bus administration API, which needs the Manage claim. Data Receiver and Data
// Sender lack it (the extension falls back to peeking, or fails with UnauthorizedAccessException), so the least
// role that scales is Azure Service Bus Data Owner, scoped to the queue (docs/deploy.md).
var roles = {
  // Host storage: the Functions host keeps its leases, locks and the Flex deployment package in blobs.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Service Bus triggers, re-check copies and target-based scaling on each queue (see above).
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  // Owner notifications are published to the notification topic.
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  // Telemetry with Microsoft Entra authentication (local auth is off on Application Insights).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [for queueName in queueNames: {
  parent: namespace
  name: queueName
}]

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: notificationTopicName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource hostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: Functions host storage (identity-based AzureWebJobsStorage)'
  }
}

resource queueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in queueNames: {
  name: guid(queues[i].id, principalId, roles.serviceBusDataOwner)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: Service Bus trigger, scaling and scheduled re-checks on ${queueName}'
  }
}]

resource notify 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, roles.eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: publish owner notifications'
  }
}

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'autoattach: telemetry with Microsoft Entra authentication'
  }
}
