"""Storage accounts (api-version 2023-05-01), container registries and Key Vaults with their
secrets' metadata (2023-07-01), read by id only: doctor and the deployment's preflight
(infra/hooks/policy_env.py) check that they exist and can be read. A secret's ARM answer never
carries its value (Key Vault's control plane does not return it). Shapes from the
published storage type; the registry's from the Microsoft.ContainerRegistry spec (no type data is
copied for it, so its answers are not contract-checked: sandbox/README.md)."""

from __future__ import annotations

from typing import Any

from sandbox.arm_http import Ctx, not_found
from sandbox.arm_ids import SANDBOX_TENANT_ID, key, name_of, resource_group_of
from sandbox.https import Response
from sandbox.hub import REGISTRY_TYPE, STORAGE_TYPE, VAULT_TYPE, PlainResource


def storage_json(account: PlainResource, stamp: str) -> dict[str, Any]:
    name = name_of(account.id)
    return {
        "id": account.id,
        "name": name,
        "type": STORAGE_TYPE,
        "location": account.location,
        "tags": dict(account.tags),
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "kind": "StorageV2",
        "properties": {
            "provisioningState": "Succeeded",
            "creationTime": stamp,
            "primaryLocation": account.location,
            "statusOfPrimary": "available",
            "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
        },
    }


def registry_json(registry: PlainResource, stamp: str) -> dict[str, Any]:
    name = name_of(registry.id)
    return {
        "id": registry.id,
        "name": name,
        "type": REGISTRY_TYPE,
        "location": registry.location,
        "tags": dict(registry.tags),
        "sku": {"name": "Premium", "tier": "Premium"},
        "properties": {
            "loginServer": f"{name.lower()}.azurecr.io",
            "creationDate": stamp,
            "provisioningState": "Succeeded",
            "adminUserEnabled": False,
            "publicNetworkAccess": "Enabled",
        },
    }


def storage_account(ctx: Ctx) -> Response:
    account_id = ctx.groups["account"]
    with ctx.world.lock:
        found = ctx.world.hub.storage_accounts.get(key(account_id))
    if found is None:
        return not_found(STORAGE_TYPE, name_of(account_id), resource_group_of(account_id))
    return Response(200, storage_json(found, ctx.timestamp()))


def registry(ctx: Ctx) -> Response:
    registry_id = ctx.groups["registry"]
    with ctx.world.lock:
        found = ctx.world.hub.registries.get(key(registry_id))
    if found is None:
        return not_found(REGISTRY_TYPE, name_of(registry_id), resource_group_of(registry_id))
    return Response(200, registry_json(found, ctx.timestamp()))


def vault_json(vault: PlainResource) -> dict[str, Any]:
    name = name_of(vault.id)
    return {
        "id": vault.id,
        "name": name,
        "type": VAULT_TYPE,
        "location": vault.location,
        "tags": dict(vault.tags),
        "properties": {
            "tenantId": SANDBOX_TENANT_ID,
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "vaultUri": f"https://{name.lower()}.vault.azure.net/",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
    }


def vault(ctx: Ctx) -> Response:
    """GET a vault, or one of its secrets (``/secrets/{name}``: metadata only, no value)."""
    vault_id, secret = ctx.groups["vault"], ctx.groups.get("secret")
    with ctx.world.lock:
        found = ctx.world.hub.vaults.get(key(vault_id))
        names = ctx.world.hub.vault_secrets.get(key(vault_id), set())
    if found is None:
        return not_found(VAULT_TYPE, name_of(vault_id), resource_group_of(vault_id))
    if secret is None:
        return Response(200, vault_json(found))
    if secret.lower() not in names:
        return not_found(f"{VAULT_TYPE}/secrets", secret, resource_group_of(vault_id))
    return Response(
        200,
        {
            "id": f"{found.id}/secrets/{secret}",
            "name": secret,
            "type": f"{VAULT_TYPE}/secrets",
            "location": found.location,
            "properties": {
                "attributes": {"enabled": True},
                "secretUri": f"https://{name_of(found.id).lower()}.vault.azure.net/secrets/{secret}",
            },
        },
    )
