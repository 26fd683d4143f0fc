"""The one place that wires real adapters, used by the Functions app, the CLI and the sandbox."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.core.credentials import TokenCredential

from shared.adapters.arm import ArmConnection
from shared.adapters.azureml import AzureMLWorkspaces
from shared.adapters.cache import TtlCache
from shared.adapters.cluster_namespaces import ClusterNamespaces
from shared.adapters.clusters import ArmClusters
from shared.adapters.extensions import ClusterExtensions
from shared.adapters.ledger import BlobClusterLedger
from shared.adapters.namespaces import ManagedNamespaces
from shared.adapters.notifications import EventGridNotifier
from shared.adapters.operations import ArmOperations
from shared.adapters.rechecks import ServiceBusRecheckScheduler
from shared.adapters.roles import RoleAssignments
from shared.adapters.servicebus import ServiceBusLink
from shared.decisions.policy import AttachPolicy
from shared.ports import RecheckScheduler, Services
from shared.settings import Settings

if TYPE_CHECKING:  # the kubernetes client is imported on first use only (cold start)
    from shared.adapters.kube_namespaces import KubernetesApiNamespaces

log = logging.getLogger("autoattach.wiring")


@dataclass
class App:
    settings: Settings
    services: Services
    scheduler: RecheckScheduler


def build_app(
    settings: Settings,
    credential: TokenCredential,
    scheduler: RecheckScheduler | None = None,
    now: Callable[[], float] = time.monotonic,
) -> App:
    """Real adapters for the given settings; the policy is parsed (and rejected) here, once.
    ``now`` times the adapters' caches (the sandbox passes its virtual clock)."""
    policy = AttachPolicy.from_json(settings.policy_text(), settings.policy_source())
    arm = ArmConnection(credential=credential, endpoint=settings.arm_endpoint)
    services = Services(
        policy=policy,
        tag_key=settings.tag_key,
        clusters=ArmClusters(arm, TtlCache(now=now)),
        extensions=ClusterExtensions(arm),
        namespaces=ClusterNamespaces(ManagedNamespaces(arm), lambda: _kubernetes_api(credential)),
        workspaces=AzureMLWorkspaces(arm, TtlCache(now=now)),
        roles=RoleAssignments(arm),
        notifier=EventGridNotifier(settings.notification_topic_endpoint, credential),
        ledger=BlobClusterLedger(settings.ledger_blob_endpoint, credential),
        operations=ArmOperations(arm),
    )
    if scheduler is None:
        scheduler = ServiceBusRecheckScheduler(
            ServiceBusLink(settings.servicebus_namespace, credential)
        )
    return App(settings=settings, services=services, scheduler=scheduler)


def _kubernetes_api(credential: TokenCredential) -> KubernetesApiNamespaces:
    from shared.adapters.kube_namespaces import KubernetesApiNamespaces

    return KubernetesApiNamespaces(credential)


_current: App | None = None
_lock = threading.Lock()


def current_app() -> App:
    """The process-wide app: built from the environment with the managed identity on first use."""
    global _current
    with _lock:
        if _current is None:
            from azure.identity import DefaultAzureCredential

            settings = Settings.from_environment()
            credential = DefaultAzureCredential(managed_identity_client_id=settings.client_id)
            _current = build_app(settings, credential)
            log.info("autoattach started; watching tag %s", settings.tag_key)
        return _current


def use_app(app: App | None) -> None:
    """Install a ready-built app (the sandbox does), or None to build from the environment."""
    global _current
    with _lock:
        _current = app
