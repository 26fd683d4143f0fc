"""Run the real pipeline against the local Azure double: events in, a converged world out.

Starts the ARM, Event Grid and Service Bus doubles, wires the product exactly as the Functions
app does (shared.wiring, with the sandbox's endpoints), and delivers each step's message through
the queue double to the real trigger functions. Virtual time jumps to the next due message, so
a re-check "in 60 seconds" takes no real time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.clock import VirtualClock
from sandbox.credential import SandboxCredential
from sandbox.scenario import Scenario, Step, label_of_body
from sandbox.servicebus_double import (
    MAX_CONCURRENT_CALLS,
    Handled,
    ServiceBusDouble,
    Trigger,
)
from sandbox.tls import SandboxTls
from sandbox.world import WorldError
from shared import settings as names
from shared.decisions.arm_id import MANAGED_CLUSTER, ResourceId
from shared.decisions.events import event_id_in
from shared.decisions.policy import cluster_id_hash
from shared.engine.handling import seed_jitter
from shared.settings import Settings
from shared.wiring import build_app, use_app

# Policies in world files name kubeconfig secrets as "{sandbox_vault}/secrets/<name>".
VAULT_PLACEHOLDER = "{sandbox_vault}"
PASS_SPACING_SECONDS = 25 * 3600.0  # past the 24 h duplicate-detection window
PASS_HORIZON_SECONDS = 24 * 3600.0
JITTER_SEED = 20260101


@dataclass
class Delivery:
    """One message delivered to a trigger, and what became of it."""

    at: float
    queue: str
    label: str
    id: str
    outcome: str = "abandoned"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    # CPU time of the delivering thread (the trigger, the product and its SDK clients; the
    # doubles serve in their own threads): what the Function's process spends on this message.
    cpu_seconds: float = 0.0


@dataclass
class PassReport:
    """ARM requests of one pass: ``reads`` (GET/HEAD other than polls), ``polls`` (long-running
    operation status reads), ``writes`` (PUT/PATCH/POST/DELETE); ``throttled`` of them got 429."""

    deliveries: list[Delivery]
    reads: int
    writes: int
    notifications: int
    polls: int = 0
    throttled: int = 0

    @property
    def requests(self) -> int:
        return self.reads + self.polls + self.writes


def virtual_sdk_sleeps(clock: VirtualClock) -> Callable[[], None]:
    """Make azure-core's sleeps (a retry honouring Retry-After, an LRO poller's wait) move the
    virtual clock instead of real time; returns the function that undoes it.

    With ARM's buckets refilling in virtual time, a real sleep would wait for tokens that never
    come (the clock stands still while a handler runs) and make a throttled storm take real
    minutes; in Azure the same sleep lets the bucket refill. The runner delivers one message at a
    time, so one handler's sleep moving the shared clock is what that one worker would see."""
    from azure.core.pipeline.transport import HttpTransport

    original = HttpTransport.sleep

    def sleep(self: Any, duration: float) -> None:
        clock.advance(max(0.0, float(duration)))

    HttpTransport.sleep = sleep  # type: ignore[method-assign]

    def restore() -> None:
        HttpTransport.sleep = original  # type: ignore[method-assign]

    return restore


class _Capture(logging.Handler):
    """Collects the structured outcome records and reconcile notes the product logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.outcomes: list[dict[str, str]] = []
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        outcome = getattr(record, "autoattach_outcome", None)
        if outcome is not None:
            self.outcomes.append(outcome)
        elif record.name == "autoattach.reconcile":
            self.notes.append(record.getMessage())


@functools.cache
def registered_queue_triggers() -> tuple[tuple[str, Trigger], ...]:
    """(queue name or %SETTING%, function) for each Service Bus trigger of the Functions app.

    Cached: the Functions library allows indexing an app only once per process.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the Functions library warns about HTTP auth levels
    try:
        import function_app

        functions = function_app.app.get_functions()
    finally:
        root.setLevel(level)
    found = []
    for function in functions:
        for binding in function.get_bindings():
            spec = binding.get_dict_repr()
            if spec.get("type") == "serviceBusTrigger":
                found.append((str(spec["queueName"]), function.get_user_function()))
    return tuple(found)


