"""Run campaign scenarios through the sandbox: the real triggers, SDK clients and doubles.

One ``Rig`` starts a ``sandbox.runner.Sandbox`` once and serves scenario after scenario on its
doubles (``ArmDouble.use`` swaps the world; every scenario gets a fresh queue namespace and app;
cluster names carry the seed, so the Kubernetes, Key Vault and ledger doubles never mix two
scenarios). Each scenario starts on a fresh day of the shared virtual clock, with the re-check
jitter seeded from its seed, so ``python -m campaign --seed S`` replays it (sequential deliveries
replay exactly; concurrent ones depend on thread timing).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from campaign.generate import (
    ARC,
    LEDGER_FAULTS,
    CampaignScenario,
    ClusterSpec,
    Step,
    cluster_document_for,
)
from campaign.invariants import (
    ClusterFacts,
    FinalState,
    MessageFacts,
    Violation,
    WorkspaceFacts,
    check,
)
from campaign.tripwire import Tripwire
from sandbox.arm_ids import key
from sandbox.credential import SandboxCredential
from sandbox.least_privilege import with_deployment_grants
from sandbox.runner import Sandbox, registered_queue_triggers
from sandbox.scenario import Scenario, arm_event
from sandbox.servicebus_double import QueuedMessage, ServiceBusDouble, Trigger
from sandbox.world import World, WorldError
from shared import settings as names
from shared.adapters.ledger import CONTAINER, ledger_blob_name
from shared.decisions.arm_id import ResourceId
from shared.engine.handling import seed_jitter
from shared.engine.sweep import SWEEP_WINDOW_SECONDS, request_reconciles
from shared.settings import Settings
from shared.wiring import build_app, use_app

SCENARIO_SPACING_SECONDS = 7 * 24 * 3600.0  # each scenario starts on a fresh week
DRAIN_LIMIT = 4000  # deliveries after the last event before a scenario counts as not settling
EXTENSION_WRITE = "Microsoft.KubernetesConfiguration/extensions/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"
WRITE = {
    "microsoft.containerservice/managedclusters": "Microsoft.ContainerService/managedClusters",
    "microsoft.kubernetes/connectedclusters": "Microsoft.Kubernetes/connectedClusters",
}
_EVENT_IDS = uuid.UUID("7c0a3a5e-2f1b-4c43-9a57-1e0f5c7d9b21")


@dataclass
class ScenarioResult:
    seed: int
    events: int = 0
    skipped: int = 0  # steps the world did not allow then (delete of a cluster already gone)
    deliveries: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    dead_letters: Counter[str] = field(default_factory=Counter)
    duplicate_notifications: int = 0
    notifications: int = 0


FINAL_SWEEPS = 3


@dataclass
class _Sent:
    queue: str
    body: bytes
    event_id: str


class Rig:
    """A started sandbox that runs scenarios one after another."""

    def __init__(self, *, least_privilege: bool = False) -> None:
        self.sandbox: Sandbox | None = None
        self.triggers: dict[str, Trigger] = {}
        self.least_privilege = least_privilege

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sandbox is not None:
            self.sandbox.__exit__(None, None, None)
            self.sandbox = None

    def run(self, scenario: CampaignScenario) -> ScenarioResult:
        sandbox = self._begin(scenario)
        return _Run(sandbox, scenario, self.triggers).run()

    def _begin(self, scenario: CampaignScenario) -> Sandbox:
        plain = Scenario(
            world=copy.deepcopy(scenario.world),
            policy=copy.deepcopy(scenario.policy),
            steps=(),
            tag_key=scenario.tag_key,
            app_settings=dict(scenario.app_settings),
        )
        if self.sandbox is None:
            self.sandbox = Sandbox(plain).__enter__()
            for name in ("autoattach.settlement", "autoattach.reconcile", "autoattach.functions"):
                logging.getLogger(name).setLevel(logging.CRITICAL)  # thousands of runs: quiet
        sandbox = self.sandbox
        sandbox.scenario = plain
        start = math.ceil((sandbox.clock.seconds() + 1) / SCENARIO_SPACING_SECONDS)
        sandbox.clock.advance_to(start * SCENARIO_SPACING_SECONDS)
        document = copy.deepcopy(scenario.world)
        if self.least_privilege:
            document = with_deployment_grants(
                document, scenario.policy, watched=[spec.id for spec in scenario.clusters]
            )
        world = World.from_dict(document)
        sandbox.world = world
        sandbox.arm.use(world, sandbox.clock)
        sandbox.bus = ServiceBusDouble(
            sandbox.clock,
            [names.DEFAULT_CLUSTER_EVENTS_QUEUE, names.DEFAULT_EXTENSION_EVENTS_QUEUE],
        )
        sandbox.topic.clear()
        sandbox.topic.fail_next(0)
        for spec in scenario.clusters:
            if spec.initially:
                give_api_access(sandbox, spec, spec.document)
        sandbox.settings = Settings.from_environment(sandbox.app_settings())
        sandbox.app = build_app(
            sandbox.settings, SandboxCredential(), scheduler=sandbox.bus, now=sandbox.clock.seconds
        )
        use_app(sandbox.app)
        seed_jitter(scenario.seed)
        if not self.triggers:
            settings = sandbox.app_settings()
            for queue, function in registered_queue_triggers():
                if queue.startswith("%") and queue.endswith("%"):
                    queue = settings[queue.strip("%")]
                self.triggers[queue] = function
        return sandbox


def give_api_access(sandbox: Sandbox, spec: ClusterSpec, document: dict[str, Any]) -> None:
    """As a platform team would: a Kubernetes API server (fresh for a re-created cluster) and
    its kubeconfig in Key Vault."""
    if not spec.api_access:
        return
    kubeconfig = sandbox.kubernetes.add_cluster(spec.id, list(document.get("namespaces") or []))
    sandbox.vault.set_secret(f"kubeconfig-{spec.id.rsplit('/', 1)[-1]}", kubeconfig)
    if spec.id not in sandbox.api_clusters:
        sandbox.api_clusters.append(spec.id)


class _Run:
    def __init__(
        self, sandbox: Sandbox, scenario: CampaignScenario, triggers: dict[str, Trigger]
    ) -> None:
        self.sandbox = sandbox
        self.scenario = scenario
        self.triggers = triggers
        self.result = ScenarioResult(scenario.seed)
        self.tripwire = Tripwire()
        self.tripwire.install(sandbox.app.services)
        self.sent: list[_Sent] = []
        self.late: list[tuple[float, _Sent]] = []
        self.messages: dict[int, tuple[str, QueuedMessage]] = {}
        self.index = 0
        self.initial = sandbox.world.snapshot()

    @property
    def bus(self) -> ServiceBusDouble:
        return self.sandbox.bus

    def now(self) -> float:
        return self.sandbox.clock.seconds()

    # ---- the run -------------------------------------------------------------------------

    def run(self) -> ScenarioResult:
        for index, step in enumerate(self.scenario.steps):
            self.index = index
            self.sandbox.clock.advance(step.gap)
            self._release_late()
            self.result.events += 1
            if not self._step(step):
                self.result.skipped += 1
        self._settle_everything()
        self.result.violations = check(self._final_state())
        return self.result

    def _settle_everything(self) -> None:
        """Azure heals: late events arrive, faults stop; every message is settled, then the
        sweep runs, one sweep interval apart, and its messages are settled too: until the
        invariants hold, at most ``FINAL_SWEEPS`` times. A sweep's chain ends before the next
        sweep (docs/decisions.md), so a cluster that needs an install, a namespace and an attach
        when a sweep finds it may take two."""
        for _, sent in self.late:
            self._enqueue(sent)
        self.late.clear()
        self.sandbox.arm.faults.clear()
        self.sandbox.topic.fail_next(0)
        self.tripwire.disarm()
        self._drain()
        for _sweep in range(FINAL_SWEEPS):
            self.sandbox.clock.advance(SWEEP_WINDOW_SECONDS)
            request_reconciles(self.sandbox.app, now=self.sandbox.clock.now())
            self._drain()
            if not check(self._final_state()):
                return

    def _drain(self) -> None:
        for _ in range(DRAIN_LIMIT):
            if not self._deliver_next():
                return

    def _deliver_next(self) -> bool:
        due = self.bus.next_visible_at()
        if due is None:
            return False
        self.sandbox.clock.advance_to(due)
        self._release_late()
        delivered = self.bus.deliver_one(self.triggers)
        if delivered is not None:
            self._record(*delivered)
        return True

    def _record(self, queue: str, message: QueuedMessage) -> None:
        self.result.deliveries += 1
        self.messages[id(message)] = (queue, message)

    # ---- steps ---------------------------------------------------------------------------

    def _step(self, step: Step) -> bool:
        kind, params = step.kind, step.params
        sandbox = self.sandbox
        if kind in LEDGER_FAULTS:
            return self._ledger_fault(kind, params)
        if kind in ("set_tags", "delete_cluster", "create_cluster", "set_extension_state"):
            return self._change(params, params.get("delivery", "once"))
        if kind == "set_compute_state":
            return self._compute_state(params)
        if kind == "deliver":
            for _ in range(int(params["count"])):
                if not self._deliver_next():
                    break
            return True
        if kind == "deliver_concurrently":
            due = self.bus.next_visible_at()
            if due is None:
                return False
            sandbox.clock.advance_to(due)
            handled = sandbox.deliver_concurrently()
            for one in handled:
                self._record(one.queue, one.message)
            if len(handled) > 1:
                self.result.faults["concurrent deliveries"] += 1
            return True
        if kind == "redeliver":
            return self._redeliver(params)
        if kind == "arm_fault":
            sandbox.arm.inject(
                params["method"],
                params["path"],
                params["status"],
                params["code"],
                times=params["times"],
                retry_after=params["retry_after"],
            )
            self.result.faults[f"ARM {params['status']}"] += 1
            return True
        if kind == "lro_failure":
            sandbox.arm.fail_next_lro(params["path"])
            self.result.faults["long-running operation failed"] += 1
            return True
        if kind == "drop":
            sandbox.arm.inject_drop(
                params["method"],
                params["path"],
                after_apply=params["after_apply"],
                times=params["times"],
            )
            when = "after" if params["after_apply"] else "before"
            self.result.faults[f"connection dropped {when} the write"] += 1
            return True
        if kind == "notification_fault":
            sandbox.topic.fail_next(params["times"])
            self.result.faults["Event Grid publish 503"] += 1
            return True
        if kind == "crash":
            self.tripwire.crash(
                params["service"], params["method"], nth=params["nth"], after=params["after"]
            )
            self.result.faults["worker crash"] += 1
            return True
        if kind == "change_mid_run":
            change = dict(params["change"])

            def mid_run() -> None:
                self._change(change, "once")

            self.tripwire.arm(
                params["service"],
                params["method"],
                nth=params["nth"],
                after=False,
                action=mid_run,
                label="tags changed mid-run",
            )
            self.result.faults["tags changed mid-run"] += 1
            return True
        if kind == "advance":
            sandbox.clock.advance(float(params["seconds"]))
            return True
        raise ValueError(f"unknown step kind {kind!r}")

    def _change(self, params: dict[str, Any], delivery: str) -> bool:
        """Change the world as a person or ARM would, then let Event Grid deliver its event."""
        world = self.sandbox.world
        op = params["op"]
        target = params.get("resource") or params.get("cluster")
        assert isinstance(target, str)
        exists = world.cluster(target) is not None
        events: list[tuple[str, str, str]] = []  # (queue, operation, resource)
        provider = WRITE[_type_key(target)]
        try:
            if op == "set_tags":
                if not exists:
                    return False
                world.apply_change({"op": "set_tags", "resource": target, "tags": params["tags"]})
                events.append(("cluster-events", TAGS_WRITE, target))
            elif op == "delete_cluster":
                if not exists:
                    return False
                world.apply_change({"op": "delete_cluster", "resource": target})
                events.append(("cluster-events", f"{provider}/delete", target))
            elif op == "create_cluster":
                if exists:
                    return False
                document = cluster_document_for(
                    self.scenario, target, params["variant"], provisioning=params["provisioning"]
                )
                world.apply_change({"op": "create_cluster", "cluster": document})
                spec = next(s for s in self.scenario.clusters if s.id == target)
                give_api_access(self.sandbox, spec, document)
                events.append(("cluster-events", f"{provider}/write", target))
                for extension in document.get("extensions", []):
                    extension_id = (
                        f"{target}/providers/Microsoft.KubernetesConfiguration/extensions/"
                        f"{extension['name']}"
                    )
                    events.append(("extension-events", EXTENSION_WRITE, extension_id))
            elif op == "set_extension_state":
                name = _azureml_extension(world, target)
                if name is None:
                    return False
                change = {**params, "name": name}
                change.pop("delivery", None)
                change.pop("same_id", None)
                change.pop("delay", None)
                world.apply_change(change)
                extension_id = (
                    f"{target}/providers/Microsoft.KubernetesConfiguration/extensions/{name}"
                )
                events.append(("extension-events", EXTENSION_WRITE, extension_id))
            else:
                raise ValueError(f"unknown change {op!r}")
        except WorldError:
            return False
        for number, (queue, operation, resource) in enumerate(events):
            self._emit(queue, operation, resource, delivery, params, number)
        return True

    def _emit(
        self,
        queue: str,
        operation: str,
        resource: str,
        delivery: str,
        params: dict[str, Any],
        number: int,
    ) -> None:
        event_id = str(uuid.uuid5(_EVENT_IDS, f"{self.scenario.seed}/{self.index}/{number}"))
        event = arm_event(operation, resource, event_id=event_id, event_time=_iso(self))
        if operation.lower().endswith("/delete"):
            event["eventType"] = "Microsoft.Resources.ResourceDeleteSuccess"
            event["data"]["httpRequest"]["method"] = "DELETE"
        sent = _Sent(queue, json.dumps(event).encode(), event_id)
        self.sent.append(sent)
        if delivery == "lost":
            self.result.faults["Event Grid delivery lost"] += 1
            return
        if delivery == "late":
            self.late.append((self.now() + float(params["delay"]), sent))
            self.result.faults["Event Grid delivery late (reordered)"] += 1
            return
        self._enqueue(sent)
        if delivery == "twice":
            self._enqueue(sent, same_id=bool(params.get("same_id")))
            self.result.faults["event delivered twice"] += 1

    def _enqueue(self, sent: _Sent, *, same_id: bool = True) -> None:
        queue = self.bus.queues[sent.queue]
        if same_id:  # Event Grid again: same internal MessageId (duplicate detection may drop it)
            queue.send_event_grid_delivery(sent.body, event_id=sent.event_id)
        else:  # the same event under another MessageId (past the window, or a replay)
            queue.send(sent.body, message_id=str(uuid.uuid4()))

    def _release_late(self) -> None:
        due = [item for item in self.late if item[0] <= self.now()]
        for item in due:
            self.late.remove(item)
            self._enqueue(item[1])

    def _redeliver(self, params: dict[str, Any]) -> bool:
        if not self.sent:
            return False
        sent = self.sent[min(len(self.sent) - 1, int(params["pick"] * len(self.sent)))]
        self._enqueue(sent, same_id=bool(params["same_id"]))
        self.result.faults["event delivered again"] += 1
        return True

    def _compute_state(self, params: dict[str, Any]) -> bool:
        world = self.sandbox.world
        people = {(key(c["workspace"]), c["name"].lower()) for c in self.initial["computes"]}
        with world.lock:
            found = [
                c
                for c in world.computes_of(params["workspace"])
                if c.resource_id.lower() == str(params["cluster"]).lower()
                and (key(c.workspace), c.name.lower()) not in people
            ]
            if not found:
                return False
            world.apply_change(
                {
                    "op": "set_compute_state",
                    "workspace": found[0].workspace,
                    "name": found[0].name,
                    "provisioning_state": params["provisioning_state"],
                }
            )
        self.result.faults[f"compute set {params['provisioning_state']}"] += 1
        return True

    def _ledger_fault(self, kind: str, params: dict[str, Any]) -> bool:
        """What can befall a cluster's ledger record (lost, corrupted, stale), its lease (lapsing
        mid-run) and the notices' publishing (the answer lost after the topic took them)."""
        storage = self.sandbox.storage
        if kind == "publish_answer_lost":
            self.sandbox.topic.lose_next_answers(int(params["times"]))
            self.result.faults["Event Grid publish answer lost"] += 1
            return True
        if kind == "lease_lapse":

            def lapse() -> None:
                storage.lapse_leases(CONTAINER)

            self.tripwire.arm(
                params["service"],
                params["method"],
                nth=params["nth"],
                after=params["after"],
                action=lapse,
                label="ledger lease lapsed mid-run",
            )
            self.result.faults["ledger lease lapsed mid-run"] += 1
            return True
        cluster = self._ledger_to_spoil(float(params["pick"]))
        if cluster is None:
            return False
        blob = ledger_blob_name(ResourceId.parse(cluster))
        if kind == "ledger_lost":
            done = storage.lose(CONTAINER, blob)
        elif kind == "ledger_corrupted":
            done = storage.corrupt(CONTAINER, blob)
        else:
            done = storage.restore_older(CONTAINER, blob, back=int(params["back"]))
        if not done:
            return False
        self.result.faults[f"ledger record {kind.removeprefix('ledger_')}"] += 1
        then = params.get("then")
        if then:  # the cluster changes before anyone reads its record again
            change = {**then, "resource" if "resource" in then else "cluster": cluster}
            self._change(change, change.get("delivery", "once"))
        return True

    def _ledger_to_spoil(self, pick: float) -> str | None:
        """A cluster whose ledger record announced a compute (else any with a record)."""
        storage = self.sandbox.storage
        held = []
        for spec in self.scenario.clusters:
            data = storage.blob(CONTAINER, ledger_blob_name(ResourceId.parse(spec.id)))
            if data is not None:
                held.append((b"ComputeAttached" in data, spec.id))
        choice = [c for announced, c in held if announced] or [c for _, c in held]
        return choice[min(len(choice) - 1, int(pick * len(choice)))] if choice else None

    # ---- what the invariants look at -----------------------------------------------------

    def _final_state(self) -> FinalState:
        sandbox = self.sandbox
        world = sandbox.world
        snapshot = world.snapshot()
        now = world.seconds()
        with world.lock:
            clusters = []
            for cluster in world.clusters.values():
                extension = next((e for e in cluster.extensions.values() if e.is_azureml), None)
                clusters.append(
                    ClusterFacts(
                        id=cluster.id,
                        exists=cluster.exists,
                        tags=dict(cluster.tags),
                        provisioning_state=cluster.state_at(now),
                        azure_rbac=cluster.azure_rbac or ARC in cluster.id,
                        extension_state=extension.state_at(now) if extension else None,
                        relay=extension.linked_relay if extension else None,
                        trusted_access=tuple(cluster.trusted_access),
                    )
                )
            workspaces = [
                WorkspaceFacts(
                    id=w.id,
                    container_registry=w.container_registry,
                    storage_account=w.storage_account,
                    identity_principal=(
                        world.identities[key(w.user_assigned_identity)].principal_id
                        if w.user_assigned_identity
                        and key(w.user_assigned_identity) in world.identities
                        else None
                    ),
                )
                for w in world.workspaces.values()
            ]
        messages = dict(self.messages)
        for name, queue in self.bus.queues.items():
            for message in [*queue.active, *queue.dead_letters]:
                messages.setdefault(id(message), (name, message))
        facts = [
            MessageFacts(
                queue=queue,
                message_id=m.message_id,
                settled=m.settled if m not in self.bus.queues[queue].active else "active",
                reason=m.dead_letter_reason or "",
            )
            for queue, m in messages.values()
        ]
        for fact in facts:
            if fact.settled == "dead-lettered":
                self.result.dead_letters[fact.reason or "(none)"] += 1
        notifications = sandbox.topic.notifications
        self.result.notifications = len(notifications)
        self.result.duplicate_notifications = len(notifications) - len(
            {n["id"] for n in notifications}
        )
        return FinalState(
            seed=self.scenario.seed,
            tag_key=self.scenario.tag_key,
            policy=sandbox.app.services.policy,
            clusters=tuple(clusters),
            workspaces=tuple(workspaces),
            snapshot=snapshot,
            namespaces=tuple((n["cluster"], n["name"]) for n in sandbox.namespaces()),
            initial=self.initial,
            notifications=tuple(notifications),
            messages=tuple(facts),
        )


def _type_key(resource_id: str) -> str:
    parts = resource_id.split("/")
    return f"{parts[6]}/{parts[7]}".lower()


def _azureml_extension(world: World, cluster_id: str) -> str | None:
    with world.lock:
        cluster = world.cluster(cluster_id)
        if cluster is None:
            return None
        found = next((e for e in cluster.extensions.values() if e.is_azureml), None)
        return found.name if found else None


def _iso(run: _Run) -> str:
    return run.sandbox.clock.now().isoformat().replace("+00:00", "Z")
