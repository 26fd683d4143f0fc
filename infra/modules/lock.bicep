// Optional (lockResources in main.bicep): a CanNotDelete lock on autoattach's resource group, so that nothing in it
// (queues, storage with dead letters, the identity every grant hangs on) is deleted by mistake. `azd down` and any
// deletion fail until the lock is removed (docs/deploy.md).

resource lock 'Microsoft.Authorization/locks@2020-05-01' = {
  name: 'autoattach-can-not-delete'
  properties: {
    level: 'CanNotDelete'
    notes: 'autoattach: remove this lock before azd down or before deleting anything here.'
  }
}
