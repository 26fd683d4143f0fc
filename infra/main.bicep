targetScope = 'subscription'

// autoattach: attach tagged AKS and Arc clusters to Azure ML workspaces, event-driven.
// `azd up` deploys this file (azure.yaml at the repository root); docs/deploy.md walks through it.
//
// Layout:
//   resource group rg-<env> (this subscription): identity, Function App, Service Bus, storage, notification topic,
//     monitoring, optional network. Everything the Function App touches on its own side.
//   each watched subscription: resource group for the Event Grid system topic and its event subscriptions; the
//     cluster operator role; Role Based Access Control Administrator limited by an ABAC condition.
//   each allowed workspace: the compute operator role.

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of autoattach\'s resources (a region with Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Comma-separated ids of the subscriptions to watch. Empty: the subscription being deployed to.')
param watchedSubscriptions string = ''

@minLength(1)
@description('Comma-separated resource ids of the Azure ML workspaces the attach policy allows. autoattach may write computes on these and no others.')
param allowedWorkspaceIds string

@minLength(1)
@description('The attach policy (JSON), base64-encoded so that it survives azd\'s parameter substitution. Becomes the ATTACH_POLICY app setting.')
param attachPolicyBase64 string

@description('Tag that requests an attach.')
param attachTagKey string = 'azureml-attach'

@description('Run on private networking: VNet integration for the Function App, private endpoints for Service Bus, storage and the notification topic.')
param privateNetworking bool = false

@description('Resource id of the Key Vault holding kubeconfigs for Arc clusters (Azure RBAC vault). Empty: none.')
param kubeconfigKeyVaultId string = ''

@description('Comma-separated Microsoft Entra object ids of the operators who list and replay dead letters (Service Bus Data Receiver and Sender on each queue). Empty: none.')
param operatorPrincipalIds string = ''

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
@description('Type of every id in operatorPrincipalIds.')
param operatorPrincipalType string = 'Group'

@minValue(1)
@description('Seconds before a "not ready yet" cluster is looked at again.')
param recheckDelaySeconds int = 60

@description('NCRONTAB schedule of the periodic sweep.')
param sweepSchedule string = '0 */15 * * * *'

@description('Name of the resource group created in each watched subscription for its Event Grid system topic.')
param eventsResourceGroupName string = 'rg-${environmentName}-events'

@description('Region of those resource groups (the system topics themselves are global).')
param eventsResourceGroupLocation string = location

var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'autoattach'
}

// Queue names: the code reads them from CLUSTER_EVENTS_QUEUE / EXTENSION_EVENTS_QUEUE (shared/settings.py).
var clusterEventsQueue = 'cluster-events'
var extensionEventsQueue = 'extension-events'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'

