targetScope = 'subscription'

// autoattach: attach tagged AKS and Arc clusters to Azure ML workspaces, event-driven.
// `azd up` deploys this file (azure.yaml at the repository root); docs/deploy.md walks through it.
//
// Layout:
//   resource group rg-<env> (this subscription): identity, Function App, Service Bus, storage, notification topic,
//     monitoring, optional network. Everything the Function App touches on its own side.
//   each watched or workspace subscription: autoattach's custom role definitions, assignable there only.
//   each watched subscription: resource group for the Event Grid system topic and its event subscriptions; the
//     cluster operator role; the role delegator limited by an ABAC condition to the cluster roles, granted only to
//     the allowed workspaces' user-assigned identities; assignment reader.
//   each allowed workspace: the compute operator role; its resource group: the operation reader; its container
//     registry and storage account: the role delegator limited to the data roles there.
//   each compute identity the policy names: Managed Identity Operator on that identity.

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

// The regions that run Flex Consumption, as the azd Flex Consumption quickstart lists them
// (Azure-Samples/functions-quickstart-python-http-azd, infra/main.bicep), less its canary region eastus2euap.
@minLength(1)
@description('Region of autoattach\'s resources (a region with Flex Consumption).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
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

@description('Run on private networking (the default): VNet integration for the Function App with outbound through a NAT gateway, private endpoints for Service Bus, the host storage (blob, queue, table), the notification topic and the kubeconfig vault. false: public endpoints, authenticated by Microsoft Entra ID only.')
param privateNetworking bool = true

@description('Comma-separated resource ids of existing central private DNS zones to reuse (matched to the private endpoints by zone name). Endpoints whose zone is not among them get a zone of their own, linked to autoattach\'s VNet.')
param existingPrivateDnsZoneIds string = ''

@description('Put a CanNotDelete lock on autoattach\'s resource group (azd down then fails until it is removed).')
param lockResources bool = false

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

@minValue(1)
@description('Seconds before an Azure ML extension install someone else started is first looked at; at most recheckDelaySeconds.')
param installPollFirstSeconds int = 15

@minValue(0)
@maxValue(100)
@description('An install is then looked at every installPollFirstSeconds plus this percent of the time waited (at most recheckDelaySeconds): higher means fewer ARM reads, a later attach.')
param installPollPercentOfWait int = 5

@description('NCRONTAB schedule of the periodic sweep.')
param sweepSchedule string = '0 */15 * * * *'

@description('Name of the resource group created in each watched subscription for its Event Grid system topic.')
param eventsResourceGroupName string = 'rg-${toLower(replace(replace(replace(replace(environmentName, '_', '-'), '.', '-'), '(', '-'), ')', '-'))}-events'

@description('Comma-separated resource ids of existing ARM (Microsoft.Resources.Subscriptions) system topics to reuse, at most one per watched subscription (ARM allows one per subscription; the preprovision hook names any it finds). A watched subscription without one here gets its own topic.')
param existingSystemTopicIds string = ''

@description('Region of those resource groups (the system topics themselves are global).')
param eventsResourceGroupLocation string = location

@description('Comma-separated resource ids of the user-assigned identities the attach policy gives computes (the preprovision hook takes them from the policy). autoattach may assign these and no others.')
param computeIdentityIds string = ''

@description('Comma-separated principal (object) ids of the user-assigned identities the allowed workspaces run under (the preprovision hook reads them from the workspaces). The only principals autoattach may grant the cluster roles to; empty: no cluster role delegation.')
param workspacePrincipalIds string = ''

@description('Comma-separated resource ids of the allowed workspaces\' container registries (the preprovision hook reads them from the workspaces). AcrPull is delegated on these and nowhere else.')
param workspaceRegistryIds string = ''

@description('Comma-separated resource ids of the allowed workspaces\' storage accounts (the preprovision hook reads them from the workspaces). The Storage Blob Data roles are delegated on these and nowhere else.')
param workspaceStorageIds string = ''

@description('Comma-separated names of the kubeconfig secrets in kubeconfigKeyVaultId (the preprovision hook takes them from the policy). Empty: Key Vault Secrets User on the whole vault.')
param kubeconfigSecretNames string = ''

@description('Comma-separated Microsoft Entra object ids of the workspace owners who may create event subscriptions on the notification topic (EventGrid EventSubscription Contributor on the topic only). Empty: none.')
param notificationOwnerPrincipalIds string = ''

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
@description('Type of every id in notificationOwnerPrincipalIds.')
param notificationOwnerPrincipalType string = 'Group'

@description('Zone-redundant storage and Service Bus (Premium); needs a region with availability zones. Off by default: zone redundancy fails in regions without zones.')
param zoneRedundant bool = false

// The environment's token: different for each environment name, deployment subscription and region.
var token = toLower(uniqueString(subscription().id, environmentName, location))
// azd environment names may hold _ . ( ); Event Grid names take letters, digits and hyphens only, and a resource group
// name may not end with a period. Names that carry the environment name use this form.
var envSlug = toLower(replace(replace(replace(replace(environmentName, '_', '-'), '.', '-'), '(', '-'), ')', '-'))
var tags = {
  'azd-env-name': environmentName
  application: 'autoattach'
}

// Queue names: the code reads them from CLUSTER_EVENTS_QUEUE / EXTENSION_EVENTS_QUEUE (shared/settings.py).
var clusterEventsQueue = 'cluster-events'
var extensionEventsQueue = 'extension-events'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'

// Every comma-separated list: trimmed, lower-cased (ARM ids and object ids are case-insensitive), blanks (an empty
// parameter, a trailing comma, ", ,") dropped and duplicates dropped (union), so that no module gets
// subscription(''), an out-of-range index, or a second deployment of the same name.
var listedSubscriptionIds = [for id in split(watchedSubscriptions, ','): toLower(trim(id))]
var keptSubscriptionIds = union(filter(listedSubscriptionIds, id => !empty(id)), [])
var watchedSubscriptionIds = empty(keptSubscriptionIds) ? [
  subscription().subscriptionId
] : keptSubscriptionIds
var listedWorkspaceIds = [for id in split(allowedWorkspaceIds, ','): toLower(trim(id))]
var workspaceIds = union(filter(listedWorkspaceIds, id => !empty(id)), [])
var workspaceSubscriptionList = [for id in workspaceIds: split(id, '/')[2]]
var workspaceSubscriptionIds = union(workspaceSubscriptionList, [])
// The allowed workspaces' resource groups, each once: where the status of their attaches is read.
var workspaceGroupList = [for id in workspaceIds: '/subscriptions/${split(id, '/')[2]}/resourcegroups/${split(id, '/')[4]}']
var workspaceGroupIds = union(workspaceGroupList, [])
var listedComputeIdentityIds = [for id in split(computeIdentityIds, ','): toLower(trim(id))]
var assignableIdentityIds = union(filter(listedComputeIdentityIds, id => !empty(id)), [])
var listedPrincipalIds = [for id in split(workspacePrincipalIds, ','): toLower(trim(id))]
var grantablePrincipalIds = union(filter(listedPrincipalIds, id => !empty(id)), [])
var listedRegistryIds = [for id in split(workspaceRegistryIds, ','): toLower(trim(id))]
var registryIds = union(filter(listedRegistryIds, id => !empty(id)), [])
var listedStorageIds = [for id in split(workspaceStorageIds, ','): toLower(trim(id))]
var storageIds = union(filter(listedStorageIds, id => !empty(id)), [])
var listedTopicIds = [for id in split(existingSystemTopicIds, ','): trim(id)]
var reusedTopicIds = union(filter(listedTopicIds, id => !empty(id)), [])
// The (lower-cased) subscription of each reused topic, in the same order.
var reusedTopicSubscriptions = [for id in reusedTopicIds: toLower(split(id, '/')[2])]
var listedSecretNames = [for name in split(kubeconfigSecretNames, ','): trim(name)]
var secretNames = union(filter(listedSecretNames, name => !empty(name)), [])
// Operators' object ids: no operators, no operator deployments at all.
var listedOperatorIds = [for id in split(operatorPrincipalIds, ','): toLower(trim(id))]
var operatorIds = union(filter(listedOperatorIds, id => !empty(id)), [])
var operatorQueues = empty(operatorIds) ? [] : [
  clusterEventsQueue
  extensionEventsQueue
]
var listedOwnerIds = [for id in split(notificationOwnerPrincipalIds, ','): toLower(trim(id))]
var ownerIds = union(filter(listedOwnerIds, id => !empty(id)), [])
// Every subscription autoattach works in gets its own custom role definitions (custom-roles.bicep).
var roleSubscriptionIds = union(watchedSubscriptionIds, workspaceSubscriptionIds, dataSubscriptionIds)
// Subscriptions of the workspaces' registries and storage accounts (they may live elsewhere): each needs the role
// delegator's definition.
var dataSubscriptionList = [for id in concat(registryIds, storageIds): split(id, '/')[2]]
var dataSubscriptionIds = union(dataSubscriptionList, [])
// Workspace (and workspace registry or storage) subscriptions that are not watched: there the assignment reader is
// assigned on its own.
var workspaceOnlySubscriptionIds = filter(union(workspaceSubscriptionIds, dataSubscriptionIds), id => !contains(watchedSubscriptionIds, id))

// The built-in roles autoattach grants to workspace identities where clusters live (the data roles, granted to
// compute identities, are named in modules/delegated-rbac-data.bicep).
var clusterGrantableRoles = [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
  '85cb6faf-e071-4c9b-8136-154b5a04f717' // Kubernetes Extension Contributor
  '0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8' // Azure Kubernetes Service Cluster Admin Role
  '2787bf04-f1f5-4bfe-8383-c8a24483ee38' // Azure Relay Owner
  'b24988ac-6180-42a0-ab88-20f7382dd24c' // Contributor (on AKS clusters whose Trusted Access binds the workspace)
]

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${envSlug}'
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
    zoneRedundant: zoneRedundant
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
    zoneRedundant: zoneRedundant
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
    serviceBusHostName: serviceBus.outputs.fullyQualifiedNamespace
    notificationTopicEndpoint: notifications.outputs.endpoint
    keyVaultId: kubeconfigKeyVaultId
    existingPrivateDnsZoneIds: existingPrivateDnsZoneIds
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: group
  params: {
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    serviceBusNamespaceName: serviceBus.outputs.name
    notificationTopicName: notifications.outputs.name
    functionAppName: functionApp.outputs.name
  }
}

