"""Run every check: read through the product's adapters (shared.wiring) and ``reads.py``, judge
with the area modules. Every read is a GET; a check whose reads fail says "cannot tell"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials import TokenCredential

from console.doctor import clusters as cluster_checks
from console.doctor import events as event_checks
from console.doctor import grants as grant_checks
from console.doctor import workspaces as workspace_checks
from console.doctor.reads import DoctorReads, RoleDefinitionInfo
from console.doctor.report import Check, ok, problem, unknown
from console.progress import silent
from console.signin import NotSignedIn, require_sign_in, resource_scope
from shared.adapters.arm import ArmConnection
from shared.adapters.roles import holdings
from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.errors import AutoattachError
from shared.decisions.planner import prerequisite_roles
from shared.decisions.policy import AttachPolicy, PolicyError
from shared.engine.observe import namespace_route, observe_cluster, workspace_principal
from shared.ports import DeadLetterQueues, Services
from shared.settings import Settings, SettingsError
from shared.wiring import build_app

STORAGE = "Microsoft.Storage/storageAccounts"
SERVICEBUS = "Microsoft.ServiceBus/namespaces"
TOPIC = "Microsoft.EventGrid/topics"
SYSTEM_TOPIC = "Microsoft.EventGrid/systemTopics"
PRINCIPAL_SETTING = "AUTOATTACH_IDENTITY_PRINCIPAL_ID"
# The areas read from Azure, in the order they are checked.
AZURE_AREAS = (
    "deployment",
    "workspaces",
    "permissions",
    "events",
    "queues",
    "notifications",
    "clusters",
)


@dataclass
class Target:
    """Where doctor looks: the app's settings, the caller's credential, the app identity's
    principal id and autoattach's resource group (azd outputs), and the dead-letter queues."""

    env: Mapping[str, str]
    credential: TokenCredential
    principal_id: str | None
    resource_group: ResourceId | None
    dead_letters: Callable[[Settings], DeadLetterQueues]
    cluster: ResourceId | str | None = None  # an id, or a name looked up in the subscriptions
    progress: Callable[[str], None] = silent  # told what is being checked


