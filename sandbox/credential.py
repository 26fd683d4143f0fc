"""A token credential for the sandbox: hands out an opaque, non-secret bearer token.

The doubles only check that a bearer token is present; nothing here is a secret.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken

SANDBOX_TOKEN = "sandbox-token-not-a-secret"


class SandboxCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(SANDBOX_TOKEN, int(time.time()) + 3600)

    def close(self) -> None:
        return None