module lock 'modules/lock.bicep' = if (lockResources) {
  name: 'lock'
  scope: group
  dependsOn: [
    diagnostics
    appAccess
  ]
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
  INSTALL_POLL_FIRST_SECONDS: string(installPollFirstSeconds)
  INSTALL_POLL_PERCENT_OF_WAIT: string(installPollPercentOfWait)
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
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
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

// Owners' groups may subscribe to the notification topic, and nothing more.
module notificationOwners 'modules/notification-owners.bicep' = if (!empty(ownerIds)) {
  name: 'notification-owners'
  scope: group
  params: {
    notificationTopicName: notifications.outputs.name
    principalIds: ownerIds
    principalType: notificationOwnerPrincipalType
  }
}

// Deployments at subscription scope keep a location: their names carry the environment's token, so that another
// environment (another region) never reuses one (InvalidDeploymentLocation).
module customRoles 'modules/custom-roles.bicep' = [for subscriptionId in roleSubscriptionIds: {
  name: 'autoattach-roles-${token}-${uniqueString(subscriptionId)}'
  scope: subscription(subscriptionId)
  params: {
    nameSuffix: '${envSlug}-${token}'
  }
}]

module watched 'modules/watched-subscription.bicep' = [for subscriptionId in watchedSubscriptionIds: {
  name: 'autoattach-watch-${token}-${uniqueString(subscriptionId)}'
  scope: subscription(subscriptionId)
  params: {
    resourceGroupName: eventsResourceGroupName
    location: eventsResourceGroupLocation
    tags: tags
    systemTopicName: 'autoattach-arm-events-${envSlug}'
    existingSystemTopicId: contains(reusedTopicSubscriptions, subscriptionId) ? reusedTopicIds[indexOf(reusedTopicSubscriptions, subscriptionId)] : ''
    token: token
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    functionPrincipalId: identity.outputs.principalId
    clusterOperatorRoleName: customRoles[indexOf(roleSubscriptionIds, subscriptionId)].outputs.clusterOperatorRoleName
    hubSubscriptionId: subscription().subscriptionId
    hubResourceGroupName: group.name
    serviceBusNamespaceName: serviceBus.outputs.name
    clusterEventsQueueName: clusterEventsQueue
    extensionEventsQueueName: extensionEventsQueue
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
  }
}]

// Where clusters live: grant and revoke the cluster roles, only to the allowed workspaces' identities; read role
// assignments.
module delegatedRbac 'modules/delegated-rbac.bicep' = [for subscriptionId in watchedSubscriptionIds: {
  name: 'autoattach-rbac-${token}-${uniqueString(subscriptionId)}'
  scope: subscription(subscriptionId)
  params: {
    principalId: identity.outputs.principalId
    roleDelegatorRoleName: customRoles[indexOf(roleSubscriptionIds, subscriptionId)].outputs.roleDelegatorRoleName
    assignmentReaderRoleName: customRoles[indexOf(roleSubscriptionIds, subscriptionId)].outputs.assignmentReaderRoleName
    grantableRoleIds: clusterGrantableRoles
    grantablePrincipalIds: grantablePrincipalIds
  }
}]

// Where workspaces keep images and data: grant and revoke AcrPull on each workspace's registry, the Storage Blob Data
// roles on each workspace's storage account, and nowhere else.
module registryDelegation 'modules/delegated-rbac-data.bicep' = [for registryId in registryIds: {
  name: 'autoattach-acr-rbac-${token}-${uniqueString(registryId)}'
  scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    roleDelegatorRoleName: customRoles[indexOf(roleSubscriptionIds, split(registryId, '/')[2])].outputs.roleDelegatorRoleName
    registryName: last(split(registryId, '/'))
  }
}]

