// What operators may do with one queue: the `autoattach dead-letters list|replay` commands, run with the operator's
// own Azure CLI identity, peek and receive from the queue's dead-letter sub-queue (Data Receiver) and send copies
// back to the queue (Data Sender). Scoped to the queue, never the namespace: one deployment per queue.

@description('Service Bus namespace holding the queue.')
param serviceBusNamespaceName string

@description('The queue (its dead-letter sub-queue is covered by the same assignment).')
param queueName string

@description('Microsoft Entra object ids of the operators (main.bicep drops blanks and duplicates).')
param principalIds array

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
@description('What the object ids are: all of them are of this type.')
param principalType string = 'Group'

var roles = {
  // Peek and receive (complete) dead letters: `dead-letters list` and `dead-letters replay`.
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  // Send the replayed copy back to the queue: `dead-letters replay`.
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: queueName
}

resource receive 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in principalIds: {
  name: guid(queue.id, principalId, roles.serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: principalId
    principalType: principalType
    description: 'autoattach operators: list and replay dead letters of ${queueName}'
  }
}]

resource send 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in principalIds: {
  name: guid(queue.id, principalId, roles.serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: principalId
    principalType: principalType
    description: 'autoattach operators: resend replayed dead letters to ${queueName}'
  }
}]
