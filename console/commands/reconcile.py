"""``autoattach reconcile --cluster ID``: ask the Functions app to reconcile a cluster now.

The request is a CloudEvent of type ``autoattach.reconcile.requested`` (shared.engine.sweep
.reconcile_request) sent to the cluster-events queue through the app's own RecheckScheduler
adapter (shared.wiring), so it takes the normal path: the app's lease, a full read (drift is
found), the same outcomes, re-checks and dead letters as any event.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from pathlib import Path
from typing import Any

from console.commands.target import (
    WHERE_HELP,
    Target,
    WrongInput,
    add_cluster,
    add_where,
    cluster_id,
    in_sandbox,
    opened,
    resolve_cluster,
)
from console.output import add_output, render
from console.text import printable
from shared.decisions.arm_id import ResourceId
from shared.decisions.errors import AutoattachError
from shared.engine.sweep import reconcile_request
from shared.settings import DEFAULT_CLUSTER_EVENTS_QUEUE

RECONCILE_HELP = f"""\
Queue a reconcile request for one cluster on the cluster-events queue, the way the periodic
sweep does: the Functions app picks it up like any event, under the cluster's lease, reads
everything (the extension, namespaces, every workspace of the policy, role assignments: drift
a lost event left is found) and converges the cluster. Follow it with `autoattach status
--cluster ID` (its last outcome) or in the app's logs; a request that cannot be handled is
dead-lettered with its reason, as any event.

In Azure you need Azure Service Bus Data Sender on the queue. Prints the request's event id.

In the sandbox: with --world FILE (or --demo) the request is delivered at once to the real
triggers and what became of it is printed (with its re-checks, in virtual time), then the ARM
requests made. With --state DIR instead, the request is only queued in DIR (the queues an
`autoattach sandbox --state DIR` run keeps); the next `autoattach sandbox --world FILE --state DIR`
run delivers it.

{WHERE_HELP}

Exit status: 0 queued (or, in the sandbox, delivered); 1 Service Bus or Azure failed; 2 wrong
input (the id, file, directory or setting is named); 3 nobody is signed in to Azure."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="queue a reconcile request for a cluster (the normal event path)",
        description=RECONCILE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_cluster(parser)
    parser.add_argument(
        "--reason",
        default=None,
        metavar="TEXT",
        help="why, kept in the request's data (default: requested by <user>)",
    )
    add_where(parser)
    add_output(
        parser,
        document="one object with cluster, queue, event_id (in the sandbox also deliveries: "
        "what became of it, and arm_requests)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help="sandbox: queue the request in the queues kept in DIR for the next "
        "`autoattach sandbox --state DIR` run, instead of delivering it now",
    )


def run(args: argparse.Namespace) -> int:
    try:
        cluster = cluster_id(args.cluster)
        reason = args.reason or f"requested by {_user()} with autoattach reconcile"
        event_id = str(uuid.uuid4())
        if args.state is not None:
            if in_sandbox(args) or args.run_events or args.events is not None:
                raise WrongInput(
                    "--state DIR queues the request for a later `autoattach sandbox --state DIR` "
                    "run: give it without --world/--demo/--run-events/--events"
                )
            if not isinstance(cluster, ResourceId):
                raise WrongInput(
                    f"--cluster {cluster}: with --state DIR give the cluster's resource id "
                    "(there is no Azure to look its name up in)"
                )
            body = reconcile_request(cluster.raw, reason, event_id=event_id)
            return _queue_in_state(args.state, cluster, body, event_id)
        with opened(args, sends=True) as target:
            cluster = resolve_cluster(target, cluster)
            body = reconcile_request(cluster.raw, reason, event_id=event_id)
            return _request(args, target, cluster, body, event_id)
    except WrongInput as error:
        print(f"autoattach reconcile: {error}", file=sys.stderr)
        return 2


def _request(
    args: argparse.Namespace, target: Target, cluster: ResourceId, body: bytes, event_id: str
) -> int:
    queue = target.app.settings.cluster_events_queue
    try:
        target.app.scheduler.schedule(queue, body, message_id=event_id, attempt=0, delay_seconds=0)
    except AutoattachError as error:
        print(f"autoattach reconcile: {printable(error, keep_newlines=True)}", file=sys.stderr)
        return 1
    report: dict[str, Any] = {"cluster": cluster.raw, "queue": queue, "event_id": event_id}
    lines = [f"queued a reconcile request for {cluster.raw} on {queue}: event id {event_id}"]
    if target.sandbox is not None:
        from sandbox.report import describe_delivery, one_line

        delivered = target.sandbox.deliver_pending()
        report["deliveries"] = [
            {
                "at": d.at,
                "queue": d.queue,
                "event": d.label,
                "outcome": d.outcome,
                "reason": one_line(d.reason),
                "notes": d.notes,
            }
            for d in delivered.deliveries
        ]
        report["arm_requests"] = {
            "reads": delivered.reads,
            "polls": delivered.polls,
            "writes": delivered.writes,
        }
        lines += [printable(describe_delivery(d), keep_newlines=True) for d in delivered.deliveries]
        lines.append(
            f"ARM requests (sandbox): {delivered.reads} reads, {delivered.polls} polls, "
            f"{delivered.writes} writes"
        )
    text = render(report, args.output, args.query, lambda _: "\n".join(lines))
    if text is not None:
        print(text)
    return 0


def _queue_in_state(directory: Path, cluster: ResourceId, body: bytes, event_id: str) -> int:
    from sandbox.clock import VirtualClock
    from sandbox.servicebus_double import ServiceBusDouble
    from sandbox.state import QUEUE_NAMES, StateError, load_state, save, state_file

    try:
        if state_file(directory).exists():
            state = load_state(directory)
            bus, clock = state.bus, state.clock
        else:
            if directory.exists() and not directory.is_dir():
                raise StateError(f"--state {directory}: not a directory")
            clock = VirtualClock()
            bus = ServiceBusDouble(clock, QUEUE_NAMES)
        # the sandbox app's RecheckScheduler: the real adapter over the queue double's link
        bus.schedule(
            DEFAULT_CLUSTER_EVENTS_QUEUE, body, message_id=event_id, attempt=0, delay_seconds=0
        )
        path = save(bus, clock, directory)
    except StateError as error:
        raise WrongInput(str(error)) from None
    print(
        f"queued a reconcile request for {cluster.raw} in {path}: event id {event_id}; the next "
        f"`autoattach sandbox --world FILE --state {directory}` run delivers it"
    )
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "someone"
