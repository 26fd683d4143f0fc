// Private networking (the default; privateNetworking=false in main.bicep turns it off): a virtual network with one
// subnet for the Function App's VNet integration and one for private endpoints; private endpoints (with private DNS
// zones, created here or central ones reused) for Service Bus, the host storage's blob, queue and table services,
// the notification topic and, when one is named, the kubeconfig Key Vault; a NAT gateway for the app's outbound
// traffic to Azure Resource Manager, Microsoft Entra ID, Azure Monitor and the clusters' API servers; network
// security groups that allow only that (docs/deploy.md, "Private networking").

param vnetName string
param location string
param tags object = {}

param addressPrefix string = '10.60.0.0/24'
param integrationSubnetPrefix string = '10.60.0.0/26'
param privateEndpointSubnetPrefix string = '10.60.0.64/26'

param serviceBusNamespaceId string
param storageAccountId string
param notificationTopicId string

@description('Resource id of the kubeconfig Key Vault (Azure RBAC vault). Empty: no endpoint for it.')
param keyVaultId string = ''

@description('Host name of the Service Bus namespace (<name>.servicebus.<cloud suffix>).')
param serviceBusHostName string

@description('Endpoint of the notification topic (https://<name>.<region>-1.eventgrid.<cloud suffix>/api/events).')
param notificationTopicEndpoint string

@description('Comma-separated resource ids of existing central private DNS zones to reuse (privatelink.blob..., privatelink.servicebus..., ...). An endpoint whose zone name is among them gets no zone and no VNet link from this deployment: the platform links its zones to the VNets it serves.')
param existingPrivateDnsZoneIds string = ''

// Private DNS zone names follow the cloud: the storage and Key Vault suffixes come from environment(), the Service Bus
// and Event Grid suffixes (which environment() does not carry) from the resources' own endpoints.
var serviceBusSuffix = join(skip(split(serviceBusHostName, '.'), 1), '.')
var eventGridSuffix = join(skip(split(split(notificationTopicEndpoint, '/')[2], '.'), 2), '.')
// environment().suffixes.keyvaultDns is '.vault.<suffix>'; the private link zone is 'privatelink.vaultcore.<suffix>'.
var keyVaultZone = replace(environment().suffixes.keyvaultDns, '.vault.', 'privatelink.vaultcore.')

var hubEndpoints = [
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
    name: 'queue'
    resourceId: storageAccountId
    groupId: 'queue'
    zone: 'privatelink.queue.${environment().suffixes.storage}'
  }
  {
    name: 'table'
    resourceId: storageAccountId
    groupId: 'table'
    zone: 'privatelink.table.${environment().suffixes.storage}'
  }
  {
    name: 'topic'
    resourceId: notificationTopicId
    groupId: 'topic'
    zone: 'privatelink.${eventGridSuffix}'
  }
]
var vaultEndpoints = empty(keyVaultId) ? [] : [
  {
    name: 'vault'
    resourceId: keyVaultId
    groupId: 'vault'
    zone: keyVaultZone
  }
]
var endpoints = concat(hubEndpoints, vaultEndpoints)

// The reused zones, matched to endpoints by zone name (the last segment of a zone's id).
var reusedZoneIds = [for id in split(toLower(existingPrivateDnsZoneIds), ','): trim(id)]
var reusedZoneNames = [for id in reusedZoneIds: last(split(id, '/'))]
// The endpoints whose zone this deployment creates and links.
var ownZoneEndpoints = filter(endpoints, endpoint => !contains(reusedZoneNames, toLower(endpoint.zone)))

// The app's outbound traffic: to the private endpoints in this VNet (HTTPS, and AMQP for Service Bus), and out through
// the NAT gateway to ARM, Microsoft Entra ID and Azure Monitor (service tags), and to the clusters' Kubernetes API
// servers (HTTPS to the Internet: Arc kubeconfigs and AKS API servers have no service tag). Nothing else.
var integrationRules = [
  {
    name: 'allow-private-endpoints'
    priority: 100
    destination: 'VirtualNetwork'
    ports: [
      '443'
      '5671'
      '5672'
    ]
  }
  {
    name: 'allow-resource-manager'
    priority: 110
    destination: 'AzureResourceManager'
    ports: [
      '443'
    ]
  }
  {
    name: 'allow-entra-id'
    priority: 120
    destination: 'AzureActiveDirectory'
    ports: [
      '443'
    ]
  }
  {
    name: 'allow-azure-monitor'
    priority: 130
    destination: 'AzureMonitor'
    ports: [
      '443'
    ]
  }
  {
    name: 'allow-kubernetes-api-servers'
    priority: 140
    destination: 'Internet'
    ports: [
      '443'
    ]
  }
]

var integrationAllowRules = [for rule in integrationRules: {
  name: rule.name
  properties: {
    direction: 'Outbound'
    access: 'Allow'
    priority: rule.priority
    protocol: 'Tcp'
    sourceAddressPrefix: integrationSubnetPrefix
    sourcePortRange: '*'
    destinationAddressPrefix: rule.destination
    destinationPortRanges: rule.ports
  }
}]

resource integrationNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${vnetName}-integration-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: concat(integrationAllowRules, [
      {
        name: 'deny-other-outbound'
        properties: {
          direction: 'Outbound'
          access: 'Deny'
          priority: 4000
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
      {
        name: 'deny-inbound'
        properties: {
          direction: 'Inbound'
          access: 'Deny'
          priority: 4000
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ])
  }
}

// Private endpoints accept the app's subnet only (HTTPS, AMQP); the subnet enforces NSGs on private endpoints
// (privateEndpointNetworkPolicies), else these rules would not apply to them.
resource endpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${vnetName}-endpoints-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-app-subnet'
        properties: {
          direction: 'Inbound'
          access: 'Allow'
          priority: 100
          protocol: 'Tcp'
          sourceAddressPrefix: integrationSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: privateEndpointSubnetPrefix
          destinationPortRanges: [
            '443'
            '5671'
            '5672'
          ]
        }
      }
      {
        name: 'deny-other-inbound'
        properties: {
          direction: 'Inbound'
          access: 'Deny'
          priority: 4000
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource natIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${vnetName}-nat-ip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

// One fixed outbound address for the app: platform teams can allow it on Arc clusters' and private AKS API servers'
// authorized IP ranges.
resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: '${vnetName}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: natIp.id
      }
    ]
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
          natGateway: {
            id: natGateway.id
          }
          defaultOutboundAccess: false
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
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'NetworkSecurityGroupEnabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for endpoint in ownZoneEndpoints: {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (endpoint, i) in ownZoneEndpoints: {
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
  dependsOn: [
    zones
  ]
  properties: {
    privateDnsZoneConfigs: [
      {
        name: endpoint.name
        properties: {
          privateDnsZoneId: contains(reusedZoneNames, toLower(endpoint.zone)) ? reusedZoneIds[indexOf(reusedZoneNames, toLower(endpoint.zone))] : resourceId('Microsoft.Network/privateDnsZones', endpoint.zone)
        }
      }
    ]
  }
}]

output integrationSubnetId string = '${vnet.id}/subnets/function-integration'
output natPublicIpId string = natIp.id
