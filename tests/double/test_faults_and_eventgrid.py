"""Fault injection and throttling on the ARM double, and the Event Grid topic double."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridPublisherClient
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.arm_faults import Throttle, ThrottleLimits
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.eventgrid_double import EventGridDouble
from sandbox.tls import SandboxTls
from sandbox.world import World
from tests.double.arm_world import AKS, SUB

API = "2026-05-01"


def test_injected_429_is_retried_by_azure_core_honouring_retry_after(
    arm: ArmDouble, resources: ResourceManagementClient
) -> None:
    arm.inject(
        "GET",
        "/managedClusters/aks-ml",
        429,
        "SubscriptionRequestsThrottled",
        times=2,
        retry_after=0.01,
    )
    assert resources.resources.get_by_id(AKS, api_version=API).name == "aks-ml"
    assert arm.counts == {"reads": 3, "writes": 0}
    assert [r.status for r in arm.log] == [429, 429, 200]


def test_injected_429_carries_retry_after_and_arm_error_shape(
    arm: ArmDouble, tls: SandboxTls
) -> None:
    arm.inject("*", "aks-ml", 429, "SubscriptionRequestsThrottled", retry_after=7)
    response = requests.get(
        f"{arm.base_url}{AKS}?api-version={API}",
        headers={"Authorization": "Bearer x"},
        verify=str(tls.ca_bundle),
        timeout=10,
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "x-ms-ratelimit-remaining-subscription-reads" in response.headers


def test_persistent_5xx_surfaces_after_the_sdk_retries(
    arm: ArmDouble, resources: ResourceManagementClient
) -> None:
    arm.inject("GET", "aks-ml", 503, "ServiceUnavailable", times=10, retry_after=0.01)
    with pytest.raises(HttpResponseError) as raised:
        resources.resources.get_by_id(AKS, api_version=API)
    assert raised.value.status_code == 503
    assert arm.counts["reads"] == 4  # first try + azure-core's 3 status retries


def test_enforced_read_bucket_throttles_with_arm_429(
    world: World, clock: VirtualClock, tls: SandboxTls
) -> None:
    now = [0.0]
    throttle = Throttle(
        ThrottleLimits(reads=2, reads_per_second=1.0), enforce=True, monotonic=lambda: now[0]
    )
    double = ArmDouble(world, clock, tls, throttle=throttle).start()
    try:
        get = lambda: requests.get(  # noqa: E731
            f"{double.base_url}{AKS}?api-version={API}",
            headers={"Authorization": "Bearer x"},
            verify=str(tls.ca_bundle),
            timeout=10,
        )
        assert [get().status_code, get().status_code] == [200, 200]
        throttled = get()
        assert throttled.status_code == 429
        assert throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
        assert throttled.headers["Retry-After"] == "1"
        assert SUB in throttled.json()["error"]["message"]
        now[0] += 1.0
        assert get().status_code == 200
    finally:
        double.stop()


def test_event_grid_double_stores_cloud_events_sent_by_the_real_publisher(
    topic: EventGridDouble, tls: SandboxTls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EventGridPublisherClient (basic tier) drops constructor kwargs such as connection_verify;
    # requests honours REQUESTS_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    client = EventGridPublisherClient(topic.endpoint, SandboxCredential())
    client.send(
        [
            CloudEvent(
                source="/autoattach",
                type="Autoattach.ComputeAttached",
                subject=AKS,
                data={"workspace": "ws-research", "compute": "k8s-aks"},
            )
        ]
    )
    assert [(n["type"], n["subject"], n["source"], n["data"]) for n in topic.notifications] == [
        (
            "Autoattach.ComputeAttached",
            AKS,
            "/autoattach",
            {"workspace": "ws-research", "compute": "k8s-aks"},
        )
    ]


def test_event_grid_double_requires_a_bearer_token(topic: EventGridDouble, tls: SandboxTls) -> None:
    response = requests.post(
        topic.endpoint,
        json=[{"id": "1", "source": "s", "type": "t", "specversion": "1.0"}],
        headers={"Content-Type": "application/cloudevents-batch+json"},
        verify=str(tls.ca_bundle),
        timeout=10,
    )
    assert response.status_code == 401
    assert topic.notifications == []
