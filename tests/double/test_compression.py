"""The ARM double answers gzip as ARM does: a GET's JSON answer gzip-compressed (chunked, with
``Content-Encoding: gzip`` and ``Vary: Accept-Encoding``) when the client accepts gzip; writes,
errors and clients that did not ask get plain JSON with a Content-Length."""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.arm_http import compresses
from sandbox.credential import SandboxCredential
from sandbox.https import Request, Response, accepts_gzip
from sandbox.tls import SandboxTls
from shared.adapters.arm import ArmConnection
from tests.double.arm_world import ACR, AKS, SUB, UAI_PRINCIPAL

AKS_API = "2026-05-01"
ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
ACR_PULL = f"{ROLES}/7f951dda-4ed3-4680-a7ca-43fe172d538d"
GZIP = {"Accept-Encoding": "gzip, deflate"}  # what requests (and the product's transport) send


@pytest.fixture
def connection(arm: ArmDouble, tls: SandboxTls) -> Iterator[http.client.HTTPSConnection]:
    """One kept-alive connection that shows the bytes as sent: http.client undoes the chunked
    framing but never decompresses, and sends no Accept-Encoding unless told."""
    url = urlsplit(arm.base_url)
    context = ssl.create_default_context(cafile=str(tls.ca_bundle))
    conn = http.client.HTTPSConnection(str(url.hostname), url.port, context=context, timeout=10)
    yield conn
    conn.close()


def _send(
    conn: http.client.HTTPSConnection,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, dict[str, str], bytes]:
    sent = {"Authorization": "Bearer sandbox", **(headers or {})}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=sent)
    answer = conn.getresponse()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


def _cluster(api: str = AKS_API) -> str:
    return f"{AKS}?api-version={api}"


# ---- on the wire -------------------------------------------------------------------------


def test_a_get_from_a_client_that_accepts_gzip_is_answered_gzip_compressed_and_chunked(
    connection: http.client.HTTPSConnection,
) -> None:
    status, headers, body = _send(connection, "GET", _cluster(), GZIP)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    assert json.loads(gzip.decompress(body))["id"].lower() == AKS.lower()


def test_a_get_from_a_client_that_did_not_ask_for_gzip_is_answered_plain_json(
    connection: http.client.HTTPSConnection,
) -> None:
    status, headers, body = _send(connection, "GET", _cluster())
    assert status == 200
    assert "content-encoding" not in headers
    assert headers["content-length"] == str(len(body))
    assert json.loads(body)["id"].lower() == AKS.lower()


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0, deflate", "deflate", "br"])
def test_a_client_that_refuses_gzip_or_offers_only_other_codings_gets_plain_json(
    connection: http.client.HTTPSConnection, accept: str
) -> None:
    status, headers, body = _send(connection, "GET", _cluster(), {"Accept-Encoding": accept})
    assert status == 200
    assert "content-encoding" not in headers
    assert json.loads(body)["id"].lower() == AKS.lower()


def test_the_compressed_and_the_plain_answer_carry_the_same_json(
    connection: http.client.HTTPSConnection,
) -> None:
    _, _, plain = _send(connection, "GET", _cluster())
    _, _, packed = _send(connection, "GET", _cluster(), GZIP)
    assert json.loads(gzip.decompress(packed)) == json.loads(plain)


def test_compressed_answers_in_a_row_on_one_kept_alive_connection_are_each_read_whole(
    connection: http.client.HTTPSConnection,
) -> None:
    bodies = [_send(connection, "GET", _cluster(), GZIP)[2] for _ in range(3)]
    bodies.append(_send(connection, "GET", _cluster())[2])
    assert [json.loads(gzip.decompress(b))["name"] for b in bodies[:3]] == ["aks-ml"] * 3
    assert json.loads(bodies[3])["name"] == "aks-ml"


