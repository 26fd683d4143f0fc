// The Event Grid system topic for one watched subscription's Azure Resource Manager events. A subscription can have
// only one system topic of this type: if the platform already has one, see docs/deploy.md.

param name string
param tags object = {}

@description('Resource id of the Log Analytics workspace the topic sends its delivery failures and metrics to.')
param logAnalyticsId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  // Subscription-level system topics are global.
  location: 'global'
  tags: tags
  identity: {
    // Event Grid delivers to Service Bus and dead-letters to storage with this identity: no keys, no SAS.
    type: 'SystemAssigned'
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'autoattach-log-analytics'
  scope: systemTopic
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        category: 'DeliveryFailures'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
