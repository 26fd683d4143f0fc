// The Event Grid topic autoattach publishes owner notifications to (CloudEvents 1.0). Workspace owners subscribe to it
// with their own event subscriptions (email via Logic Apps, Teams, a webhook...). Keys are disabled: the Function App
// publishes with its managed identity (EventGrid Data Sender on this topic only).

param name string
param location string
param tags object = {}

@description('Private networking: the topic accepts events only through its private endpoint.')
param privateNetworking bool = false

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  // checkov:skip=CKV_AZURE_193: public network access is disabled with privateNetworking=true; without it autoattach publishes over the public endpoint, authenticated by Microsoft Entra ID only (local auth disabled).
  name: name
  location: location
  tags: tags
  // Lets owners' event subscriptions deliver to their own Service Bus, Event Hubs or storage with this identity
  // instead of keys.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    minimumTlsVersionAllowed: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    inboundIpRules: []
  }
}

output id string = topic.id
output name string = topic.name
output endpoint string = topic.properties.endpoint