def test_a_list_answer_is_compressed_too(connection: http.client.HTTPSConnection) -> None:
    path = f"/subscriptions/{SUB}/resources?api-version=2021-04-01"
    status, headers, body = _send(connection, "GET", path, GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["value"]


def test_a_write_is_answered_uncompressed_with_a_content_length_even_when_gzip_is_accepted(
    connection: http.client.HTTPSConnection,
) -> None:
    name = str(uuid.uuid4())
    body = {
        "properties": {
            "roleDefinitionId": ACR_PULL,
            "principalId": UAI_PRINCIPAL,
            "principalType": "ServicePrincipal",
        }
    }
    path = f"{ACR}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"
    status, headers, answer = _send(connection, "PUT", path, GZIP, body)
    assert status == 201
    assert "content-encoding" not in headers
    assert headers["content-length"] == str(len(answer))
    assert json.loads(answer)["name"] == name
    status, headers, answer = _send(connection, "GET", path, GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"


def test_an_error_answer_is_not_compressed(connection: http.client.HTTPSConnection) -> None:
    missing = AKS.replace("aks-ml", "aks-missing")
    status, headers, body = _send(connection, "GET", f"{missing}?api-version={AKS_API}", GZIP)
    assert status == 404
    assert "content-encoding" not in headers
    assert json.loads(body)["error"]["code"] == "ResourceNotFound"
    status, headers, body = _send(connection, "GET", _cluster(), {**GZIP, "Authorization": ""})
    assert status == 401 and "content-encoding" not in headers


def test_the_log_and_the_contract_checks_see_the_uncompressed_answer(
    arm: ArmDouble, connection: http.client.HTTPSConnection
) -> None:
    before = arm.contracts
    _send(connection, "GET", _cluster(), GZIP)
    after = arm.contracts
    assert after["checked"] == before["checked"] + 1
    assert after["violations"] == before["violations"]
    assert [(r.method, r.path, r.status) for r in arm.log][-1] == ("GET", AKS, 200)


# ---- the decisions, as plain functions ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate", True),
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("deflate", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000, deflate", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # gzip named and refused: the wildcard does not bring it back
    ],
)
def test_accept_encoding_is_read_as_http_says(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


def _request(method: str) -> Request:
    return Request(method, "/subscriptions/s/resources", {}, {}, b"")


@pytest.mark.parametrize(
    ("method", "response", "compressed"),
    [
        ("GET", Response(200, {"value": []}), True),
        ("GET", Response(404, {"error": {"code": "ResourceNotFound"}}), False),
        ("GET", Response(429, {"error": {"code": "SubscriptionRequestsThrottled"}}), False),
        ("GET", Response(200, None), False),
        ("GET", Response(200, raw=b"opaque"), False),
        ("PUT", Response(201, {"name": "x"}), False),
        ("PUT", Response(200, {"name": "x"}), False),
        ("DELETE", Response(200, {"name": "x"}), False),
        ("HEAD", Response(200, {"name": "x"}), False),
    ],
)
def test_arm_compresses_only_the_json_answers_of_successful_gets(
    method: str, response: Response, compressed: bool
) -> None:
    assert compresses(_request(method), response) is compressed


# ---- the real SDK clients, through the product's own clients and transport ----------------


@pytest.fixture
def product(arm: ArmDouble, tls: SandboxTls, monkeypatch: pytest.MonkeyPatch) -> ArmConnection:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    return ArmConnection(SandboxCredential(), endpoint=arm.base_url)


def _encodings(seen: list[str]) -> Any:
    return lambda pipeline_response: seen.append(
        pipeline_response.http_response.headers.get("Content-Encoding", "")
    )


def test_the_product_s_clients_read_compressed_gets_lists_and_plain_writes(
    product: ArmConnection,
) -> None:
    seen: list[str] = []
    resources = product.client(ResourceManagementClient, SUB)
    got = resources.resources.get_by_id(
        AKS, api_version=AKS_API, raw_response_hook=_encodings(seen)
    )
    assert got.name == "aks-ml"
    listed = list(
        resources.resources.list(
            filter="tagName eq 'azureml-attach'", raw_response_hook=_encodings(seen)
        )
    )
    assert any(r.name == "aks-ml" for r in listed)
    authorization = product.client(AuthorizationManagementClient, SUB)
    name = str(uuid.uuid4())
    created = authorization.role_assignments.create(
        ACR,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=ACR_PULL,
            principal_id=UAI_PRINCIPAL,
            principal_type="ServicePrincipal",
        ),
        raw_response_hook=_encodings(seen),
    )
    assert created.name == name
    fetched = authorization.role_assignments.get(ACR, name, raw_response_hook=_encodings(seen))
    assert fetched.principal_id == UAI_PRINCIPAL
    assert seen == ["gzip", "gzip", "", "gzip"]


def test_the_product_s_clients_read_an_uncompressed_error_as_the_error_it_is(
    product: ArmConnection,
) -> None:
    resources = product.client(ResourceManagementClient, SUB)
    with pytest.raises(ResourceNotFoundError) as raised:
        resources.resources.get_by_id(AKS.replace("aks-ml", "aks-gone"), api_version=AKS_API)
    assert raised.value.error is not None and raised.value.error.code == "ResourceNotFound"
