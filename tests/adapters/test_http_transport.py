"""The product's HTTP transport (shared.adapters.http_transport): urllib3 without requests'
per-request preparation, behind azure-core's own response classes, over TLS on loopback."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme
from azure.core import PipelineClient
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpRequest as LegacyHttpRequest
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.storage.blob import BlobServiceClient

from sandbox.blob_double import BlobStorageDouble
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.eventgrid_double import EventGridDouble
from sandbox.https import HttpsDouble, Request, Response
from sandbox.runner import Sandbox
from sandbox.tls import SandboxTls
from shared.adapters.arm import IN_CALL_RETRIES, transport_kwargs
from shared.adapters.http_transport import BLOB_CLIENT_CONNECTION, Urllib3Transport, ssl_context
from shared.adapters.notifications import EventGridNotifier
from shared.decisions.errors import TransientError, azure_call
from shared.decisions.notices import Notification
from tests.e2e.conftest import ready_document, scenario_from


@pytest.fixture(scope="module")
def tls() -> SandboxTls:
    return SandboxTls.create()


class Server:
    """A TLS server on loopback answering with ``answer``; keeps what it was asked."""

    def __init__(self, tls: SandboxTls, answer: Callable[[Request], Response]) -> None:
        self.seen: list[Request] = []

        def handle(request: Request) -> Response:
            self.seen.append(request)
            return answer(request)

        self.double = HttpsDouble(tls, handle)

    @property
    def url(self) -> str:
        return self.double.base_url


@pytest.fixture
def serve(tls: SandboxTls) -> Iterator[Callable[[Callable[[Request], Response]], Server]]:
    started: list[Server] = []

    def start(answer: Callable[[Request], Response]) -> Server:
        server = Server(tls, answer)
        server.double.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.double.stop()


def client(transport: Urllib3Transport, url: str) -> PipelineClient:
    return PipelineClient(url, transport=transport)


def echo(request: Request) -> Response:
    return Response(
        200,
        {
            "method": request.method,
            "path": request.path,
            "body": request.body.decode(),
            "length": request.headers.get("content-length"),
            "accept-encoding": request.headers.get("accept-encoding"),
        },
    )


# ---- every client the product builds -----------------------------------------------------


def test_every_client_of_a_sandbox_run_sends_through_urllib3_and_none_through_requests(
    no_proxy: None, requests_sends: list[str]
) -> None:
    with Sandbox(scenario_from(ready_document())) as sandbox:
        report = sandbox.run_pass(0)
        stored = sandbox.storage.log
    # ARM (mgmt clients and azure-ai-ml), the ledger's Blob Storage and Event Grid all answered
    assert report.writes > 0 and report.notifications > 0 and stored
    assert all(d.outcome != "dead-lettered" for d in report.deliveries)
    assert requests_sends == []


def test_with_a_proxy_in_the_environment_the_clients_keep_the_requests_transport(
    monkeypatch: pytest.MonkeyPatch, no_proxy: None
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert transport_kwargs(connection_verify="/etc/ssl/corp.pem") == {}


def test_without_a_proxy_a_client_gets_a_fresh_urllib3_transport_with_its_own_tls_settings(
    no_proxy: None,
) -> None:
    first = transport_kwargs(connection_verify="/etc/ssl/corp.pem", retry_total=2)["transport"]
    second = transport_kwargs()["transport"]
    assert isinstance(first, Urllib3Transport) and first is not second
    assert first.connection_config.verify == "/etc/ssl/corp.pem"


def test_the_ledger_transport_keeps_the_blob_clients_own_timeouts_and_block_size() -> None:
    from azure.storage.blob._shared import constants

    assert BLOB_CLIENT_CONNECTION == {
        "connection_timeout": constants.CONNECTION_TIMEOUT,
        "read_timeout": constants.READ_TIMEOUT,
        "connection_data_block_size": constants.DATA_BLOCK_SIZE,
    }


# ---- answers -----------------------------------------------------------------------------


def test_a_gzip_answer_is_decoded_for_rest_and_legacy_requests(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    payload = {"name": "aks-1", "tags": {"azureml-attach": "ws-1"}}

    def gzipped(request: Request) -> Response:
        return Response(
            200,
            raw=gzip.compress(json.dumps(payload).encode()),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    server = serve(gzipped)
    pipeline = client(Urllib3Transport(connection_verify=str(tls.ca_bundle)), server.url)
    assert pipeline.send_request(HttpRequest("GET", server.url + "/c")).json() == payload
    legacy = pipeline._pipeline.run(LegacyHttpRequest("GET", server.url + "/c")).http_response
    assert json.loads(legacy.body()) == payload
    assert "gzip" in server.seen[0].headers["accept-encoding"]


def test_a_streamed_answer_is_read_as_it_is_iterated_not_before(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    server = serve(lambda request: Response(200, raw=body))
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    response = client(transport, server.url).send_request(
        HttpRequest("GET", server.url + "/big"), stream=True
    )
    assert not response.is_stream_consumed
    chunks = list(response.iter_bytes())
    assert len(chunks) > 1 and b"".join(chunks) == body


def test_a_blob_download_streams_in_chunks_and_reads_whole(tls: SandboxTls, no_proxy: None) -> None:
    storage = BlobStorageDouble(tls, VirtualClock()).start()
    try:
        service = BlobServiceClient(
            storage.endpoint,
            credential=SandboxCredential(),
            max_single_get_size=64 * 1024,
            max_chunk_get_size=64 * 1024,
            **transport_kwargs(
                **(BLOB_CLIENT_CONNECTION | {"connection_verify": str(tls.ca_bundle)})
            ),
        )
        container = service.get_container_client("data")
        container.create_container()
        data = bytes(range(256)) * 1024  # 256 KiB
        container.upload_blob("big.bin", data)
        chunks = list(container.download_blob("big.bin").chunks())
        assert len(chunks) > 1 and b"".join(chunks) == data
        assert container.download_blob("big.bin").readall() == data
        ranged = [r for r in storage.log if r.method == "GET" and "big.bin" in r.path]
        assert len(ranged) > 2  # ranged GETs, one per chunk
    finally:
        storage.stop()


def test_a_redirect_is_returned_not_followed(tls: SandboxTls, serve: Callable[..., Server]) -> None:
    server = serve(lambda request: Response(302, headers={"Location": "/elsewhere"}))
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    response = transport.send(HttpRequest("GET", server.url + "/here"))
    assert response.status_code == 302 and [r.path for r in server.seen] == ["/here"]


# ---- requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"a": 1}', id="bytes"),
        pytest.param('{"a": "\u00e9"}', id="str"),
        pytest.param(io.BytesIO(b'{"a": 1}'), id="file"),
    ],
)
def test_a_body_arrives_whole_with_its_length(
    tls: SandboxTls, serve: Callable[..., Server], body: Any
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    request = LegacyHttpRequest("PUT", server.url + "/x")
    request.data = body
    answer = json.loads(transport.send(request).body())
    expected = b'{"a": 1}' if not isinstance(body, str) else body.encode()
    assert answer["body"].encode() == expected and answer["length"] == str(len(expected))


def test_an_iterator_body_with_its_length_given_arrives_whole(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    request = HttpRequest(
        "PUT", server.url + "/x", content=iter([b"ab", b"cd"]), headers={"Content-Length": "4"}
    )
    assert transport.send(request).json()["body"] == "abcd"


def test_a_put_without_a_body_says_content_length_0_and_a_get_sends_none(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    assert transport.send(HttpRequest("PUT", server.url + "/x")).json()["length"] == "0"
    assert transport.send(HttpRequest("GET", server.url + "/x")).json()["length"] is None


# ---- failures ----------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_endpoint_is_a_service_request_error_the_product_types_as_transient(
    tls: SandboxTls,
) -> None:
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    url = f"https://127.0.0.1:{closed_port()}/x"
    with pytest.raises(ServiceRequestError):
        transport.send(HttpRequest("GET", url))
    with pytest.raises(TransientError) as raised, azure_call("read cluster aks-1"):
        transport.send(HttpRequest("GET", url))
    assert raised.value.reason == "Unreachable"


def test_a_connection_dropped_before_the_answer_is_a_service_response_error(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    server = serve(lambda request: Response(200, drop=True))
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    with pytest.raises(ServiceResponseError):
        transport.send(HttpRequest("GET", server.url + "/x"))


def test_a_server_slower_than_the_read_timeout_is_a_service_response_timeout(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(200, {})

    server = serve(slow)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    with pytest.raises(ServiceResponseTimeoutError):
        transport.send(HttpRequest("GET", server.url + "/x"), read_timeout=0.1)


def test_a_certificate_from_an_unknown_authority_is_refused_unless_verification_is_off(
    serve: Callable[..., Server],
) -> None:
    server = serve(echo)  # the module's CA, which this transport is not told about
    other_ca = SandboxTls.create()
    with pytest.raises(ServiceRequestError):
        Urllib3Transport(connection_verify=str(other_ca.ca_bundle)).send(
            HttpRequest("GET", server.url + "/x")
        )
    with pytest.raises(ServiceRequestError):  # certifi's bundle does not know it either
        Urllib3Transport().send(HttpRequest("GET", server.url + "/x"))
    unverified = Urllib3Transport(connection_verify=False)
    with pytest.warns(Warning):  # urllib3's InsecureRequestWarning, as with requests
        assert unverified.send(HttpRequest("GET", server.url + "/x")).status_code == 200


def test_a_missing_ca_bundle_or_client_certificate_is_an_os_error_before_sending(
    tmp_path: Any,
) -> None:
    with pytest.raises(OSError, match="CA certificate bundle"):
        ssl_context(str(tmp_path / "missing.pem"), None)
    with pytest.raises(OSError, match="certificate file"):
        ssl_context(True, str(tmp_path / "missing-client.pem"))


def test_a_client_certificate_is_loaded_into_the_connections_context(tmp_path: Any) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("autoattach-client")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    context = ssl_context(True, (str(cert), str(key)))
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname


# ---- connections -------------------------------------------------------------------------


def test_sequential_requests_reuse_one_kept_alive_connection(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    for _ in range(5):
        transport.send(HttpRequest("GET", server.url + "/x"))
    pools = list(transport._pool_manager().pools._container.values())
    assert len(pools) == 1 and pools[0].num_connections == 1 and pools[0].num_requests == 5


def test_concurrent_requests_from_many_threads_each_get_their_own_answer(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    wrong: list[str] = []

    def work(n: int) -> None:
        for i in range(20):
            path = f"/t{n}/{i}"
            if transport.send(HttpRequest("GET", server.url + path)).json()["path"] != path:
                wrong.append(path)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [] and len(server.seen) == 160


def test_a_closed_transport_releases_its_connections_and_can_send_again(
    tls: SandboxTls, serve: Callable[..., Server]
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    transport.send(HttpRequest("GET", server.url + "/x"))
    transport.close()
    assert transport._pools is None
    assert transport.send(HttpRequest("GET", server.url + "/y")).json()["path"] == "/y"


def test_what_this_path_does_not_handle_goes_through_requests(
    tls: SandboxTls, serve: Callable[..., Server], requests_sends: list[str]
) -> None:
    server = serve(echo)
    transport = Urllib3Transport(connection_verify=str(tls.ca_bundle))
    form = LegacyHttpRequest(
        "POST", server.url + "/form", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    form.set_formdata_body({"grant_type": "client_credentials"})  # form fields
    assert json.loads(transport.send(form).body())["body"] == "grant_type=client_credentials"
    multipart = LegacyHttpRequest("POST", server.url + "/files")
    multipart.set_formdata_body({"grant_type": "client_credentials"})  # files
    assert 'name="grant_type"' in json.loads(transport.send(multipart).body())["body"]
    assert requests_sends == [server.url + "/form", server.url + "/files"]
    assert isinstance(transport, RequestsTransport)


# ---- the notifier's publisher --------------------------------------------------------------


def test_the_notifier_publishes_through_the_urllib3_transport_and_retries_twice(
    tls: SandboxTls, no_proxy: None, requests_sends: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-eventgrid 4.22's EventGridPublisherClient drops every keyword argument for a basic
    topic (its legacy client is built with the api-version only), so transport and retry
    settings must reach the client that publishes."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    topic = EventGridDouble(tls).start()
    try:
        notifier = EventGridNotifier(topic.endpoint, SandboxCredential())
        notifier.publish([Notification(type="Autoattach.Test", subject="/ws", data={"a": 1})])
        assert len(topic.notifications) == 1 and requests_sends == []
        topic.fail_next(times=5)
        before = topic.request_count
        with pytest.raises(TransientError):
            notifier.publish([Notification(type="Autoattach.Test", subject="/ws")])
        assert topic.request_count - before == 1 + IN_CALL_RETRIES
    finally:
        topic.stop()
