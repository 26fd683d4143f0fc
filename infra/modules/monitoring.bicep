// Log Analytics workspace and a workspace-based Application Insights component.
// Local (instrumentation key) authentication is disabled: the Function App sends telemetry with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and holds Monitoring Metrics Publisher on the component.

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object = {}

@description('Days of log retention.')
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// A workbook operators look at instead of writing KQL: attachments per hour, clusters waiting and why, time
// from event to a usable compute, dead letters by reason, ARM throttling. Its queries read only the span
// attributes functions/telemetry.py emits (tests/infra/test_infra_workbook.py).
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, logAnalyticsName, 'autoattach-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'autoattach'
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: logAnalytics.id
    serializedData: replace(loadTextContent('../workbook/autoattach.workbook.json'), '__LOG_ANALYTICS_WORKSPACE_ID__', logAnalytics.id)
  }
}

output workbookId string = workbook.id
output logAnalyticsId string = logAnalytics.id
output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
// The connection string only locates the ingestion endpoint; with local auth disabled it is not a credential.
output connectionString string = applicationInsights.properties.ConnectionString
