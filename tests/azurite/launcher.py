"""Azurite, Microsoft's storage emulator, started for a test: its Blob service on a free loopback
port, a temporary workspace, its clock movable (``clock.cjs``) like the Blob double's.

``make azurite`` (and so ``make test``) installs the version pinned by ``package-lock.json``
beside this file into ``.venv/azurite`` with ``npm ci``. Started with ``--skipApiVersionCheck``
(azure-storage-blob sends an ``x-ms-version`` newer than the pinned Azurite knows),
``--disableTelemetry`` (Azurite otherwise reports to Application Insights: no test may reach
Azure) and ``--loose`` off (an unsupported header or parameter is an error, as it should be).
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
import urllib.request
from collections import deque
from pathlib import Path

from azure.core.credentials import AzureNamedKeyCredential

from shared.adapters import development_storage

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
INSTALLED = ROOT / ".venv" / "azurite" / "node_modules" / "azurite"
BLOB_MAIN = INSTALLED / "dist" / "src" / "blob" / "main.js"
LISTENS = "Azurite Blob service successfully listens on "
CLOCK = "clock control listens on "
START_SECONDS = 30.0


class AzuriteMissing(RuntimeError):
    pass


class Azurite:
    """One Azurite Blob service. ``endpoint`` is the account URL for ``BlobServiceClient``
    (``http://127.0.0.1:<port>/devstoreaccount1``), ``credential`` its well-known account's key,
    ``advance(seconds)`` moves its clock forward."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self._process: subprocess.Popen[str] | None = None
        self._output: deque[str] = deque(maxlen=50)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.endpoint = ""
        self._clock = ""

    @property
    def credential(self) -> AzureNamedKeyCredential:
        return development_storage.credential()

    def start(self) -> Azurite:
        node = shutil.which("node")
        if node is None or not BLOB_MAIN.is_file():
            raise AzuriteMissing(
                "Azurite is not installed: run `make azurite` (make test does; it needs node and "
                "npm, which it installs from Debian's packages where missing)"
            )
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                node,
                "--require",
                str(HERE / "clock.cjs"),
                str(BLOB_MAIN),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                str(self.workspace),
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.workspace,
        )
        threading.Thread(target=self._drain, name="azurite-output", daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        while not (self.endpoint and self._clock):
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("Azurite did not start:\n" + "\n".join(self._output))
            if line.startswith(LISTENS):
                self.endpoint = f"{line[len(LISTENS) :].strip()}/{development_storage.ACCOUNT}"
            elif line.startswith(CLOCK):
                self._clock = line[len(CLOCK) :].strip()
        return self

    def _drain(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            self._output.append(line.rstrip())
            self._lines.put(line.strip())
        self._lines.put(None)

    def advance(self, seconds: float) -> None:
        request = urllib.request.Request(f"{self._clock}/advance?seconds={seconds}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
