// Private networking: a virtual network with one subnet for the Function App's VNet integration and one for private
// endpoints, private endpoints (with their private DNS zones) for Service Bus, host storage (blob) and the
// notification topic. Deployed only when privateNetworking is true.

param vnetName string
param location string
param tags object = {}

param addressPrefix string = '10.60.0.0/24'
param integrationSubnetPrefix string = '10.60.0.0/26'
param privateEndpointSubnetPrefix string = '10.60.0.64/26'

param serviceBusNamespaceId string
param storageAccountId string
param notificationTopicId string

@description('Host name of the Service Bus namespace (<name>.servicebus.<cloud suffix>).')
param serviceBusHostName string

@description('Endpoint of the notification topic (https://<name>.<region>-1.eventgrid.<cloud suffix>/api/events).')
param notificationTopicEndpoint string

// Private DNS zone names follow the cloud: the storage suffix comes from environment(), and the Service Bus and
// Event Grid suffixes (which environment() does not carry) from the resources' own endpoints.
var serviceBusSuffix = join(skip(split(serviceBusHostName, '.'), 1), '.')
var eventGridSuffix = join(skip(split(split(notificationTopicEndpoint, '/')[2], '.'), 2), '.')

var endpoints = [
  {
    name: 'servicebus'
    resourceId: serviceBusNamespaceId
    groupId: 'namespace'
    zone: 'privatelink.${serviceBusSuffix}'
  }
  {
    name: 'blob'
    resourceId: storageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'topic'
    resourceId: notificationTopicId
    groupId: 'topic'
    zone: 'privatelink.${eventGridSuffix}'
  }
]

resource integrationNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${vnetName}-integration-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource endpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${vnetName}-endpoints-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'function-integration'
        properties: {
          addressPrefix: integrationSubnetPrefix
          networkSecurityGroup: {
            id: integrationNsg.id
          }
          // Flex Consumption VNet integration needs a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: endpointNsg.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for endpoint in endpoints: {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (endpoint, i) in endpoints: {
  parent: zones[i]
  name: '${vnetName}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for endpoint in endpoints: {
  name: '${vnetName}-${endpoint.name}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/private-endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: endpoint.name
        properties: {
          privateLinkServiceId: endpoint.resourceId
          groupIds: [
            endpoint.groupId
          ]
        }
      }
    ]
  }
}]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (endpoint, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: endpoint.name
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
}]

output integrationSubnetId string = '${vnet.id}/subnets/function-integration'
