// Service Bus namespace and the two queues Event Grid delivers ARM events into.
// Identity-only: local (SAS) auth is disabled, so no connection string exists anywhere.

@description('Service Bus namespace name.')
param name string

param location string
param tags object = {}

@description('Queue names: the Function App reads them from CLUSTER_EVENTS_QUEUE and EXTENSION_EVENTS_QUEUE.')
param queueNames array

@description('Private networking: Premium (private endpoints need it), public network access denied except trusted services.')
param privateNetworking bool = false

@description('Zone redundancy (Premium only; needs a region with availability zones). Off by default: it fails in regions without zones.')
param zoneRedundant bool = false

// Queue settings, chosen for the code's retry design:
// - Transient failures and "not ready yet" never throw: the handler completes the message and schedules a copy,
//   so redelivery is not the retry mechanism. Only an unexpected exception (a bug, a crash) abandons a message,
//   and the host redelivers it at once with no backoff. Five deliveries are enough to ride out an instance being
//   recycled mid-message, and few enough that a poison message reaches the dead-letter queue in seconds instead
//   of hammering ARM ten times (the default).
// - A reconcile reads a handful of ARM resources and issues create-or-update calls; it never waits on a
//   long-running operation while holding the lock (long waits become scheduled re-checks). Two minutes covers a
//   slow reconcile under ARM throttling without renewal; the host renews the lock anyway, and a crashed instance's
//   message comes back within two minutes.
// - Event Grid gives each delivery an internal MessageId (not the event id) and keeps it across its retries (30
//   attempts over 24 hours), so duplicate detection looks back 24 hours. The app reads the event id from the body;
//   scheduled re-check copies get their own MessageId, derived from the event id and the re-check chain.
// - Messages older than seven days are dead-lettered rather than dropped: operators see and replay them, and the
//   periodic sweep converges anything they described in the meantime.
var lockDuration = 'PT2M'
var maxDeliveryCount = 5
var duplicateDetectionWindow = 'P1D'
var messageTimeToLive = 'P7D'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    // Standard is the cheapest tier with duplicate detection; private endpoints need Premium.
    name: privateNetworking ? 'Premium' : 'Standard'
    tier: privateNetworking ? 'Premium' : 'Standard'
    capacity: privateNetworking ? 1 : null
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    zoneRedundant: privateNetworking && zoneRedundant
  }
}

// With private networking the namespace refuses public traffic, except trusted Microsoft services:
// Event Grid delivering with its managed identity is one.
resource networkRules 'Microsoft.ServiceBus/namespaces/networkRuleSets@2024-01-01' = if (privateNetworking) {
  parent: namespace
  name: 'default'
  properties: {
    defaultAction: 'Deny'
    publicNetworkAccess: 'Enabled'
    trustedServiceAccessEnabled: true
    ipRules: []
    virtualNetworkRules: []
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for queueName in queueNames: {
  parent: namespace
  name: queueName
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    defaultMessageTimeToLive: messageTimeToLive
    deadLetteringOnMessageExpiration: true
    // Event Grid cannot deliver to session-enabled queues.
    requiresSession: false
    enablePartitioning: false
    enableBatchedOperations: true
    maxSizeInMegabytes: 1024
  }
}]

output id string = namespace.id
output name string = namespace.name
// serviceBusEndpoint is https://<name>.servicebus.<cloud suffix>:443/; the host wants the bare host name.
output fullyQualifiedNamespace string = replace(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
output queueIds array = [for (queueName, i) in queueNames: queues[i].id]
