// The Function App's host storage (Flex Consumption deployment package, timer leases) and the container where Event
// Grid dead-letters events it could not deliver. No shared keys: everything authenticates with Microsoft Entra ID.

param name string
param location string
param tags object = {}

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Blob container that Event Grid dead-letters undeliverable events into.')
param deadLetterContainerName string

@description('Private networking: public traffic denied except trusted Azure services (Event Grid dead-lettering with its managed identity); the Function App uses a private endpoint.')
param privateNetworking bool = false

@description('Zone-redundant storage (ZRS); needs a region with availability zones. Off by default (LRS): ZRS fails in regions without zones.')
param zoneRedundant bool = false

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: default action is Deny with privateNetworking=true; without private networking the Flex Consumption app reaches its host storage over the public endpoint (shared keys are disabled: Microsoft Entra ID only).
  // checkov:skip=CKV_AZURE_59: public network access stays on so that Event Grid, a trusted service, can dead-letter with its managed identity (publicNetworkAccess=Disabled would block trusted services too); network ACLs deny everything else under private networking.
  // checkov:skip=CKV_AZURE_206: geo-replication (GRS) is not needed: the account holds leases, the rebuildable deployment package and dead-lettered events; ZRS with zoneRedundant=true, LRS by default because ZRS fails in regions without availability zones.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: zoneRedundant ? 'Standard_ZRS' : 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Without private networking the Flex Consumption app reaches its storage over the public endpoint.
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
      ipRules: []
      virtualNetworkRules: []
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
// The cloud's own endpoints (https://<name>.queue.<storage suffix>/): identity-based host storage outside the
// public cloud needs the service URIs, not the account name.
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deadLetterContainerName string = deadLetterContainer.name
