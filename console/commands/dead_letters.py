"""``autoattach dead-letters``: look at what autoattach could not handle, and replay it."""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from console.output import add_output, render
from console.text import printable
from shared.adapters.dead_letters import DeadLetter, Replayed
from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.errors import AutoattachError
from shared.ports import DeadLetterQueues
from shared.settings import (
    AZURE_CLIENT_ID,
    DEFAULT_CLUSTER_EVENTS_QUEUE,
    DEFAULT_EXTENSION_EVENTS_QUEUE,
    SERVICEBUS_NAMESPACE,
)

QUEUES = [DEFAULT_CLUSTER_EVENTS_QUEUE, DEFAULT_EXTENSION_EVENTS_QUEUE]

DEAD_LETTERS_HELP = """\
Look at the messages autoattach could not handle, and send them back once the cause is fixed.
Each dead letter carries a reason (MalformedEvent, MalformedMessage, AttachFailed,
RecheckLimitReached, an ARM error code, or MaxDeliveryCountExceeded after repeated crashes) and a
description of what to fix.
Replaying is safe: autoattach reconciles the cluster from what Azure says now.

In Azure: the namespace from --namespace (its host name, or its short name: sb-autoattach means
sb-autoattach.servicebus.windows.net), --app ID (the deployed Function App's own setting, read
through ARM), or $SERVICEBUS_CONNECTION__fullyQualifiedNamespace, else azd's $SERVICEBUS_NAMESPACE;
an unknown or unreachable namespace is said in one line at once. Signs in with your Azure CLI
login or environment (DefaultAzureCredential); you need Azure Service Bus Data Receiver and Data
Sender on the queues. To rehearse without Azure, --state DIR works on the dead letters an
`autoattach sandbox --state DIR` run kept (docs/sandbox.md).

Exit status: 0 done; 1 Service Bus failed, or some chosen dead letter was not replayed (or the
replay was not confirmed); 2 wrong input (the option and value are named); 3 nobody is signed
in to Azure."""

LIST_HELP = """\
Show every dead letter of the queues (both by default), read page by page without locking
anything, with "N of M" counts: N match the filters, M are there. Filters combine (all must hold).

--output table (the default on a terminal) prints one line per dead letter and its description,
control characters from the message shown as escapes (ESC as \\x1b, a line break as \\n);
--output json (the default when the output is piped or redirected) prints one object:
{"queues", "total", "matched", "dead_letters": [{"queue", "sequence_number", "id", "event_id",
"reason", "description", "enqueued_at", "cluster", "content_type", "properties", "body"}]}."""

