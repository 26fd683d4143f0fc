"""ARM's token buckets in the double: per principal, subscription, region and operation type, in
virtual time, with the remaining-count headers and ARM's 429 (Microsoft's "Understand how Azure
Resource Manager throttles requests")."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator

import pytest
import requests
from azure.mgmt.resource.resources import ResourceManagementClient

from sandbox.arm_double import ArmDouble
from sandbox.arm_throttle import Throttle, ThrottleLimits, actor_of
from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.runner import virtual_sdk_sleeps
from sandbox.tls import SandboxTls
from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, BASE_WORLD, SUB

API = "2026-05-01"
ROLE_NAME = "0f0e0d0c-0000-4000-8000-000000000001"
OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"
READ = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.X/y/z"
OTHER_READ = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg/providers/Microsoft.X/y/z"


def admitted(throttle: Throttle, method: str, path: str = READ, **where: object) -> bool:
    refused, _ = throttle.admit(method, path, **where)  # type: ignore[arg-type]
    return refused is None


def burst(throttle: Throttle, method: str, times: int, **where: object) -> int:
    """How many of ``times`` requests at once were admitted."""
    return sum(admitted(throttle, method, **where) for _ in range(times))


# ---- the buckets -------------------------------------------------------------------------


def test_a_principal_bursts_250_reads_and_then_gets_25_more_each_second() -> None:
    throttle = Throttle(enforce=True)
    assert burst(throttle, "GET", 260, now=0.0) == 250
    assert burst(throttle, "GET", 30, now=1.0) == 25
    assert burst(throttle, "GET", 300, now=100.0) == 250  # refills up to the bucket, no more


def test_a_principal_bursts_200_writes_refilled_at_10_a_second() -> None:
    throttle = Throttle(enforce=True)
    assert burst(throttle, "PUT", 210, now=0.0) == 200
    assert not admitted(throttle, "POST", now=0.05)
    assert burst(throttle, "PATCH", 20, now=1.0) == 10


def test_deletes_take_from_their_own_bucket_not_from_the_writes() -> None:
    throttle = Throttle(enforce=True)
    assert burst(throttle, "PUT", 200, now=0.0) == 200
    assert burst(throttle, "DELETE", 210, now=0.0) == 200
    assert burst(throttle, "GET", 10, now=0.0) == 10


def test_a_refused_request_takes_no_token() -> None:
    throttle = Throttle(ThrottleLimits(writes=1, writes_per_second=1.0), enforce=True)
    assert admitted(throttle, "PUT", now=0.0)
    assert burst(throttle, "PUT", 50, now=0.5) == 0
    assert admitted(throttle, "PUT", now=1.0)  # the 50 refusals did not push it further out


def test_each_principal_has_its_own_buckets_in_a_subscription() -> None:
    throttle = Throttle(enforce=True)
    assert burst(throttle, "PUT", 200, actor="alice", now=0.0) == 200
    assert not admitted(throttle, "PUT", actor="alice", now=0.0)
    assert burst(throttle, "PUT", 200, actor="bob", now=0.0) == 200


def test_each_subscription_and_each_region_has_its_own_buckets() -> None:
    throttle = Throttle(enforce=True)
    assert burst(throttle, "PUT", 200, region="westeurope", now=0.0) == 200
    assert not admitted(throttle, "PUT", region="westeurope", now=0.0)
    assert admitted(throttle, "PUT", READ, region="northeurope", now=0.0)
    assert admitted(throttle, "PUT", OTHER_READ, region="westeurope", now=0.0)


def test_all_principals_together_get_15_times_one_principals_bucket() -> None:
    throttle = Throttle(ThrottleLimits(writes=2, writes_per_second=1.0), enforce=True)
    taken = [burst(throttle, "PUT", 2, actor=f"p{n}", now=0.0) for n in range(16)]
    assert taken == [2] * 15 + [0]  # the 16th principal meets the empty global bucket
    assert burst(throttle, "PUT", 2, actor="p15", region="elsewhere", now=0.0) == 2


def test_without_enforcement_nothing_is_refused_and_the_buckets_look_full() -> None:
    throttle = Throttle(enforce=False)
    assert burst(throttle, "PUT", 1000, now=0.0) == 1000
    _, headers = throttle.admit("PUT", READ, now=0.0)
    assert headers == {
        "x-ms-ratelimit-remaining-subscription-writes": "199",
        "x-ms-ratelimit-remaining-subscription-global-writes": "2999",
    }


def test_the_principal_is_the_bearer_tokens_object_id_or_a_stable_id_for_an_opaque_token() -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"oid": "obj-1"}).encode()).decode().rstrip("=")
    assert actor_of(f"Bearer header.{claims}.signature") == "obj-1"
    assert actor_of("Bearer opaque") == actor_of("Bearer opaque") != actor_of("Bearer other")


# ---- over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def throttled_arm(arm_server: ArmDouble, clock: VirtualClock) -> Iterator[ArmDouble]:
    """The session's double serving a world that says ``arm_throttling: true``."""
    arm_server.use(World.from_dict({**copy.deepcopy(BASE_WORLD), "arm_throttling": True}), clock)
    yield arm_server
    arm_server.use(World(), VirtualClock())


