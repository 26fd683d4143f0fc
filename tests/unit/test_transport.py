"""HTTP settings come from the environment once, when a client is built, not on every request:
without a proxy every client gets the product's urllib3 transport; a proxy configured in the
environment keeps requests' own handling (NO_PROXY included)."""

import pytest

from shared.adapters.arm import ArmConnection, transport_kwargs
from shared.adapters.http_transport import Urllib3Transport

PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def no_proxy_configured(monkeypatch):
    for name in (*PROXIES, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_a_ca_bundle_in_the_environment_reaches_every_client(monkeypatch, no_proxy_configured):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp-ca.pem")
    kwargs = ArmConnection(credential=None).client_kwargs()  # type: ignore[arg-type]
    assert kwargs["transport"].connection_config.verify == "/etc/ssl/corp-ca.pem"


def test_without_a_proxy_a_client_gets_the_urllib3_transport_verifying_with_certifi(
    no_proxy_configured,
):
    transport = transport_kwargs()["transport"]
    assert isinstance(transport, Urllib3Transport) and transport.connection_config.verify is True


def test_with_a_proxy_requests_keeps_reading_it_and_no_proxy(monkeypatch, no_proxy_configured):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert transport_kwargs() == {}
