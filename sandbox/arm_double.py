"""The stateful local double of Azure Resource Manager, served over TLS to the real SDK clients.

    double = ArmDouble(world, clock, tls).start()
    client = ResourceManagementClient(cred, sub, base_url=double.base_url,
                                      connection_verify=str(tls.ca_bundle))

Every request needs ``Authorization: Bearer ...`` (401 otherwise), is counted (``counts``,
``split_counts``) and logged (``log``), may be answered by an injected fault (``inject``,
``fail_next_lro``), is charged to ARM's token buckets (``throttle``, sandbox/arm_throttle.py;
enforced when the world says ``arm_throttling: true``) and carries
``x-ms-ratelimit-remaining-subscription-*`` headers, and is authorized with Azure RBAC against
the world's role assignments when the world says ``arm_authorization: true``
(sandbox/arm_rbac.py). See sandbox/README.md.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import (
    arm_authorization,
    arm_eventgrid,
    arm_extensions,
    arm_groups,
    arm_ml,
    arm_namespaces,
    arm_permissions,
    arm_rbac,
    arm_resources,
    arm_role_definitions,
    arm_servicebus,
    arm_storage,
    arm_trusted_access,
    arm_web,
)
from sandbox.arm_faults import Faults
from sandbox.arm_http import Ctx, arm_error, compresses
from sandbox.arm_lro import LroStore
from sandbox.arm_throttle import READ_METHODS, Throttle, ThrottleLimits, actor_of, is_poll
from sandbox.clock import VirtualClock
from sandbox.contracts import ArmContracts
from sandbox.https import HttpsDouble, Request, Response
from sandbox.tls import SandboxTls
from sandbox.world import World

_SEG = r"[^/]+"
_THROTTLED_HEADER = "x-sandbox-throttled"  # internal mark, removed before the answer goes out
_RG = rf"/subscriptions/{_SEG}/resourceGroups/{_SEG}/providers"
_ROUTES: list[tuple[set[str], str, Callable[[Ctx], Response]]] = [
    (  # the tags of a cluster, workspace, identity or resource group (sandbox/arm_groups.py)
        {"GET", "PUT"},
        r"(?P<scope>/.*)/providers/Microsoft\.Resources/tags/default",
        arm_groups.tags,
    ),
    (  # long-running operation statuses, as each provider words them (sandbox/arm_lro.py)
        {"GET"},
        rf"/subscriptions/{_SEG}/providers/{_SEG}/locations/{_SEG}"
        rf"/(?:operationStatuses|operations|computeOperationsStatus)/(?P<op>{_SEG})",
        lambda ctx: ctx.lro.status(ctx.groups["op"]),
    ),
    (
        {"GET"},
        rf"{_RG}/{_SEG}/{_SEG}/{_SEG}/providers/Microsoft\.KubernetesConfiguration"
        rf"/extensions/{_SEG}/operations/(?P<op>{_SEG})",
        lambda ctx: ctx.lro.status(ctx.groups["op"]),
    ),
    (
        {"GET", "PUT", "DELETE"},
        rf"(?P<scope>/.*)/providers/Microsoft\.Authorization/roleAssignments/(?P<name>{_SEG})",
        arm_authorization.role_assignment,
    ),
    (
        {"GET"},
        r"(?P<scope>/.*)/providers/Microsoft\.Authorization/roleAssignments",
        arm_authorization.list_for_scope,
    ),
    (  # the caller's own permissions at a scope (sandbox/arm_permissions.py)
        {"GET"},
        r"(?P<scope>/.*)/providers/Microsoft\.Authorization/permissions",
        arm_permissions.permissions,
    ),
    (
        {"GET", "PUT", "DELETE"},
        rf"(?P<cluster>{_RG}/{_SEG}/{_SEG}/{_SEG})/providers/Microsoft\.KubernetesConfiguration"
        rf"/extensions(?:/(?P<name>{_SEG}))?",
        arm_extensions.extensions,
    ),
    (
        {"GET", "PUT", "DELETE"},
        rf"(?P<cluster>{_RG}/Microsoft\.ContainerService/managedClusters/{_SEG})"
        rf"/managedNamespaces(?:/(?P<name>{_SEG}))?",
        arm_namespaces.managed_namespaces,
    ),
    (
        {"GET"},
        rf"(?P<cluster>{_RG}/Microsoft\.ContainerService/managedClusters/{_SEG})"
        rf"/trustedAccessRoleBindings(?:/(?P<name>{_SEG}))?",
        arm_trusted_access.trusted_access_role_bindings,
    ),
    (
        {"GET", "PUT", "DELETE"},
        rf"(?P<ws>{_RG}/Microsoft\.MachineLearningServices/workspaces/{_SEG})"
        rf"/computes(?:/(?P<name>{_SEG}))?",
        arm_ml.computes,
    ),
    (
        {"GET"},
        rf"(?P<ws>{_RG}/Microsoft\.MachineLearningServices/workspaces/{_SEG})",
        arm_ml.workspace,
    ),
    # What doctor reads around autoattach (sandbox/hub.py): read-only.
    (
        {"POST"},
        rf"(?P<site>{_RG}/Microsoft\.Web/sites/{_SEG})/config/appsettings/list",
        arm_web.list_app_settings,
    ),
    (
        {"GET"},
        r"(?P<scope>/.*)/providers/Microsoft\.Authorization/roleDefinitions"
        rf"(?:/(?P<name>{_SEG}))?",
        arm_role_definitions.role_definitions,
    ),
    (
        {"GET"},
        rf"(?P<ns>{_RG}/Microsoft\.ServiceBus/namespaces/{_SEG})"
        rf"(?:/(?P<queues>queues)(?:/(?P<queue>{_SEG}))?)?",
        arm_servicebus.service_bus,
    ),
    (
        {"GET"},
        rf"(?P<topic>{_RG}/Microsoft\.EventGrid/systemTopics/{_SEG})"
        rf"(?:/(?P<subs>eventSubscriptions)(?:/(?P<sub>{_SEG}))?)?",
        arm_eventgrid.system_topic,
    ),
    ({"GET"}, rf"(?P<topic>{_RG}/Microsoft\.EventGrid/topics/{_SEG})", arm_eventgrid.topic),
    (
        {"GET"},
        rf"(?P<account>{_RG}/Microsoft\.Storage/storageAccounts/{_SEG})",
        arm_storage.storage_account,
    ),
    (
        {"GET"},
        rf"(?P<registry>{_RG}/Microsoft\.ContainerRegistry/registries/{_SEG})",
        arm_storage.registry,
    ),
    (
        {"GET"},
        rf"(?P<vault>{_RG}/Microsoft\.KeyVault/vaults/{_SEG})(?:/secrets/(?P<secret>{_SEG}))?",
        arm_storage.vault,
    ),
    ({"GET"}, rf"/subscriptions/(?P<sub>{_SEG})/resources", arm_resources.list_resources),
    (
        {"GET"},
        rf"/subscriptions/(?P<sub>{_SEG})/resourceGroups/(?P<rg>{_SEG})/resources",
        arm_resources.list_by_resource_group,
    ),
    (
        {"GET"},
        rf"(?P<relay>{_RG}/Microsoft\.Relay/namespaces/{_SEG})/hybridConnections/(?P<hc>{_SEG})"
        rf"(?:/authorizationRules/(?P<rule>{_SEG}))?",
        arm_resources.get_relay_child,
    ),
    ({"GET"}, rf"{_RG}/{_SEG}/{_SEG}/{_SEG}", arm_resources.get_by_id),
    (
        {"GET"},
        rf"/subscriptions/(?P<sub>{_SEG})/resourceGroups/(?P<rg>{_SEG})",
        arm_groups.resource_group,
    ),
]
_COMPILED = [
    (methods, re.compile(pattern + r"/?$", re.IGNORECASE), handler)
    for methods, pattern, handler in _ROUTES
]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None
    at: float = 0.0  # virtual seconds when it was served
    throttled: bool = False  # refused by ARM's token buckets (429 SubscriptionRequestsThrottled)

    @property
    def kind(self) -> str:
        """``polls`` (an operation status read), ``reads`` (other GET/HEAD) or ``writes``."""
        if is_poll(self.method, self.path):
            return "polls"
        return "reads" if self.method in READ_METHODS else "writes"


class ArmDouble:
    """ARM on loopback: clusters, extensions, namespaces, workspaces, computes, role assignments,
    and the Relay namespaces (with hybrid connections) the Azure CLI makes for Arc clusters."""

    def __init__(
        self,
        world: World,
        clock: VirtualClock,
        tls: SandboxTls,
        throttle: Throttle | None = None,
    ) -> None:
        self.world = world
        self.clock = clock
        self.tls = tls
        self.faults = Faults()
        # ARM's buckets; enforced only when the world asks (``arm_throttling``) or a test passes
        # an enforcing Throttle. The region is the one of the ARM instance serving (one a double).
        self._own_throttle = throttle is None
        self.throttle = throttle or Throttle(ThrottleLimits(), enforce=world.arm_throttling)
        self.region = world.arm_region
        self._lro = LroStore(clock, self._location_of)
        world.clock = clock  # computes settle and role assignments take effect on this clock
        self._lock = threading.Lock()
        self._counts = {"reads": 0, "writes": 0}
        self._log: list[LoggedRequest] = []
        self._contracts = ArmContracts()
        self._server = HttpsDouble(tls, self._handle, gzip_when=compresses)
        # Called with (method, path) after each write ARM accepted (2xx): how Event Grid's
        # system topic hears of it (sandbox/system_topic.py).
        self.write_listeners: list[Callable[[str, str], None]] = []

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> ArmDouble:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def use(self, world: World, clock: VirtualClock) -> None:
        """Serve another world and clock on the same port; clears counts, log and faults."""
        self.world = world
        self.clock = clock
        world.clock = clock
        self._lro = LroStore(clock, self._location_of)
        self.faults.clear()
        self.reset_counts()
        self._contracts.reset()
        self.region = world.arm_region
        if self._own_throttle:
            self.throttle = Throttle(ThrottleLimits(), enforce=world.arm_throttling)
        else:
            self.throttle.reset()

    # ---- observation ---------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def split_counts(self) -> dict[str, int]:
        """Since the last ``reset_counts``: ``reads`` (GET/HEAD other than polls), ``polls``
        (long-running operation status reads), ``writes`` (PUT/PATCH/POST/DELETE), and
        ``throttled`` (how many of those ARM's buckets refused with 429)."""
        split = {"reads": 0, "polls": 0, "writes": 0, "throttled": 0}
        for logged in self.log:
            split[logged.kind] += 1
            split["throttled"] += int(logged.throttled)
        return split

    def reset_counts(self) -> None:
        with self._lock:
            self._counts = {"reads": 0, "writes": 0}
            self._log.clear()

    @property
    def contracts(self) -> dict[str, Any]:
        """Every request checked against the published types since ``start``/``use`` (not reset by
        ``reset_counts``): ``{"checked", "typed", "not_applicable", "violations"}``."""
        return self._contracts.summary()

    @property
    def log(self) -> list[LoggedRequest]:
        """Every request served since the last ``reset_counts``, in order."""
        with self._lock:
            return list(self._log)

    # ---- faults --------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_contains: str,
        status: int,
        code: str,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests (method or "*") with an ARM error."""
        self.faults.inject(method, path_contains, status, code, times, retry_after)

    def fail_next_lro(self, path_contains: str) -> None:
        """The next long-running operation whose path contains this ends Failed."""
        self.faults.fail_next_lro(path_contains)

    def inject_drop(
        self, method: str, path_contains: str, *, after_apply: bool, times: int = 1
    ) -> None:
        """Close the connection of the next ``times`` matching requests without answering:
        before the request is applied, or after (the write is done; the client never hears)."""
        self.faults.inject_drop(method, path_contains, after_apply=after_apply, times=times)

    # ---- serving -------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        request.path = re.sub(r"/{2,}", "/", request.path)
        at = self.clock.seconds()
        response = self._respond(request)
        self._contracts.check_response(
            request.method,
            request.path,
            request.query.get("api-version", ""),
            response.status,
            response.body if response.raw is None else None,
        )
        with self._lock:
            kind = "reads" if request.method in READ_METHODS else "writes"
            self._counts[kind] += 1
            self._log.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    dict(request.query),
                    response.status,
                    _parsed(request.body),
                    at,
                    response.headers.get(_THROTTLED_HEADER) is not None,
                )
            )
        response.headers.pop(_THROTTLED_HEADER, None)
        if request.method not in READ_METHODS and 200 <= response.status < 300:
            for listener in list(self.write_listeners):
                listener(request.method, request.path)
        request_id = str(uuid.uuid4())
        response.headers.setdefault("x-ms-request-id", request_id)
        response.headers.setdefault("x-ms-correlation-request-id", request_id)
        return response

    def _respond(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            return arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        throttled, limit_headers = self.throttle.admit(
            request.method,
            request.path,
            actor=actor_of(request.headers.get("authorization", "")),
            region=self.region,
            now=self.clock.seconds(),
        )
        if throttled is not None:
            throttled.headers[_THROTTLED_HEADER] = "1"
        response = throttled or self.faults.take(request.method, request.path)
        drop = None if response is not None else self.faults.take_drop(request.method, request.path)
        if drop is not None and not drop.after_apply:
            return Response(0, drop=True)
        if response is None:
            response = self._authorize(request)
        if response is None:
            refused = self._contracts.check_request(
                request.method, request.path, request.query.get("api-version", ""), request.body
            )
            response = Response(*refused) if refused else self._route(request)
        if drop is not None:
            response.drop = True
        for name, value in limit_headers.items():
            response.headers.setdefault(name, value)
        return response

    def _authorize(self, request: Request) -> Response | None:
        """ARM's 403 when the world enforces RBAC and the caller may not do this; else None."""
        if not self.world.arm_authorization:
            return None
        principal = arm_rbac.principal_of(self.world, request.headers.get("authorization", ""))
        return arm_rbac.authorize(
            self.world,
            principal,
            request.method,
            request.path,
            request.body,
            self._lro.resource_of,
        )

    def _location_of(self, resource_id: str) -> str:
        """A resource's region for its status URLs (the ARM instance's when the world does not
        hold the resource)."""
        return self.world.location_of(resource_id) or self.world.arm_region

    def _route(self, request: Request) -> Response:
        for methods, pattern, handler in _COMPILED:
            match = pattern.match(request.path)
            if match is None:
                continue
            if request.method not in methods:
                return arm_error(
                    405, "MethodNotAllowed", f"The sandbox does not serve {request.method} here."
                )
            groups = {k: v for k, v in match.groupdict().items() if v is not None}
            ctx = Ctx(
                request, groups, self.world, self.clock, self._lro, self.faults, self.base_url
            )
            return handler(ctx)
        return arm_error(
            404,
            "SandboxRouteNotFound",
            f"The ARM double does not serve {request.method} {request.path}.",
        )


def _parsed(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