def call(
    arm: ArmDouble, tls: SandboxTls, method: str, path: str, token: str = "sandbox"
) -> requests.Response:
    return requests.request(
        method,
        f"{arm.base_url}{path}?api-version={API}",
        headers={"Authorization": f"Bearer {token}"},
        json={} if method == "PUT" else None,
        verify=str(tls.ca_bundle),
        timeout=10,
    )


def test_every_answer_carries_the_remaining_count_of_its_operation_type(
    throttled_arm: ArmDouble, tls: SandboxTls
) -> None:
    read = call(throttled_arm, tls, "GET", AKS)
    assert read.status_code == 200
    assert read.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    assert read.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "3749"
    role = f"{AKS}/providers/Microsoft.Authorization/roleAssignments/{ROLE_NAME}"
    write = call(throttled_arm, tls, "PUT", role)
    assert write.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    assert write.headers["x-ms-ratelimit-remaining-subscription-global-writes"] == "2999"
    delete = call(throttled_arm, tls, "DELETE", role)
    assert delete.headers["x-ms-ratelimit-remaining-subscription-deletes"] == "199"
    assert "x-ms-ratelimit-remaining-subscription-writes" not in delete.headers
    assert (
        call(throttled_arm, tls, "GET", AKS).headers["x-ms-ratelimit-remaining-subscription-reads"]
        == "248"
    )


def test_an_empty_bucket_answers_429_with_retry_after_until_it_refills_in_virtual_time(
    throttled_arm: ArmDouble, tls: SandboxTls, clock: VirtualClock
) -> None:
    throttled_arm.throttle = Throttle(ThrottleLimits(reads=2, reads_per_second=0.25), enforce=True)
    assert [call(throttled_arm, tls, "GET", AKS).status_code for _ in range(2)] == [200, 200]
    refused = call(throttled_arm, tls, "GET", AKS)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "4"
    assert refused.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "SubscriptionRequestsThrottled"
    assert error["message"].startswith(f"Number of 'read' requests for subscription '{SUB}' actor")
    assert "Please try again after '4' seconds" in error["message"]
    assert [r.throttled for r in throttled_arm.log] == [False, False, True]
    assert throttled_arm.split_counts["throttled"] == 1
    clock.advance(3.9)
    assert call(throttled_arm, tls, "GET", AKS).status_code == 429
    clock.advance(0.2)
    assert call(throttled_arm, tls, "GET", AKS).status_code == 200


def test_two_bearer_tokens_are_two_principals_with_their_own_buckets(
    throttled_arm: ArmDouble, tls: SandboxTls
) -> None:
    throttled_arm.throttle = Throttle(ThrottleLimits(reads=1, reads_per_second=0.1), enforce=True)
    assert call(throttled_arm, tls, "GET", AKS, token="alice").status_code == 200
    refused = call(throttled_arm, tls, "GET", AKS, token="alice")
    assert refused.status_code == 429
    assert actor_of("Bearer alice") in refused.json()["error"]["message"]
    assert call(throttled_arm, tls, "GET", AKS, token="bob").status_code == 200


def test_a_world_without_arm_throttling_never_refuses(arm: ArmDouble, tls: SandboxTls) -> None:
    arm.throttle.limits = ThrottleLimits(reads=1)
    statuses = {call(arm, tls, "GET", AKS).status_code for _ in range(3)}
    assert statuses == {200}


def test_arm_throttling_is_a_true_or_false_world_setting() -> None:
    assert World.from_dict({}).arm_throttling is False
    with pytest.raises(WorldError, match="arm_throttling must be true or false"):
        World.from_dict({"arm_throttling": "yes"})


def test_sdk_retries_in_a_throttled_sandbox_wait_in_virtual_time_and_then_succeed(
    throttled_arm: ArmDouble, tls: SandboxTls, clock: VirtualClock
) -> None:
    throttled_arm.throttle = Throttle(ThrottleLimits(reads=1, reads_per_second=0.5), enforce=True)
    client = ResourceManagementClient(
        SandboxCredential(),
        SUB,
        base_url=throttled_arm.base_url,
        connection_verify=str(tls.ca_bundle),
    )
    restore = virtual_sdk_sleeps(clock)
    try:
        client.resources.get_by_id(AKS, api_version=API)
        client.resources.get_by_id(AKS, api_version=API)  # 429 Retry-After 2, then admitted
    finally:
        restore()
    assert [r.status for r in throttled_arm.log] == [200, 429, 200]
    assert clock.seconds() >= 2.0
