"""Fixtures every test folder may use: Azurite, Microsoft's storage emulator
(tests/azurite/launcher.py), which the Blob double's tests and the ledger adapter's run against
beside the double."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.azurite.launcher import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's Blob service for the whole run (one start, about 1 to 4 s), stopped at the end."""
    emulator = Azurite(tmp_path_factory.mktemp("azurite")).start()
    yield emulator
    emulator.stop()
