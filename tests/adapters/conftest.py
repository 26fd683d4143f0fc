"""Fixtures the adapter tests share: which transport a client's requests went through."""

from __future__ import annotations

from typing import Any

import pytest
import requests

PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXIES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def requests_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs requests' Session.send was asked to send (the requests transport's path)."""
    sent: list[str] = []
    original = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        sent.append(str(request.url))
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent
