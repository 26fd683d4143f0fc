"""Azurite, Microsoft's storage emulator, on a developer's machine: what the Functions host's
connection string for it, ``UseDevelopmentStorage=true``, means for the cluster ledger.

Azurite serves one well-known account, ``devstoreaccount1``, whose Blob endpoint is
``http://127.0.0.1:10000/devstoreaccount1`` and whose Shared Key is published in Microsoft's
documentation ("Use the Azurite emulator for local Azure Storage development", well-known storage
account and key) and Azurite's README: the same in every Azurite, a secret to no one. Azurite does
not take Microsoft Entra tokens over plain HTTP, nor does azure-core send them there, so requests
to it are signed with that key.

This module is the key's only place in the product. It is used for exactly that endpoint, which
only ``UseDevelopmentStorage=true`` yields (``shared/settings.py``, refused when the app runs in
Azure), and never logged or put in a message. In Azure the ledger signs in with the app's managed
identity, always.
"""

from __future__ import annotations

from azure.core.credentials import AzureNamedKeyCredential

CONNECTION_STRING = "UseDevelopmentStorage=true"
ACCOUNT = "devstoreaccount1"
BLOB_ENDPOINT = f"http://127.0.0.1:10000/{ACCOUNT}"
_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def credential() -> AzureNamedKeyCredential:
    """The Shared Key of Azurite's well-known account (for ``BLOB_ENDPOINT`` only)."""
    return AzureNamedKeyCredential(ACCOUNT, _ACCOUNT_KEY)
