// The two event subscriptions on a watched subscription's system topic. Each delivers only the ARM operations autoattach
// reacts to, to the queue whose handler reacts to them, with the topic's managed identity; what Event Grid cannot
// deliver within its retry policy is dead-lettered to a blob container with the same identity.

param systemTopicName string

@description('Resource id of the cluster-events queue.')
param clusterEventsQueueId string

@description('Resource id of the extension-events queue.')
param extensionEventsQueueId string

@description('Resource id of the storage account holding the dead-letter container.')
param deadLetterStorageId string

param deadLetterContainerName string

// Only successful writes and deletes: failures and cancellations change nothing autoattach converges on.
var eventTypes = [
  'Microsoft.Resources.ResourceWriteSuccess'
  'Microsoft.Resources.ResourceDeleteSuccess'
]

// Event Grid compares strings case-insensitively, which matters: ARM mixes 'write' and 'Write'.
var clusterOperations = [
  'Microsoft.ContainerService/managedClusters/write'
  'Microsoft.ContainerService/managedClusters/delete'
  'Microsoft.Kubernetes/connectedClusters/write'
  'Microsoft.Kubernetes/connectedClusters/delete'
  // Tagging an existing resource: data.resourceUri is the tagged resource. Tag writes on any resource match (the
  // subject's exact form for tag writes is not pinned down well enough to filter on); the handler ignores those that
  // are not AKS or Arc clusters.
  'Microsoft.Resources/tags/write'
]

var extensionOperations = [
  'Microsoft.KubernetesConfiguration/extensions/write'
  'Microsoft.KubernetesConfiguration/extensions/delete'
]

// Event Grid's defaults, stated: 30 attempts over 24 hours. The queues' duplicate detection window matches the TTL,
// because every retry of an event carries the same id (the message id on the queue).
var retryPolicy = {
  maxDeliveryAttempts: 30
  eventTimeToLiveInMinutes: 1440
}

var deadLetter = {
  identity: {
    type: 'SystemAssigned'
  }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: deadLetterStorageId
      blobContainerName: deadLetterContainerName
    }
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource clusterEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'autoattach-cluster-events'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: eventTypes
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: clusterOperations
        }
      ]
    }
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'ServiceBusQueue'
        properties: {
          resourceId: clusterEventsQueueId
        }
      }
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}

resource extensionEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'autoattach-extension-events'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: eventTypes
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: extensionOperations
        }
      ]
    }
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'ServiceBusQueue'
        properties: {
          resourceId: extensionEventsQueueId
        }
      }
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}
