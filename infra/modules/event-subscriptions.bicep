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
  // Tagging an existing resource: data.resourceUri (and the subject) is the tagged resource. Alone, this operation
  // would deliver tag writes on every resource of the subscription: clusterSubjects narrows it to clusters.
  'Microsoft.Resources/tags/write'
]

// The subject of an ARM event is the resource URI (of the tagged resource, for a tag write). Advanced filters are
// ANDed, so with this one only events about AKS and Arc clusters (and their child resources, which the handler
// ignores) reach the queue. StringContains compares case-insensitively. Event Grid allows 25 advanced filters and
// 25 filter values in all per event subscription: 5 + 2 here.
var clusterSubjects = [
  '/providers/Microsoft.ContainerService/managedClusters/'
  '/providers/Microsoft.Kubernetes/connectedClusters/'
]

var extensionOperations = [
  'Microsoft.KubernetesConfiguration/extensions/write'
  'Microsoft.KubernetesConfiguration/extensions/delete'
]

// Event Grid's defaults, stated: 30 attempts over 24 hours. The queues' duplicate detection window matches the TTL:
// the MessageId Event Grid gives a delivery is an internal id of its own (not the event id) that it keeps across
// its redeliveries of that event, so the queue drops a redelivery of a message it already took. The code never reads
// the MessageId: it reads the event id from the body.
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
        {
          operatorType: 'StringContains'
          key: 'subject'
          values: clusterSubjects
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
