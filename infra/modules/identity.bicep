// The user-assigned identity the Function App runs as. Every right autoattach has is granted to this identity,
// so it can be inspected in one place (Azure portal: the identity's "Azure role assignments").

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