class _NoScheduler:
    """Doctor never schedules: the app is built without a Service Bus sender."""

    def schedule(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("doctor never writes")

    def schedule_all(self, *args: Any, **kwargs: Any) -> int:
        raise AssertionError("doctor never writes")

    def now(self) -> datetime:
        return datetime.now(UTC)


def run_checks(target: Target) -> list[Check]:
    try:
        settings = Settings.from_environment(target.env)
        text = settings.policy_text()
    except SettingsError as error:
        return [
            problem(
                "settings",
                "app settings",
                str(error),
                "pass the Function App's settings (--settings FILE; docs/first-deployment.md)",
            )
        ]
    checks = [ok("settings", "app settings", "all present and well-formed")]
    try:
        policy = AttachPolicy.from_json(text, settings.policy_source())
    except PolicyError as error:
        checks.append(
            problem(
                "policy",
                "attach policy",
                "; ".join(str(error).splitlines()),
                "fix it (`autoattach policy validate FILE` says the same), then redeploy",
            )
        )
        return checks
    checks.append(ok("policy", "attach policy", f"valid: {len(policy.workspaces)} workspace(s)"))
    checks += workspace_checks.check_wide_scopes(policy)
    try:
        require_sign_in(target.credential, resource_scope(settings.arm_endpoint))
    except NotSignedIn as error:
        return checks + [
            unknown(area, "not checked", str(error), "az login, then run doctor again")
            for area in AZURE_AREAS
        ]
    app = build_app(settings, target.credential, scheduler=_NoScheduler())
    services = app.services
    reads = DoctorReads(ArmConnection(target.credential, settings.arm_endpoint))
    watched = list(settings.sweep_subscriptions)
    if not watched and target.resource_group is not None:
        watched = [target.resource_group.subscription]
    step = target.progress
    step("checking autoattach's resource group")
    hub, hub_checks = _hub(reads, target, settings)
    checks += hub_checks
    step(f"checking {len(policy.workspaces)} workspace(s) of the policy")
    workspace_lines, facts = _workspaces(services, reads, policy)
    checks += workspace_lines
    step("checking the app identity's role assignments")
    grant_lines = _permissions(reads, target, hub, watched, policy, facts)
    checks += grant_lines
    step(f"checking event delivery in {len(watched)} subscription(s)")
    checks += _events(reads, settings, hub, watched)
    step("checking the queues and their dead letters")
    checks += _queues(target, settings, hub, reads)
    checks += _notifications(hub, grant_lines)
    step("checking the tagged clusters")
    checks += _clusters(services, reads, target, watched, policy)
    return checks


def _guarded(area: str, subject: str, work: Callable[[], list[Check]]) -> list[Check]:
    try:
        return work()
    except (AutoattachError, InvalidResourceId) as error:
        return [unknown(area, subject, str(error), "check that you may read it, then run again")]


def _pick(ids: list[ResourceId], host: str) -> ResourceId | None:
    """The resource whose name is the host's first label; else the only one of its type."""
    name = host.split("//")[-1].split(".")[0].lower()
    named = [i for i in ids if i.name.lower() == name]
    if named:
        return named[0]
    return ids[0] if len(ids) == 1 else None


def _hub(
    reads: DoctorReads, target: Target, settings: Settings
) -> tuple[grant_checks.HubResources, list[Check]]:
    group = target.resource_group
    if group is None:
        return grant_checks.HubResources(), [
            unknown(
                "deployment",
                "autoattach's resource group",
                "not given: its storage, queues and topic are not checked",
                "pass --resource-group (azd env: AZURE_RESOURCE_GROUP)",
            )
        ]
    found: dict[str, Any] = {}

    def read() -> list[Check]:
        found["storage"] = _pick(reads.in_group(group, STORAGE), settings.ledger_blob_endpoint)
        found["bus"] = _pick(reads.in_group(group, SERVICEBUS), settings.servicebus_namespace)
        found["topic"] = _pick(reads.in_group(group, TOPIC), settings.notification_topic_endpoint)
        lines = []
        for key, what in (("storage", "storage account"), ("bus", "Service Bus namespace")):
            if found[key] is None:
                lines.append(
                    problem("deployment", what, f"none found in {group.raw}", "run `azd up`")
                )
            else:
                lines.append(ok("deployment", what, found[key].name))
        return lines

    lines = _guarded("deployment", group.raw, read)
    bus = found.get("bus")
    queues = tuple(
        bus.child("queues", name)
        for name in (settings.cluster_events_queue, settings.extension_events_queue)
        if bus is not None
    )
    return grant_checks.HubResources(found.get("storage"), queues, found.get("topic")), lines


def _workspaces(
    services: Services, reads: DoctorReads, policy: AttachPolicy
) -> tuple[list[Check], list[grant_checks.WorkspaceFacts]]:
    """The workspace checks, and what was read of each workspace (for the permissions)."""
    checks = []
    facts = []
    for workspace_id in dict.fromkeys(rule.workspace_id for rule in policy.workspaces):
        try:
            workspace = services.workspaces.get_workspace(workspace_id)
        except AutoattachError as unreadable:
            checks.append(workspace_checks.check_workspace(workspace_id, str(unreadable)))
            continue
        checks.append(workspace_checks.check_workspace(workspace_id, None))
        principal = None
        if workspace.user_assigned_identity is not None:
            try:
                principal = workspace_principal(services, workspace) or None
            except AutoattachError as unreadable:
                checks.append(workspace_checks.check_identity(workspace, str(unreadable)))
        facts.append(
            grant_checks.WorkspaceFacts(
                workspace_id, workspace.container_registry, workspace.storage_account, principal
            )
        )
        for what, resource in (
            ("container registry", workspace.container_registry),
            ("storage account", workspace.storage_account),
        ):
            why: str | None = None
            if resource is not None:
                try:
                    if reads.resource(resource) is None:
                        why = "it does not exist"
                except AutoattachError as failure:
                    why = str(failure)
            checks.append(workspace_checks.check_dependency(workspace_id, what, resource, why))
    return checks, facts


def _permissions(
    reads: DoctorReads,
    target: Target,
    hub: grant_checks.HubResources,
    watched: list[str],
    policy: AttachPolicy,
    facts: list[grant_checks.WorkspaceFacts],
) -> list[Check]:
    principal = target.principal_id
    if not principal:
        return [
            unknown(
                grant_checks.AREA,
                "the app's identity",
                "its principal id is not known, so its roles are not checked",
                f"pass --principal-id (azd env: {PRINCIPAL_SETTING})",
            )
        ]

    def work() -> list[Check]:
        needs = grant_checks.expected_grants(hub, watched, policy, facts)
        assignments = []
        custom: dict[str, list[RoleDefinitionInfo]] = {}
        for subscription in grant_checks.subscriptions_of(needs):
            assignments += reads.assignments_of(principal, subscription)
            custom[subscription] = reads.custom_roles(subscription)
        unique = {a.id.lower(): a for a in assignments}
        assignments = list(unique.values())
        definitions: dict[str, RoleDefinitionInfo | None] = {}
        for assignment in assignments:
            known = [d for defs in custom.values() for d in defs if d.guid == assignment.role]
            if known:
                definitions[assignment.role] = known[0]
            elif assignment.role not in grant_checks.BUILT_IN_TITLES:
                definitions.setdefault(
                    assignment.role,
                    reads.role_definition(assignment.scope.subscription, assignment.role),
                )
        return grant_checks.check_grants(needs, principal, assignments, definitions, custom)

    return _guarded(grant_checks.AREA, "the app's identity", work)


def _events(
    reads: DoctorReads, settings: Settings, hub: grant_checks.HubResources, watched: list[str]
) -> list[Check]:
    checks: list[Check] = []
    targets = (
        (settings.cluster_events_queue, event_checks.CLUSTER_OPERATIONS),
        (settings.extension_events_queue, event_checks.EXTENSION_OPERATIONS),
    )
    for subscription in watched:

        def work(subscription: str = subscription) -> list[Check]:
            topics = [
                t
                for t in (
                    reads.resource(i) for i in reads.in_subscription(subscription, SYSTEM_TOPIC)
                )
                if t is not None
            ]
            topic = event_checks.topic_for(subscription, topics)
            lines = [event_checks.check_topic(subscription, topic)]
            if topic is None:
                return lines
            topic_id = ResourceId.parse(str(topic["id"]))
            delivered = reads.children(topic_id, "eventSubscriptions")
            for queue in hub.queues:
                operations = dict(targets).get(queue.name, ())
                lines.append(
                    event_checks.check_delivery(subscription, topic, delivered, queue, operations)
                )
            return lines

        checks += _guarded(event_checks.EVENTS, f"subscription {subscription}", work)
    return checks


def _queues(
    target: Target, settings: Settings, hub: grant_checks.HubResources, reads: DoctorReads
) -> list[Check]:
    checks: list[Check] = []
    for queue in hub.queues:

        def read_queue(queue: ResourceId = queue) -> list[Check]:
            return [event_checks.check_queue(queue.name, reads.resource(queue))]

        checks += _guarded(event_checks.QUEUES, f"queue {queue.name}", read_queue)
    names = [settings.cluster_events_queue, settings.extension_events_queue]
    try:
        dead_letters = target.dead_letters(settings)
    except Exception as error:  # no data-plane access: an operator role is missing
        unreachable = unknown(
            event_checks.QUEUES, "dead letters", f"cannot reach the queues: {error}"
        )
        return [*checks, unreachable]
    for name in names:
        try:
            count = len(dead_letters.peek(name))
        except Exception as error:  # the SDK's own errors: no access, no network
            checks.append(
                unknown(
                    event_checks.QUEUES,
                    f"dead letters of {name}",
                    f"cannot peek them: {error.__class__.__name__}",
                    "you need Azure Service Bus Data Receiver on the queue "
                    "(AUTOATTACH_OPERATOR_PRINCIPAL_IDS, docs/deploy.md)",
                )
            )
            continue
        checks.append(event_checks.check_dead_letters(name, count))
    return checks


def _notifications(hub: grant_checks.HubResources, grant_lines: list[Check]) -> list[Check]:
    subject = "notification topic"
    if hub.topic is None:
        return [
            problem(
                "notifications",
                subject,
                "not found in autoattach's resource group",
                "check NOTIFICATION_TOPIC_ENDPOINT; `azd up` creates the topic",
            )
        ]
    title = grant_checks.BUILT_IN_TITLES[grant_checks.EVENTGRID_DATA_SENDER]
    publish = [c for c in grant_lines if c.subject.startswith(f"{title} at ")]
    if publish and publish[0].status.value == "problem":
        return [
            problem(
                "notifications",
                subject,
                f"{hub.topic.name} exists, but the app may not publish to it",
                publish[0].fix,
            )
        ]
    if not publish:
        return [unknown("notifications", subject, f"{hub.topic.name} exists; rights unknown")]
    return [ok("notifications", subject, f"{hub.topic.name} exists and the app may publish")]


def _clusters(
    services: Services,
    reads: DoctorReads,
    target: Target,
    watched: list[str],
    policy: AttachPolicy,
) -> list[Check]:
    area = cluster_checks.AREA
    if isinstance(target.cluster, str):
        from console.commands.target import find_cluster

        subscriptions = list(
            dict.fromkeys([*watched, *(r.workspace_id.subscription for r in policy.workspaces)])
        )
        try:
            cluster_ids = [find_cluster(target.cluster, subscriptions, reads.in_subscription)]
        except AutoattachError as error:
            return [unknown(area, f"cluster {target.cluster}", str(error))]
    elif target.cluster is not None:
        cluster_ids = [target.cluster]
    else:
        cluster_ids = []
        for subscription in watched:
            try:
                cluster_ids += services.clusters.tagged(subscription, services.tag_key)
            except AutoattachError as error:
                return [unknown(area, f"tagged clusters in {subscription}", str(error))]
        if not cluster_ids:
            return [ok(area, "tagged clusters", f"none carries the tag {services.tag_key} yet")]
    checks: list[Check] = []
    for cluster_id in cluster_ids:

        def look(cluster_id: ResourceId = cluster_id) -> list[Check]:
            return _cluster(services, reads, cluster_id, policy)

        checks += _guarded(area, cluster_id.name, look)
    return checks


def _cluster(
    services: Services, reads: DoctorReads, cluster_id: ResourceId, policy: AttachPolicy
) -> list[Check]:
    area = cluster_checks.AREA
    cluster, decision = observe_cluster(cluster_id, services)
    if not cluster.exists:
        return [problem(area, cluster_id.name, f"{cluster_id.raw} does not exist", "check the id")]
    checks = cluster_checks.check_tag(cluster, decision, policy, services.tag_key)
    extension = services.extensions.find_azureml(cluster.id)
    checks.append(cluster_checks.check_cluster_ready(cluster, extension, policy))
    relay_found = None
    if cluster.kind == "arc" and extension is not None and extension.relay is not None:
        relay_found = reads.resource(extension.relay) is not None
    for line in (
        cluster_checks.check_relay(cluster, extension, relay_found),
        cluster_checks.check_connectivity(cluster),
    ):
        if line is not None:
            checks.append(line)
    if not decision.attachments:
        return checks
    try:
        route = namespace_route(policy, cluster)
    except AutoattachError as error:
        checks.append(cluster_checks.check_namespace_route(cluster, None, str(error)))
        return checks
    trouble = None
    if route is not None and route.kubeconfig_secret is not None:
        try:  # reads the secret, checks it is safe and reaches this cluster, reads a namespace
            services.namespaces.state(cluster.id, decision.attachments[0].namespace, route)
        except AutoattachError as error:
            trouble = str(error)
    checks.append(cluster_checks.check_namespace_route(cluster, route, trouble))
    relay = extension.relay if extension is not None and cluster.kind == "arc" else None
    trusted: frozenset[ResourceId] | None = None
    for workspace_id in dict.fromkeys(a.workspace_id for a in decision.attachments):
        workspace = services.workspaces.get_workspace(workspace_id)
        identity = workspace.user_assigned_identity
        if identity is None:
            continue
        rule = policy.rule_for(workspace_id)
        swapped = cluster_checks.check_named_identity(
            workspace_id, identity, rule.workspace_identity if rule is not None else None
        )
        if swapped is not None:
            checks.append(swapped)
            continue
        if trusted is None:  # one read per cluster: the workspaces its Trusted Access binds
            trusted = services.clusters.trusted_workspaces(cluster.id)
        principal = workspace_principal(services, workspace)
        held = services.roles.of_principal(principal, cluster.id.subscription)
        missing = [
            (scope, role)
            for scope, role in prerequisite_roles(cluster, relay, workspace_id in trusted)
            if role.value not in holdings(held, scope).roles
        ]
        checks.append(
            cluster_checks.check_workspace_identity(
                cluster, workspace_id, missing, workspace_id in trusted
            )
        )
    return checks
