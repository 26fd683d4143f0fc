"""Keep aiohttp out of a process that never uses it (cold start).

azure-storage-blob's request signing (``azure/storage/blob/_shared/authentication.py``) does
``from azure.core.pipeline.transport import AioHttpTransport`` when it is imported, only to ask
later whether a request went through an aiohttp transport; azure-core resolves that name by
importing aiohttp (installed here because the kubernetes client requires it). That was about a
second of a cold start's import, for a library autoattach never calls (its clients are all
synchronous, over shared.adapters.http_transport).

``deferred()`` puts a stand-in under that name while azure-storage-blob is imported, and removes
it after, so every later import of the name gets azure-core's own class. The stand-in answers
``isinstance`` as the real class would: nothing is an aiohttp transport while aiohttp was never
imported, and once it has been, the real class decides. Called, it makes the real transport.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NAME = "AioHttpTransport"


def _real() -> type:
    module = importlib.import_module("azure.core.pipeline.transport._aiohttp")
    return module.AioHttpTransport


class _Deferred(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        if "aiohttp" not in sys.modules:
            return False  # no aiohttp transport can exist
        return isinstance(instance, _real())

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real()(*args, **kwargs)


class DeferredAioHttpTransport(metaclass=_Deferred):
    """Stands for azure-core's AioHttpTransport without importing aiohttp."""


@contextmanager
def deferred() -> Iterator[None]:
    """Import what needs the name (azure-storage-blob) inside this block."""
    transport = importlib.import_module("azure.core.pipeline.transport")
    if NAME in vars(transport):  # already resolved: nothing to save
        yield
        return
    setattr(transport, NAME, DeferredAioHttpTransport)
    try:
        yield
    finally:
        if vars(transport).get(NAME) is DeferredAioHttpTransport:
            delattr(transport, NAME)
