"""How every ARM adapter reaches Azure: one endpoint, one credential, cached SDK clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential

from shared.settings import DEFAULT_ARM_ENDPOINT

Client = TypeVar("Client")


@dataclass
class ArmConnection:
    """The ARM endpoint (public cloud, a sovereign cloud, or the local double) and credential."""

    credential: TokenCredential
    endpoint: str = DEFAULT_ARM_ENDPOINT
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def is_public_cloud(self) -> bool:
        return self.endpoint.rstrip("/") == DEFAULT_ARM_ENDPOINT

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.endpoint,
            "credential_scopes": [self.endpoint.rstrip("/") + "/.default"],
        }

    def client(self, factory: Callable[..., Client], subscription_id: str) -> Client:
        """One SDK client per (client type, subscription), built on first use."""
        key = (getattr(factory, "__name__", str(factory)), subscription_id.lower())
        if key not in self._clients:
            self._clients[key] = factory(self.credential, subscription_id, **self.client_kwargs())
        client: Client = self._clients[key]
        return client
