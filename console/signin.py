"""Signing in to Azure for the console: one credential, checked once before any read.

Without a sign-in, DefaultAzureCredential logs a page of text per attempt and every SDK call fails
with "not authorized". The console asks for one token first and, when none comes, says so in one
line with how to sign in, and exits with its own status (EXIT_NOT_SIGNED_IN).
"""

from __future__ import annotations

import logging

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

EXIT_NOT_SIGNED_IN = 3
SIGN_IN = (
    "sign in with `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET "
    "for a service principal)"
)
ARM_SCOPE = "https://management.azure.com/.default"
SERVICEBUS_SCOPE = "https://servicebus.azure.net/.default"


class NotSignedIn(Exception):
    """No credential gave a token; the message is the one line to print."""


def azure_credential(client_id: str | None = None) -> TokenCredential:
    """DefaultAzureCredential (your `az login`, the environment, a managed identity), with its
    per-attempt warnings kept off the terminal: ``require_sign_in`` says what matters."""
    from azure.identity import DefaultAzureCredential

    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    return DefaultAzureCredential(managed_identity_client_id=client_id)


def require_sign_in(credential: TokenCredential, scope: str = ARM_SCOPE) -> None:
    """Ask for one token; NotSignedIn (one line: what, and how to sign in) when none comes."""
    try:
        credential.get_token(scope)
    except ClientAuthenticationError as error:
        raise NotSignedIn(_why(error)) from None


def resource_scope(endpoint: str) -> str:
    """The token scope of an ARM endpoint (https://management.azure.com -> .../.default)."""
    return endpoint.rstrip("/") + "/.default"


def _why(error: ClientAuthenticationError) -> str:
    text = str(error.message if hasattr(error, "message") else error)
    if "failed to retrieve a token from the included credentials" in text or "az login" in text:
        return f"nobody is signed in to Azure: {SIGN_IN}"
    first = text.strip().splitlines()[0] if text.strip() else error.__class__.__name__
    return f"signing in to Azure failed ({first[:200]}): {SIGN_IN}"
