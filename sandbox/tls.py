"""A throwaway certificate authority for the doubles' HTTPS on loopback.

The SDKs refuse bearer tokens over plain HTTP, so every double serves TLS with a certificate from
a CA that exists only for this process. ``SandboxTls.ca_bundle`` is the file clients trust.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class SandboxTls:
    ca_bundle: Path
    server_context: ssl.SSLContext

    @classmethod
    def create(cls, directory: Path | None = None) -> SandboxTls:
        folder = directory or Path(tempfile.mkdtemp(prefix="autoattach-tls-"))
        authority = trustme.CA(organization_name="autoattach sandbox CA")
        server_cert = authority.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(context)
        bundle = folder / "sandbox-ca.pem"
        authority.cert_pem.write_to_path(str(bundle))
        return cls(ca_bundle=bundle, server_context=context)