class Sandbox:
    def __init__(self, scenario: Scenario, on_delivery: Callable[[Delivery], None] | None = None):
        # Imported here: the doubles are only needed when a sandbox actually runs.
        from sandbox.arm_double import ArmDouble
        from sandbox.blob_double import BlobStorageDouble
        from sandbox.eventgrid_double import EventGridDouble
        from sandbox.keyvault_double import KeyVaultDouble
        from sandbox.kubernetes_double import KubernetesApiDouble
        from sandbox.world import World

        self.scenario = scenario
        self.clock = VirtualClock()
        self.tls = SandboxTls.create()
        self.world = World.from_dict(scenario.world)
        self.arm = ArmDouble(self.world, self.clock, self.tls)
        self.topic = EventGridDouble(self.tls)
        self.kubernetes = KubernetesApiDouble(self.tls, clock=self.clock)
        self.vault = KeyVaultDouble(self.tls)
        self.storage = BlobStorageDouble(self.tls, self.clock)
        self.api_clusters: list[str] = []
        self.bus = ServiceBusDouble(
            self.clock,
            [names.DEFAULT_CLUSTER_EVENTS_QUEUE, names.DEFAULT_EXTENSION_EVENTS_QUEUE],
        )
        self._on_delivery = on_delivery
        self._capture = _Capture()
        self._previous_ca = os.environ.get("REQUESTS_CA_BUNDLE")
        self._labels: dict[str, str] = {}
        self._restore_sleep: Callable[[], None] | None = None

    def __enter__(self) -> Sandbox:
        try:
            self._start()
        except BaseException:
            self.__exit__()  # a refused policy or setting leaves no double running
            raise
        return self

    def _start(self) -> None:
        self.arm.start()
        if self.world.arm_throttling:
            self._restore_sleep = virtual_sdk_sleeps(self.clock)
        self.topic.start()
        self.kubernetes.start()
        self.vault.start()
        self.storage.start()
        for cluster in self.scenario.world.get("clusters", []):
            self._give_api_access(cluster)
        os.environ["REQUESTS_CA_BUNDLE"] = str(self.tls.ca_bundle)
        with self.world.lock:  # a Function App of the world runs with the sandbox's own settings
            for site in self.world.hub.function_apps.values():
                if site.app_settings is None:
                    site.app_settings = self.app_settings()
        self.settings = Settings.from_environment(self.app_settings())
        self.app = build_app(
            self.settings, SandboxCredential(), scheduler=self.bus, now=self.clock.seconds
        )
        seed_jitter(JITTER_SEED)  # re-check delays are jittered; a sandbox run is repeatable
        use_app(self.app)
        self._triggers = self._find_triggers()
        for name in ("autoattach.settlement", "autoattach.reconcile"):
            logger = logging.getLogger(name)
            logger.addHandler(self._capture)
            logger.setLevel(logging.INFO)
            logger.propagate = False

    def __exit__(self, *exc: object) -> None:
        for name in ("autoattach.settlement", "autoattach.reconcile"):
            logging.getLogger(name).removeHandler(self._capture)
            logging.getLogger(name).propagate = True
        use_app(None)
        if self._previous_ca is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = self._previous_ca
        self.storage.stop()
        self.vault.stop()
        self.kubernetes.stop()
        self.topic.stop()
        self.arm.stop()
        if self._restore_sleep is not None:
            self._restore_sleep()
            self._restore_sleep = None

    def app_settings(self) -> dict[str, str]:
        """The app settings a deployment sets, pointed at the doubles."""
        return {
            names.SERVICEBUS_NAMESPACE: "sandbox.servicebus.windows.net",
            names.CLUSTER_EVENTS_QUEUE: names.DEFAULT_CLUSTER_EVENTS_QUEUE,
            names.EXTENSION_EVENTS_QUEUE: names.DEFAULT_EXTENSION_EVENTS_QUEUE,
            names.NOTIFICATION_TOPIC_ENDPOINT: self.topic.endpoint,
            names.SWEEP_SCHEDULE: names.DEFAULT_SWEEP_SCHEDULE,
            names.ATTACH_POLICY: json.dumps(self.scenario.policy).replace(
                VAULT_PLACEHOLDER, self.vault.vault_url.rstrip("/")
            ),
            names.ATTACH_TAG_KEY: self.scenario.tag_key,
            names.ARM_ENDPOINT: self.arm.base_url,
            names.HOST_STORAGE_BLOB_URI: self.storage.endpoint,
            names.RECHECK_DELAY_SECONDS: str(names.DEFAULT_RECHECK_DELAY_SECONDS),
            names.SWEEP_SUBSCRIPTIONS: ",".join(
                sorted(
                    {
                        ResourceId.parse(str(c["id"])).subscription
                        for c in self.scenario.world.get("clusters", [])
                    }
                )
            ),
            **self.scenario.app_settings,
        }

    def _find_triggers(self) -> dict[str, Trigger]:
        """Queue name -> the registered trigger function, read from the Functions app itself."""
        settings = self.app_settings()
        by_queue: dict[str, Trigger] = {}
        for queue, function in registered_queue_triggers():
            if queue.startswith("%") and queue.endswith("%"):
                queue = settings[queue.strip("%")]
            by_queue[queue] = function
        return by_queue

    def run_pass(self, index: int) -> PassReport:
        """Run the scenario's steps once, 25 virtual hours after the previous pass."""
        start = index * PASS_SPACING_SECONDS
        self.clock.advance_to(start)
        return self._run(list(self.scenario.steps), start, repeat=index > 0)

    def deliver_concurrently(self, max_concurrent: int = MAX_CONCURRENT_CALLS) -> list[Handled]:
        """Deliver what is visible now to the real triggers, up to ``max_concurrent`` at once in
        threads, as the host does. Virtual time does not move meanwhile (a test may advance it to
        make locks run out); see sandbox/servicebus_double.py."""
        return self.bus.deliver_concurrently(self._triggers, max_concurrent=max_concurrent)

    def deliver_until(self, seconds: float) -> list[Delivery]:
        """Deliver, one at a time in virtual-time order, every message that becomes visible up
        to virtual ``seconds`` (re-checks the deliveries schedule included), then move the clock
        to ``seconds``: the Functions host running for that long. Used by ``autoattach smoke
        --world``, whose waits are virtual."""
        deliveries: list[Delivery] = []
        start = self.clock.seconds()
        while True:
            due = self.bus.next_visible_at()
            if due is None or due > seconds:
                break
            self.clock.advance_to(max(due, self.clock.seconds()))
            deliveries.append(self._deliver(self._triggers, start))
        self.clock.advance_to(max(seconds, self.clock.seconds()))
        return deliveries

    def deliver_pending(self) -> PassReport:
        """Deliver what is on the queues now (an operator's replay, say), with no new steps."""
        return self._run([], self.clock.seconds(), repeat=True)

    def _run(self, pending: list[Step], start: float, *, repeat: bool) -> PassReport:
        self.arm.reset_counts()
        notified_before = len(self.topic.notifications)
        triggers = self._triggers
        deliveries: list[Delivery] = []
        while True:
            step_at = start + pending[0].at if pending else None
            message_at = self.bus.next_visible_at()
            if step_at is None and message_at is None:
                break
            due = min(t for t in (step_at, message_at) if t is not None)
            if due - start > PASS_HORIZON_SECONDS:
                break
            self.clock.advance_to(due)
            if step_at is not None and step_at <= due:
                self._run_step(pending.pop(0), repeat=repeat)
                continue
            deliveries.append(self._deliver(triggers, start))
        counts = self.arm.split_counts
        return PassReport(
            deliveries=deliveries,
            reads=counts["reads"],
            writes=counts["writes"],
            notifications=len(self.topic.notifications) - notified_before,
            polls=counts["polls"],
            throttled=counts["throttled"],
        )

    def _give_api_access(self, cluster: dict[str, Any]) -> None:
        """Arc clusters (and AKS without Azure RBAC) get a Kubernetes API server double and a
        kubeconfig in the Key Vault double, as a platform team would provide."""
        cluster_id = ResourceId.parse(str(cluster["id"]))
        if cluster_id.resource_type == MANAGED_CLUSTER and cluster.get("azure_rbac", False):
            return
        kubeconfig = self.kubernetes.add_cluster(
            cluster_id.raw, list(cluster.get("namespaces") or ["default"])
        )
        # as the policy may name it: by name alone (a scope of one cluster), or by name and
        # the hash of the whole id (kubeconfig-{cluster}-{cluster_id_hash}), which twins
        # (alike names in two resource groups) do not share
        self.vault.set_secret(f"kubeconfig-{cluster_id.name}", kubeconfig)
        self.vault.set_secret(
            f"kubeconfig-{cluster_id.name}-{cluster_id_hash(cluster_id)}", kubeconfig
        )
        self.api_clusters.append(cluster_id.raw)

    def namespaces(self) -> list[dict[str, str]]:
        """Namespaces on every cluster: ARM managed ones and those in the Kubernetes API double."""
        found = [
            n for n in self.world.snapshot()["namespaces"] if n["cluster"] not in self.api_clusters
        ]
        for cluster_id in self.api_clusters:
            found += [
                {"cluster": cluster_id, "name": n} for n in self.kubernetes.namespaces(cluster_id)
            ]
        return found

    def _run_step(self, step: Step, repeat: bool) -> None:
        if step.change is not None:
            try:
                self.world.apply_change(step.change)
            except WorldError:
                if not repeat:
                    raise
                # a repeated pass meets its own earlier changes (a cluster already deleted)
            if step.change.get("op") == "create_cluster" and not repeat:
                self._give_api_access(step.change["cluster"])
            return
        assert step.queue is not None and step.body is not None and step.message_id is not None
        self._labels[step.message_id] = step.label
        queue = self.bus.queues[step.queue]
        if event_id_in(step.body) is None:
            # Not an event Event Grid could deliver (a raw body): sent as-is under the step's id.
            queue.send(step.body, message_id=step.message_id)
            return
        # Event Grid enqueues it under an internal MessageId; the product reads the event id
        # (step.message_id) from the body.
        internal_id = queue.send_event_grid_delivery(step.body, event_id=step.message_id)
        self._labels[internal_id] = step.label

    def _extensions_make_their_namespace(self) -> None:
        """The AzureML extension makes its release namespace (``azureml``) when it installs;
        on clusters reached through the Kubernetes API double, do what it would do there."""
        seconds = self.clock.seconds()
        for cluster_id in self.api_clusters:
            cluster = self.world.cluster(cluster_id)
            if cluster is None:
                continue
            with self.world.lock:
                installed = any(
                    e.is_azureml and e.state_at(seconds) == "Succeeded"
                    for e in cluster.extensions.values()
                )
            if installed and "azureml" not in self.kubernetes.namespaces(cluster_id):
                self.kubernetes.add_namespace(cluster_id, "azureml")

    def _deliver(self, triggers: dict[str, Trigger], start: float) -> Delivery:
        self._extensions_make_their_namespace()
        self._capture.outcomes.clear()
        self._capture.notes.clear()
        at = self.clock.seconds() - start
        cpu_before = time.thread_time()
        delivered = self.bus.deliver_one(triggers)
        cpu_seconds = time.thread_time() - cpu_before
        assert delivered is not None
        queue, message = delivered
        base_id = message.event_id
        label = (
            self._labels.get(base_id)
            or self._labels.get(message.message_id)
            or label_of_body(message.body)
        )
        if "#replay" in message.message_id:
            label = f"replayed {label}"
        if "#recheck-" in message.message_id:
            label = f"re-check {message.message_id.rsplit('-', 1)[-1]} of {label}"
        delivery = Delivery(
            at=at,
            queue=queue,
            label=label,
            id=base_id,
            notes=list(self._capture.notes),
            cpu_seconds=cpu_seconds,
        )
        if self._capture.outcomes:
            record = self._capture.outcomes[-1]
            delivery.outcome, delivery.reason = record["outcome"], record["reason"]
        elif message.settled == "dead-lettered":
            delivery.outcome = "dead-lettered"
            delivery.reason = message.dead_letter_reason or ""
        if self._on_delivery is not None:
            self._on_delivery(delivery)
        return delivery
