"""A Key Vault secrets double that the real ``SecretClient`` reads, challenge auth included.

Key Vault's clients authenticate by challenge: the first request goes out without a token, the
vault answers 401 with ``WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
resource="<resource>"``, and the client asks its credential for ``<resource>/.default``.
Before it does, azure-keyvault verifies the challenge (``verify_challenge_resource``, on by
default): the request's host must end with ``"." + <resource host>``; Key Vault itself answers
``resource="https://vault.azure.net"`` for ``<vault>.vault.azure.net``, the vault host minus its
first label. The double follows the same rule for its own host ``127.0.0.1:<port>``: it answers
``resource="https://0.0.1:<port>"`` (the host minus its first label, port kept because the SDK
compares ports too), which passes the SDK's check unchanged, so nothing needs
``verify_challenge_resource=False``.

Error bodies follow the ``KeyVaultError`` shape of the REST specification
(``{"error": {"code", "message"}}``).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox.https import HttpsDouble, Request, Response
from sandbox.tls import SandboxTls

SANDBOX_TENANT = "00000000-0000-0000-0000-00000000a11c"
_SECRET_PATH = re.compile(r"^/secrets/(?P<name>[0-9A-Za-z-]{1,127})(?:/(?P<version>[0-9a-f]*))?/?$")


@dataclass(frozen=True)
class _Version:
    version: str
    value: str
    created: int
    content_type: str | None


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: str | None


class KeyVaultDouble:
    """Serves ``GET /secrets/{name}[/{version}]`` for secrets stored with ``set_secret``.

    ``counts``: ``challenges`` (401s that carried the challenge), ``reads`` (authorized GETs),
    ``not_found`` and ``faults``.
    """

    def __init__(self, tls: SandboxTls) -> None:
        self._server = HttpsDouble(tls, self._handle)
        self._lock = threading.Lock()
        self._secrets: dict[str, list[_Version]] = {}
        self._faults: list[_Fault] = []
        self.counts: Counter[str] = Counter()

    def start(self) -> KeyVaultDouble:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def vault_url(self) -> str:
        return self._server.base_url

    def secret_uri(self, name: str, version: str | None = None) -> str:
        return f"{self.vault_url}/secrets/{name}" + (f"/{version}" if version else "")

    def set_secret(self, name: str, value: str, content_type: str | None = None) -> str:
        """Store a new version of secret ``name`` (names are case-insensitive); its version id."""
        if not re.fullmatch(r"[0-9A-Za-z-]{1,127}", name):
            raise ValueError(f"invalid Key Vault secret name {name!r}")
        version = uuid.uuid4().hex
        with self._lock:
            versions = self._secrets.setdefault(name.lower(), [])
            versions.append(_Version(version, value, int(time.time()), content_type))
        return version

    def fail_next(self, status: int = 503, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` authorized requests with ``status``."""
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after))

    def _handle(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            self.counts["challenges"] += 1
            return self._challenge()
        with self._lock:
            if self._faults:
                fault = self._faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.pop(0)
                self.counts["faults"] += 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                code = "Throttled" if fault.status == 429 else "ServiceUnavailable"
                return Response(fault.status, _error(code, "injected fault"), headers)
            match = _SECRET_PATH.match(request.path)
            if request.method != "GET" or match is None:
                return Response(400, _error("BadParameter", "Unsupported request"))
            self.counts["reads"] += 1
            name, version = match["name"], match["version"] or ""
            versions = self._secrets.get(name.lower(), [])
            chosen = (
                versions[-1:]
                if not version
                else [v for v in versions if v.version == version.lower()]
            )
            if not chosen:
                self.counts["not_found"] += 1
                shown = f"{name}/{version}" if version else name
                message = (
                    f"A secret with (name/id) {shown} was not found in this key vault. If you "
                    "recently deleted this secret you may be able to recover it using the correct "
                    "recovery command. For help resolving this issue, please see "
                    "https://go.microsoft.com/fwlink/?linkid=2125182"
                )
                return Response(404, _error("SecretNotFound", message))
            return Response(200, self._bundle(name, chosen[0]))

    def _challenge(self) -> Response:
        host, _, port = self.vault_url.removeprefix("https://").partition(":")
        resource = f"https://{host.partition('.')[2]}:{port}"
        header = (
            f'Bearer authorization="https://login.microsoftonline.com/{SANDBOX_TENANT}", '
            f'resource="{resource}"'
        )
        body = _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        return Response(401, body, {"WWW-Authenticate": header})

    def _bundle(self, name: str, version: _Version) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "value": version.value,
            "id": f"{self.vault_url}/secrets/{name}/{version.version}",
            "attributes": {
                "enabled": True,
                "created": version.created,
                "updated": version.created,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }
        if version.content_type:
            bundle["contentType"] = version.content_type
        return bundle


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