var listedSubscriptionIds = [for id in split(watchedSubscriptions, ','): toLower(trim(id))]
var watchedSubscriptionIds = empty(watchedSubscriptions) ? array(subscription().subscriptionId) : listedSubscriptionIds
var workspaceIds = [for id in split(allowedWorkspaceIds, ','): trim(id)]
var workspaceSubscriptionIds = [for id in workspaceIds: toLower(split(id, '/')[2])]
// Operators' object ids: blanks (an empty parameter, a trailing comma) dropped, lower-cased and de-duplicated
// (union) so that each gets one assignment per role and queue. No operators: no operator deployments at all.
var listedOperatorIds = [for id in split(operatorPrincipalIds, ','): toLower(trim(id))]
var operatorIds = union(filter(listedOperatorIds, id => !empty(id)), [])
var operatorQueues = empty(operatorIds) ? [] : [
  clusterEventsQueue
  extensionEventsQueue
]
// union() of arrays drops duplicates: one conditional RBAC Administrator assignment per subscription.
var roleAssignmentSubscriptionIds = union(watchedSubscriptionIds, workspaceSubscriptionIds)

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: group
  params: {
    name: 'id-autoattach-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: group
  params: {
    logAnalyticsName: 'log-autoattach-${token}'
    applicationInsightsName: 'appi-autoattach-${token}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: group
  params: {
    name: 'stattach${token}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    privateNetworking: privateNetworking
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: group
  params: {
    name: 'sb-autoattach-${token}'
    location: location
    tags: tags
    queueNames: [
      clusterEventsQueue
      extensionEventsQueue
    ]
    privateNetworking: privateNetworking
  }
}

module notifications 'modules/notifications.bicep' = {
  name: 'notifications'
  scope: group
  params: {
    name: 'evgt-autoattach-${token}'
    location: location
    tags: tags
    privateNetworking: privateNetworking
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  scope: group
  params: {
    vnetName: 'vnet-autoattach-${token}'
    location: location
    tags: tags
    serviceBusNamespaceId: serviceBus.outputs.id
    storageAccountId: storage.outputs.id
    notificationTopicId: notifications.outputs.id
  }
}

// The app settings the code reads: names from shared/settings.py (tests/infra holds the two together).
// ATTACH_POLICY_FILE is deliberately absent: the policy comes from ATTACH_POLICY, and the code wants exactly one.
var appSettings = {
  SERVICEBUS_CONNECTION__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  SERVICEBUS_CONNECTION__credential: 'managedidentity'
  SERVICEBUS_CONNECTION__clientId: identity.outputs.clientId
  CLUSTER_EVENTS_QUEUE: clusterEventsQueue
  EXTENSION_EVENTS_QUEUE: extensionEventsQueue
  NOTIFICATION_TOPIC_ENDPOINT: notifications.outputs.endpoint
  AZURE_CLIENT_ID: identity.outputs.clientId
  ATTACH_POLICY: base64ToString(attachPolicyBase64)
  ATTACH_TAG_KEY: attachTagKey
  ARM_ENDPOINT: environment().resourceManager
  RECHECK_DELAY_SECONDS: string(recheckDelaySeconds)
  SWEEP_SUBSCRIPTIONS: join(watchedSubscriptionIds, ',')
  SWEEP_SCHEDULE: sweepSchedule
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: group
  dependsOn: [
    appAccess
  ]
  params: {
    planName: 'plan-autoattach-${token}'
    appName: 'func-autoattach-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    integrationSubnetId: privateNetworking ? network.outputs.integrationSubnetId : ''
    appSettings: appSettings
  }
}

module appAccess 'modules/app-access.bicep' = {
  name: 'app-access'
  scope: group
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    queueNames: [
      clusterEventsQueue
      extensionEventsQueue
    ]
    notificationTopicName: notifications.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// Operators: dead-letter list and replay on each queue, and nothing wider.
module operatorAccess 'modules/operator-access.bicep' = [for queueName in operatorQueues: {
  name: 'operator-access-${queueName}'
  scope: group
  params: {
    serviceBusNamespaceName: serviceBus.outputs.name
    queueName: queueName
    principalIds: operatorIds
    principalType: operatorPrincipalType
  }
}]

module customRoles 'modules/custom-roles.bicep' = {
  name: 'autoattach-custom-roles'
  params: {
    nameSuffix: '${environmentName}-${token}'
    watchedSubscriptionIds: watchedSubscriptionIds
    workspaceSubscriptionIds: workspaceSubscriptionIds
  }
}

module watched 'modules/watched-subscription.bicep' = [for subscriptionId in watchedSubscriptionIds: {
  name: 'autoattach-watch-${uniqueString(subscriptionId, environmentName)}'
  scope: subscription(subscriptionId)
  params: {
    resourceGroupName: eventsResourceGroupName
    location: eventsResourceGroupLocation
    tags: tags
    systemTopicName: 'autoattach-arm-events-${environmentName}'
    functionPrincipalId: identity.outputs.principalId
    clusterOperatorRoleName: customRoles.outputs.clusterOperatorRoleName
    hubSubscriptionId: subscription().subscriptionId
    hubResourceGroupName: group.name
    serviceBusNamespaceName: serviceBus.outputs.name
    clusterEventsQueueName: clusterEventsQueue
    extensionEventsQueueName: extensionEventsQueue
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
  }
}]

module delegatedRbac 'modules/delegated-rbac.bicep' = [for subscriptionId in roleAssignmentSubscriptionIds: {
  name: 'autoattach-rbac-${uniqueString(subscriptionId, environmentName)}'
  scope: subscription(subscriptionId)
  params: {
    principalId: identity.outputs.principalId
  }
}]

module workspaceAccess 'modules/workspace-access.bicep' = [for workspaceId in workspaceIds: {
  name: 'autoattach-ws-${uniqueString(workspaceId, environmentName)}'
  scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
  params: {
    workspaceName: last(split(workspaceId, '/'))
    principalId: identity.outputs.principalId
    computeOperatorRoleName: customRoles.outputs.computeOperatorRoleName
  }
}]

module keyVaultAccess 'modules/keyvault-access.bicep' = if (!empty(kubeconfigKeyVaultId)) {
  name: 'autoattach-keyvault'
  scope: resourceGroup(split(kubeconfigKeyVaultId, '/')[2], split(kubeconfigKeyVaultId, '/')[4])
  params: {
    vaultName: last(split(kubeconfigKeyVaultId, '/'))
    principalId: identity.outputs.principalId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = group.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AUTOATTACH_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AUTOATTACH_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output NOTIFICATION_TOPIC_ID string = notifications.outputs.id
output NOTIFICATION_TOPIC_ENDPOINT string = notifications.outputs.endpoint
output WATCHED_SUBSCRIPTIONS string = join(watchedSubscriptionIds, ',')
