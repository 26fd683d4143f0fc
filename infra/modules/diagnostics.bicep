// Diagnostic settings: the resource logs and metrics of Service Bus, the notification topic and the Function App go to
// the deployment's Log Analytics workspace. The log categories are those Azure Monitor lists for each type ("Supported
// categories for Azure Monitor resource logs"). api-version 2021-05-01-preview: diagnostic settings as an extension
// resource have no stable api-version in the published types (2016-09-01 is the older "service" setting). (Each watched subscription's system topic sends its
// own: event-topic.bicep. The kubeconfig Key Vault is the platform's: docs/deploy.md.)

@description('Resource id of the Log Analytics workspace.')
param logAnalyticsId string

param serviceBusNamespaceName string
param notificationTopicName string
param functionAppName string

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: notificationTopicName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

var metrics = [
  {
    category: 'AllMetrics'
    enabled: true
  }
]

resource busDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'autoattach-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        category: 'OperationalLogs'
        enabled: true
      }
    ]
    metrics: metrics
  }
}

resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'autoattach-log-analytics'
  scope: topic
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        category: 'DeliveryFailures'
        enabled: true
      }
      {
        category: 'PublishFailures'
        enabled: true
      }
    ]
    metrics: metrics
  }
}

resource appDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'autoattach-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
    metrics: metrics
  }
}