REPLAY_HELP = """\
Send a copy of each chosen dead letter back to its queue, then remove the dead letter (only after
its copy was sent). The copy keeps the body, content type and application properties (the
autoattach-attempt count among them, so the re-check limit still counts; a new re-check chain) under
a fresh message id. Choose with --id (repeatable; an event id or a message id), with the filters,
or --all. Dead letters not chosen are left where they were.

More than one dead letter is replayed only after you confirm, or with --yes; without a terminal
to confirm on, more than one needs --yes. --dry-run prints what would be replayed and sends
nothing. Progress is printed per message: "replayed 3 of 12: <event id> ..."."""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(commands: argparse._SubParsersAction) -> None:
    dead = commands.add_parser(
        "dead-letters",
        help="list or replay messages autoattach could not handle",
        description=DEAD_LETTERS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text, description in (
        ("list", "show the dead letters, with counts", LIST_HELP),
        ("replay", "send dead letters back to their queue", REPLAY_HELP),
    ):
        action = actions.add_parser(
            name,
            help=text,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        action.add_argument(
            "--queue",
            choices=QUEUES,
            help="only this queue's dead letters (default: both queues)",
        )
        where = action.add_mutually_exclusive_group()
        where.add_argument(
            "--namespace",
            help="Service Bus namespace: sb-autoattach.servicebus.windows.net, or just "
            f"sb-autoattach (default: ${SERVICEBUS_NAMESPACE}, else azd's $SERVICEBUS_NAMESPACE)",
        )
        where.add_argument(
            "--app",
            metavar="ID",
            help="the deployed Function App's resource id: its Service Bus namespace is read "
            "from its settings through ARM",
        )
        where.add_argument(
            "--state",
            type=Path,
            metavar="DIR",
            help="rehearse on the sandbox's queues kept in DIR by `autoattach sandbox --state DIR` "
            "instead of Azure",
        )
        action.add_argument(
            "--reason",
            action="append",
            metavar="REASON",
            help="only dead letters with this reason, e.g. AttachFailed (case-insensitive; "
            "repeat for any of several)",
        )
        action.add_argument(
            "--cluster",
            action="append",
            metavar="CLUSTER",
            help="only events about this cluster: its resource id, or its name (both compared "
            "case-insensitively, as Azure does; repeat for any of several)",
        )
        action.add_argument(
            "--since",
            metavar="WHEN",
            help="only dead letters enqueued at or after WHEN: an ISO 8601 date or time "
            "(UTC unless it has an offset), or a duration back from now such as 90m, 2h, 3d",
        )
        add_output(
            action,
            document=(
                "{queues, total, matched, dead_letters: [{queue, sequence_number, id, event_id, "
                "reason, description, enqueued_at, cluster, content_type, properties, body}]}"
                if name == "list"
                else "{queues, chosen, replayed: [{event_id, message_id, queue, copy_id}], "
                "skipped: [...], dry_run}"
            ),
            default=None if name == "list" else "table",
        )
        if name == "list":
            action.add_argument(
                "--json",
                dest="output",
                action="store_const",
                const="json",
                help="same as --output json",
            )
        else:
            which = action.add_mutually_exclusive_group()
            which.add_argument(
                "--id",
                action="append",
                dest="ids",
                metavar="ID",
                help="replay this one (its event id or its message id); repeatable",
            )
            which.add_argument(
                "--all",
                action="store_true",
                help="replay every dead letter (that matches the filters)",
            )
            action.add_argument(
                "--dry-run",
                action="store_true",
                help="print what would be replayed; send nothing",
            )
            action.add_argument(
                "--yes",
                "-y",
                action="store_true",
                help="replay more than one without asking",
            )


def run(args: argparse.Namespace) -> int:
    if args.state is not None:
        return _run_on_state(args)
    try:
        namespace = _namespace(args)
    except ValueError as error:
        return _wrong(args, str(error))
    except AutoattachError as error:
        print(f"autoattach dead-letters {args.action}: {error}", file=sys.stderr)
        return 1
    if not namespace:
        return _wrong(
            args,
            f"give --namespace or --app (or set {SERVICEBUS_NAMESPACE}), or --state DIR to "
            "rehearse",
        )
    namespace = full_namespace(namespace)
    unreachable = why_unreachable(namespace)
    if unreachable is not None:
        problem, code = unreachable
        print(f"autoattach dead-letters {args.action}: {problem}", file=sys.stderr)
        return code
    from console.signin import SERVICEBUS_SCOPE, azure_credential, require_sign_in
    from shared.adapters.dead_letters import ServiceBusDeadLetters
    from shared.adapters.servicebus import ServiceBusLink

    credential = azure_credential(os.environ.get(AZURE_CLIENT_ID) or None)
    require_sign_in(credential, SERVICEBUS_SCOPE)
    return run_dead_letters(args, ServiceBusDeadLetters(ServiceBusLink(namespace, credential)))


SERVICEBUS_SUFFIX = ".servicebus.windows.net"
AMQP_PORT = 5671  # azure-servicebus's default transport: AMQP over TLS
CONNECT_SECONDS = 3.0


def full_namespace(text: str) -> str:
    """A namespace's host name: `sb-autoattach` -> sb-autoattach.servicebus.windows.net; a
    host name (any cloud's suffix), sb:// or https:// address is kept as its host name."""
    host = text.strip()
    for scheme in ("sb://", "https://", "amqps://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return host if "." in host else host + SERVICEBUS_SUFFIX


def why_unreachable(host: str) -> tuple[str, int] | None:
    """Before any AMQP (whose SDK retries for many seconds and then reports a socket error): the
    host name resolves (else wrong input, exit 2) and its AMQP port answers within a few seconds
    (else exit 1). None when both hold."""
    try:
        socket.getaddrinfo(host, AMQP_PORT, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return (
            f"Service Bus namespace {host}: no such host; check --namespace (a namespace's host "
            "name, or its short name)",
            2,
        )
    try:
        with socket.create_connection((host, AMQP_PORT), timeout=CONNECT_SECONDS):
            return None
    except OSError as error:
        why = error.strerror or error.__class__.__name__
        return (
            f"Service Bus namespace {host}: port {AMQP_PORT} (AMQP) does not answer ({why}); "
            "check the network path (firewall, private endpoint, VPN)",
            1,
        )


def _namespace(args: argparse.Namespace) -> str | None:
    """--namespace; else the app's (--app, read through ARM); else the environment's (the app's
    own setting name, or azd's output)."""
    if args.namespace:
        return str(args.namespace)
    if args.app:
        from console.app_settings import deployed

        return deployed(None, args.app, sends=True, as_deployed=True).env.get(SERVICEBUS_NAMESPACE)
    return os.environ.get(SERVICEBUS_NAMESPACE) or os.environ.get("SERVICEBUS_NAMESPACE")


def _run_on_state(args: argparse.Namespace) -> int:
    from sandbox.servicebus_double import DeadLetterQueues
    from sandbox.state import StateError, load_state, save_state

    try:
        state = load_state(args.state)
    except StateError as error:
        return _wrong(args, str(error))
    code = run_dead_letters(
        args, DeadLetterQueues(state.bus), queues=[q for q in QUEUES if q in state.bus.queues]
    )
    if args.action == "replay" and not args.dry_run:
        save_state(state, args.state)
    return code


def _wrong(args: argparse.Namespace, problem: str) -> int:
    print(f"autoattach dead-letters {args.action}: {printable(problem)}", file=sys.stderr)
    return 2


@dataclass(frozen=True)
class Filters:
    reasons: frozenset[str]
    clusters: tuple[ResourceId, ...]
    cluster_names: frozenset[str]
    since: datetime | None

    @classmethod
    def from_args(cls, args: argparse.Namespace, now: datetime) -> Filters:
        """Raises ValueError naming the option and value when one is unusable."""
        reasons = frozenset(r.strip().lower() for r in args.reason or [])
        if "" in reasons:
            raise ValueError("--reason must not be empty")
        clusters: list[ResourceId] = []
        names: set[str] = set()
        for text in args.cluster or []:
            text = text.strip()
            if text.startswith("/"):
                try:
                    clusters.append(ResourceId.parse(text))
                except InvalidResourceId as error:
                    raise ValueError(f"--cluster {text!r}: {error}") from None
            elif not text or "/" in text:
                raise ValueError(
                    f"--cluster {text!r}: give a cluster's resource id (/subscriptions/...) "
                    "or its name"
                )
            else:
                names.add(text.lower())
        since = None if args.since is None else parse_since(args.since, now)
        return cls(reasons, tuple(clusters), frozenset(names), since)

    @property
    def any(self) -> bool:
        return bool(self.reasons or self.clusters or self.cluster_names or self.since)

    def match(self, letter: DeadLetter) -> bool:
        if self.reasons and letter.reason.lower() not in self.reasons:
            return False
        if self.clusters or self.cluster_names:
            cluster = letter.cluster
            if cluster is None:
                return False
            if cluster not in self.clusters and cluster.name.lower() not in self.cluster_names:
                return False
        return self.since is None or (
            letter.enqueued_at is not None and letter.enqueued_at >= self.since
        )

    def describe(self) -> str:
        parts = [f"reason={r}" for r in sorted(self.reasons)]
        parts += [f"cluster={c}" for c in self.clusters]
        parts += [f"cluster={n}" for n in sorted(self.cluster_names)]
        if self.since is not None:
            parts.append(f"since={self.since.isoformat()}")
        return ", ".join(parts)


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a duration back from ``now`` (90m, 2h, 3d, 1w) or an ISO 8601 date/time (UTC
    unless it carries an offset)."""
    value = text.strip()
    duration = _DURATION.match(value.lower())
    if duration:
        return now - timedelta(seconds=float(duration.group(1)) * _UNITS[duration.group(2)])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither an ISO 8601 date/time (2026-01-01T09:00Z) "
            "nor a duration such as 90m, 2h, 3d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_dead_letters(
    args: argparse.Namespace,
    store: DeadLetterQueues,
    *,
    queues: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    names = [args.queue] if args.queue else list(queues or QUEUES)
    if args.action == "replay" and not (args.ids or args.all or _has_filters(args)):
        return _wrong(args, "say which: --id ID, --all, or a filter (--reason, --cluster, --since)")
    try:
        filters = Filters.from_args(args, store.now())
    except ValueError as error:
        return _wrong(args, str(error))
    try:
        everything = [letter for queue in names for letter in store.peek(queue)]
    except AutoattachError as error:
        print(
            f"autoattach dead-letters {args.action}: {printable(error, keep_newlines=True)}",
            file=sys.stderr,
        )
        return 1
    matching = [letter for letter in everything if filters.match(letter)]
    if args.action == "list":
        output = args.output or ("table" if stdout.isatty() else "json")
        text = render(
            _list_json(names, everything, matching),
            output,
            args.query,
            lambda _: _table(names, everything, matching, filters),
        )
        if text is not None:
            print(text, file=stdout)
        return 0
    return _replay(args, store, names, everything, matching, filters, stdin, stdout)


def _has_filters(args: argparse.Namespace) -> bool:
    return bool(args.reason or args.cluster or args.since)


def _replay(
    args: argparse.Namespace,
    store: DeadLetterQueues,
    names: list[str],
    everything: list[DeadLetter],
    matching: list[DeadLetter],
    filters: Filters,
    stdin: TextIO,
    stdout: TextIO,
) -> int:
    on = ", ".join(names)
    chosen = matching
    if args.ids:
        unknown = [
            i for i in args.ids if not any(i in (m.message_id, m.event_id) for m in matching)
        ]
        if unknown:
            where = f"on {on}" + (f" matching {filters.describe()}" if filters.any else "")
            return _wrong(
                args,
                "no dead letter "
                + ", ".join(unknown)
                + f" {where}; nothing replayed (see `autoattach dead-letters list`)",
            )
        chosen = [m for m in matching if m.message_id in args.ids or m.event_id in args.ids]
    total = len(chosen)
    if not chosen:
        print(f"no dead letters to replay on {on} ({len(everything)} there)", file=stdout)
        return 0
    if args.dry_run:
        lines = [f"would replay {i} of {total}: {_about(m)}" for i, m in enumerate(chosen, 1)]
        lines.append(f"dry run: nothing sent ({total} of {len(everything)} dead letters)")
        document = {
            "queues": names,
            "chosen": total,
            "dry_run": True,
            "would_replay": [_result_json(Replayed(m, None)) for m in chosen],
        }
        text = render(document, args.output, args.query, lambda _: "\n".join(lines))
        if text is not None:
            print(text, file=stdout)
        return 0
    if total > 1 and not args.yes:
        if not stdin.isatty():
            return _wrong(
                args,
                f"{total} dead letters chosen and no terminal to confirm on: give --yes to "
                "replay them (--dry-run shows which)",
            )
        for letter in chosen:
            print(f"  {_about(letter)}", file=stdout)
        print(f"Replay these {total} dead letters? [y/N] ", end="", file=stdout, flush=True)
        if stdin.readline().strip().lower() not in ("y", "yes"):
            print("nothing replayed", file=stdout)
            return 1
    count = 0
    table = args.output == "table" and args.query is None

    def progress(result: Replayed) -> None:
        nonlocal count
        count += 1
        if not table:
            return
        letter = result.letter
        if result.copy_id is None:
            line = f"skipped {count} of {total}: {_about(letter)}: no longer dead-lettered"
        else:
            line = f"replayed {count} of {total}: {_about(letter)} to {letter.queue}"
        print(line, file=stdout, flush=True)

    results: list[Replayed] = []
    failure = None
    try:
        for queue in names:
            mine = [letter for letter in chosen if letter.queue == queue]
            if mine:
                results += store.replay(queue, mine, progress)
    except AutoattachError as error:
        failure = str(error)
    replayed = [r for r in results if r.copy_id is not None]
    skipped = [r for r in results if r.copy_id is None]
    summary = f"replayed {len(replayed)} of {total} dead letters on {on}"
    if skipped:
        summary += (
            f"; {len(skipped)} skipped: no longer dead-lettered (replayed or removed meanwhile)"
        )
    if failure is not None:
        summary += f"; stopped: {failure}"
    document = {
        "queues": names,
        "chosen": total,
        "replayed": [_result_json(r) for r in replayed],
        "skipped": [_result_json(r) for r in skipped],
        "error": failure,
    }
    text = render(document, args.output, args.query, lambda _: printable(summary))
    if text is not None:
        print(text, file=stdout)
    if failure is not None:
        print(
            f"autoattach dead-letters replay: {printable(failure, keep_newlines=True)}",
            file=sys.stderr,
        )
        return 1
    return 0 if not skipped else 1


def _result_json(result: Replayed) -> dict[str, Any]:
    letter = result.letter
    return {
        "queue": letter.queue,
        "event_id": letter.event_id,
        "message_id": letter.message_id,
        "reason": letter.reason,
        "cluster": str(letter.cluster) if letter.cluster else None,
        "copy_id": result.copy_id,
    }


def _about(letter: DeadLetter) -> str:
    """The dead letter by its event id (its message id too when that differs), its cluster and
    why it was dead-lettered; what came from the message shown printable."""
    name = letter.event_id or letter.message_id
    about = [f"message {printable(letter.message_id)}"] if letter.message_id != name else []
    if letter.cluster is not None:
        about.append(f"cluster {printable(letter.cluster.name)}")
    about.append(printable(letter.reason))
    return f"{printable(name)} ({', '.join(about)})"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _table(
    names: list[str],
    everything: list[DeadLetter],
    matching: list[DeadLetter],
    filters: Filters,
) -> str:
    which = f" matching {printable(filters.describe())}" if filters.any else ""
    out = [f"{len(matching)} of {len(everything)} dead letters on {', '.join(names)}{which}"]
    if not matching:
        return out[0]
    rows = [("QUEUE", "EVENT ID", "REASON", "ENQUEUED (UTC)", "CLUSTER")]
    rows += [
        (
            printable(m.queue),
            printable(m.event_id or m.message_id),
            printable(m.reason),
            _when(m.enqueued_at),
            printable(m.cluster.name) if m.cluster else "-",
        )
        for m in matching
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if index:
            letter = matching[index - 1]
            out.append(
                f"    message {printable(letter.message_id)}: {printable(letter.description)}"
            )
    return "\n".join(out)


def _list_json(
    names: list[str], everything: list[DeadLetter], matching: list[DeadLetter]
) -> dict[str, Any]:
    return {
        "queues": names,
        "total": len(everything),
        "matched": len(matching),
        "dead_letters": [_letter_json(letter) for letter in matching],
    }


def _letter_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "queue": letter.queue,
        "sequence_number": letter.sequence_number,
        "id": letter.message_id,
        "event_id": letter.event_id,
        "reason": letter.reason,
        "description": letter.description,
        "enqueued_at": letter.enqueued_at.isoformat() if letter.enqueued_at else None,
        "cluster": str(letter.cluster) if letter.cluster else None,
        "content_type": letter.content_type,
        "properties": {k: _plain(v) for k, v in letter.properties.items()},
        "body": letter.body.decode("utf-8", errors="replace"),
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
