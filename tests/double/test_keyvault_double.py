"""The Key Vault secrets double, read by the real ``SecretClient`` with challenge auth over TLS."""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator
from urllib.error import HTTPError

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from sandbox.credential import SandboxCredential
from sandbox.keyvault_double import KeyVaultDouble
from sandbox.tls import SandboxTls


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


@pytest.fixture(scope="module")
def vault(tls: SandboxTls) -> Iterator[KeyVaultDouble]:
    # One vault for the module: stopping a double costs half a second.
    server = KeyVaultDouble(tls).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_vault(tls: SandboxTls) -> Iterator[KeyVaultDouble]:
    # azure-keyvault caches challenges per host:port process-wide, so a challenge is only
    # observable on a vault no client has talked to yet.
    server = KeyVaultDouble(tls).start()
    yield server
    server.stop()


def client_for(vault: KeyVaultDouble, tls: SandboxTls) -> SecretClient:
    # verify_challenge_resource is left at its default (True): the double's challenge passes it.
    return SecretClient(
        vault_url=vault.vault_url,
        credential=SandboxCredential(),
        connection_verify=str(tls.ca_bundle),
    )


@pytest.fixture
def secrets(vault: KeyVaultDouble, tls: SandboxTls) -> SecretClient:
    return client_for(vault, tls)


def test_the_real_secret_client_reads_the_latest_value(
    vault: KeyVaultDouble, secrets: SecretClient
) -> None:
    vault.set_secret("kubeconfig-arc", "first")
    vault.set_secret("kubeconfig-arc", "second")

    secret = secrets.get_secret("kubeconfig-arc")

    assert secret.value == "second"
    assert secret.id is not None and secret.id.startswith(vault.vault_url + "/secrets/")


def test_a_specific_version_can_be_read(vault: KeyVaultDouble, secrets: SecretClient) -> None:
    first = vault.set_secret("kubeconfig-arc", "first")
    vault.set_secret("kubeconfig-arc", "second")

    assert secrets.get_secret("kubeconfig-arc", first).value == "first"


def test_secret_names_are_case_insensitive(vault: KeyVaultDouble, secrets: SecretClient) -> None:
    vault.set_secret("Kubeconfig-Arc", "value")

    assert secrets.get_secret("kubeconfig-arc").value == "value"


def test_the_challenge_passes_the_sdk_resource_verification_once_per_vault(
    fresh_vault: KeyVaultDouble, tls: SandboxTls
) -> None:
    fresh_vault.set_secret("a", "1")

    client_for(fresh_vault, tls).get_secret("a")
    client_for(fresh_vault, tls).get_secret("a")

    assert fresh_vault.counts["challenges"] == 1
    assert fresh_vault.counts["reads"] == 2


def test_a_request_without_a_token_gets_the_key_vault_challenge(
    vault: KeyVaultDouble, tls: SandboxTls
) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca_bundle))

    with pytest.raises(HTTPError) as raised:
        urllib.request.urlopen(f"{vault.vault_url}/secrets/a?api-version=7.5", context=context)

    challenge = raised.value.headers["WWW-Authenticate"]
    assert raised.value.code == 401
    assert challenge.startswith('Bearer authorization="https://login.microsoftonline.com/')
    assert 'resource="https://0.0.1:' in challenge


def test_a_missing_secret_is_secret_not_found(vault: KeyVaultDouble, secrets: SecretClient) -> None:
    with pytest.raises(ResourceNotFoundError) as raised:
        secrets.get_secret("nothing-here")

    assert raised.value.error is not None
    assert raised.value.error.code == "SecretNotFound"
    assert "nothing-here" in (raised.value.error.message or "")


def test_a_missing_version_is_secret_not_found(
    vault: KeyVaultDouble, secrets: SecretClient
) -> None:
    vault.set_secret("a", "1")

    with pytest.raises(ResourceNotFoundError):
        secrets.get_secret("a", "0" * 32)


def test_one_injected_503_is_retried_by_the_sdk(
    vault: KeyVaultDouble, secrets: SecretClient
) -> None:
    vault.set_secret("a", "1")
    before = vault.counts["faults"]
    vault.fail_next(503)

    assert secrets.get_secret("a").value == "1"
    assert vault.counts["faults"] - before == 1


def test_error_bodies_have_the_key_vault_error_shape(
    vault: KeyVaultDouble, tls: SandboxTls
) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca_bundle))
    request = urllib.request.Request(
        f"{vault.vault_url}/secrets/none?api-version=7.5",
        headers={"Authorization": "Bearer sandbox"},
    )

    with pytest.raises(HTTPError) as raised:
        urllib.request.urlopen(request, context=context)

    assert raised.value.code == 404
    assert set(json.loads(raised.value.read())["error"]) == {"code", "message"}
