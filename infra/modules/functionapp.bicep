// The Function App: Python 3.11 on Flex Consumption, running under the user-assigned identity only.
// Every connection is identity-based: host storage (AzureWebJobsStorage__*), the Service Bus triggers
// (SERVICEBUS_CONNECTION__*), Application Insights (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and, in the code,
// DefaultAzureCredential (AZURE_CLIENT_ID). No setting holds a key or a connection string with a secret.

param planName string
param appName string
param location string
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('Subnet delegated to Microsoft.App/environments for VNet integration; empty for none.')
param integrationSubnetId string = ''

@description('The product\'s own app settings (names from shared/settings.py), merged over the host settings below.')
param appSettings object

@description('Upper bound on Flex Consumption instances.')
param maximumInstanceCount int = 40

@description('Memory of each Flex Consumption instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions; the app holds no state (queues and storage are zone-redundant) and Service Bus redelivers what an instance lost.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the app has no HTTP triggers (Service Bus and timer only); the public endpoint serves only the deployment (SCM) site that azd deploys through, with basic auth off and Microsoft Entra ID required.
  // checkov:skip=CKV_AZURE_17: no HTTP endpoint to protect with client certificates; client certificates would only break azd's deployment.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on queue length; an idle autoattach needs no instance, and a lost instance's messages return to the queue.
  // checkov:skip=CKV_AZURE_213: health checks probe an HTTP path; the app serves none (queue- and timer-triggered only).
  name: appName
  location: location
  // azd finds the app to deploy the code to through this tag (azure.yaml: services.api).
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(integrationSubnetId) ? null : integrationSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Host settings: storage and telemetry through the managed identity. Flex Consumption takes the runtime from
// functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION must not be set.
// The service URIs come from the storage account itself, so they carry the cloud's storage suffix; the host's
// __accountName form would assume the public cloud's storage suffix.
var hostSettings = {
  // Also read by the code: the cluster ledger (shared/adapters/ledger.py) lives in this account's blobs.
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // OpenTelemetry (host.json telemetryMode, functions/telemetry.py): the Python worker configures the Azure Monitor
  // distro and links each message's span to the host's invocation; only the product's own loggers are exported;
  // and no outcome span is sampled away (the distro's default keeps about 5 traces a second). See docs/operations.md.
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
  PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME: 'autoattach'
  OTEL_TRACES_SAMPLER: 'always_on'
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // This is the appsettings resource (environment variables), not the web configuration these checks are about:
  // checkov:skip=CKV_AZURE_66: web-config check (failed request tracing) misapplied to app settings; the app serves no HTTP requests.
  // checkov:skip=CKV_AZURE_63: web-config check (HTTP logging) misapplied to app settings; telemetry goes to Application Insights.
  // checkov:skip=CKV_AZURE_222: web-config check misapplied to app settings; public access is decided on the site (see its skip).
  // checkov:skip=CKV_AZURE_80: .NET Framework version does not apply: the app is Python 3.11.
  // checkov:skip=CKV_AZURE_13: App Service Authentication protects HTTP endpoints; the app has none.
  // checkov:skip=CKV_AZURE_88: Azure Files content shares need shared keys; Flex Consumption deploys from a blob container with the managed identity.
  // checkov:skip=CKV_AZURE_65: web-config check (detailed error pages) misapplied to app settings; the app serves no pages.
  parent: site
  name: 'appsettings'
  properties: union(hostSettings, appSettings)
}

// Basic (publishing credential) authentication off for FTP and SCM: deployments use Microsoft Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
