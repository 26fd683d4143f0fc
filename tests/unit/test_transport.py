"""HTTP settings come from the environment once, when a client is built, not on every request;
a proxy configured in the environment keeps requests' own handling (NO_PROXY included)."""

import pytest

from shared.adapters.arm import ArmConnection, transport_kwargs

PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def no_proxy_configured(monkeypatch):
    for name in (*PROXIES, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_a_ca_bundle_in_the_environment_reaches_every_client(monkeypatch, no_proxy_configured):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp-ca.pem")
    kwargs = ArmConnection(credential=None).client_kwargs()  # type: ignore[arg-type]
    assert kwargs["use_env_settings"] is False
    assert kwargs["connection_verify"] == "/etc/ssl/corp-ca.pem"


def test_without_a_proxy_requests_does_not_read_the_environment_per_request(no_proxy_configured):
    assert transport_kwargs() == {"use_env_settings": False}


def test_with_a_proxy_requests_keeps_reading_it_and_no_proxy(monkeypatch, no_proxy_configured):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert transport_kwargs() == {}