module storageDelegation 'modules/delegated-rbac-data.bicep' = [for storageId in storageIds: {
  name: 'autoattach-st-rbac-${token}-${uniqueString(storageId)}'
  scope: resourceGroup(split(storageId, '/')[2], split(storageId, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    roleDelegatorRoleName: customRoles[indexOf(roleSubscriptionIds, split(storageId, '/')[2])].outputs.roleDelegatorRoleName
    storageAccountName: last(split(storageId, '/'))
  }
}]

// Where workspaces live: read the status of the attaches and detaches (ARM wants the resource group level for that).
module operationReader 'modules/operation-reader.bicep' = [for groupId in workspaceGroupIds: {
  name: 'autoattach-op-reader-${token}-${uniqueString(groupId)}'
  scope: resourceGroup(split(groupId, '/')[2], split(groupId, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    operationReaderRoleName: customRoles[indexOf(roleSubscriptionIds, split(groupId, '/')[2])].outputs.operationReaderRoleName
  }
}]

module assignmentReader 'modules/assignment-reader.bicep' = [for subscriptionId in workspaceOnlySubscriptionIds: {
  name: 'autoattach-reader-${token}-${uniqueString(subscriptionId)}'
  scope: subscription(subscriptionId)
  params: {
    principalId: identity.outputs.principalId
    assignmentReaderRoleName: customRoles[indexOf(roleSubscriptionIds, subscriptionId)].outputs.assignmentReaderRoleName
  }
}]

module workspaceAccess 'modules/workspace-access.bicep' = [for workspaceId in workspaceIds: {
  name: 'autoattach-ws-${token}-${uniqueString(workspaceId)}'
  scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
  params: {
    workspaceName: last(split(workspaceId, '/'))
    principalId: identity.outputs.principalId
    computeOperatorRoleName: customRoles[indexOf(roleSubscriptionIds, split(workspaceId, '/')[2])].outputs.computeOperatorRoleName
  }
}]

// Attach with a user-assigned identity: assign/action on each identity the policy names, wherever it lives.
module identityAccess 'modules/identity-access.bicep' = [for identityId in assignableIdentityIds: {
  name: 'autoattach-mi-${token}-${uniqueString(identityId)}'
  scope: resourceGroup(split(identityId, '/')[2], split(identityId, '/')[4])
  params: {
    identityName: last(split(identityId, '/'))
    principalId: identity.outputs.principalId
  }
}]

module keyVaultAccess 'modules/keyvault-access.bicep' = if (!empty(kubeconfigKeyVaultId)) {
  name: 'autoattach-keyvault-${token}'
  scope: resourceGroup(split(kubeconfigKeyVaultId, '/')[2], split(kubeconfigKeyVaultId, '/')[4])
  params: {
    vaultName: last(split(kubeconfigKeyVaultId, '/'))
    principalId: identity.outputs.principalId
    secretNames: secretNames
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
