"""From one queue message to one outcome: complete, re-check later, or dead-letter.

This is everything a Service Bus trigger does, minus the settling, so it is tested without the
Functions host. Transient failures and "not ready yet" never throw: they become re-checks.

One re-check chain per cluster. A message that waits keeps its chain (its id, and when its next
re-check is due) in the cluster's ledger. A later message of another chain, while that chain is
live, joins it instead of starting a second one: an ARM event reads nothing and only says what
it may have changed (a tag or cluster write: the chain's next step reads the cluster again before
going on from what it saw; an extension deleted: it reads everything), and a sweep or a person's
request reconciles (reading everything, as they do) but leaves the waiting to the live chain. A
chain past its due time by ``CHAIN_OVERDUE_SECONDS`` is taken as gone (its copy dead-lettered by
the host, say), and the message takes over.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import __version__
from shared import settings as names
from shared.decisions.arm_id import EXTENSION_SUFFIX
from shared.decisions.errors import AutoattachError, ClusterBusy, LeaseLost, TransientError
from shared.decisions.events import (
    RECONCILE_REQUEST_TYPE,
    SWEEP_REQUEST_TYPE,
    ClusterSignal,
    IgnoredEvent,
    MalformedEvent,
    parse_message,
)
from shared.engine.continuation import REREAD_CLUSTER
from shared.engine.reconcile import reconcile
from shared.ports import Services

log = logging.getLogger("autoattach.handling")

MAX_RECHECKS = 60
# A sweep request's chain: short enough to end before the next sweep (every 15 minutes by
# default): 4 x 60 s waiting, at most 60+120+240+480 s of transient backoff.
SWEEP_MAX_RECHECKS = 4
MAX_BACKOFF_SECONDS = 900.0
RETRY_AFTER_JITTER = 0.2
RECHECK_SPREAD = 0.2  # a wait's re-check comes 1 to 1.2 re-check delays later
# An install's end is seen by polling the extension (no event tells of it: azure-facts.md): soon
# at first, then every 5% of the time the chain has waited plus 15 s, at most the re-check delay,
# so that it is seen within about 5% of the time to a usable compute (role propagation alone takes
# minutes) without polling a long install every few seconds. The app settings
# INSTALL_POLL_FIRST_SECONDS and INSTALL_POLL_PERCENT_OF_WAIT trade that latency for fewer reads
# (docs/decisions.md); their defaults are these.
INSTALL_POLL_FIRST_SECONDS = float(names.DEFAULT_INSTALL_POLL_FIRST_SECONDS)
INSTALL_POLL_SHARE = names.DEFAULT_INSTALL_POLL_PERCENT_OF_WAIT / 100
# How late a live chain's next re-check may be before a new message takes the chain over: queue
# delivery lag and busy leases delay a re-check by seconds, a lost chain never comes.
CHAIN_OVERDUE_SECONDS = 300.0


@dataclass(frozen=True)
class InstallPolling:
    """How often an install someone else started is looked at: ``first_seconds`` after the chain
    began waiting, then every ``first_seconds`` plus ``share`` of the time waited so far."""

    first_seconds: float = INSTALL_POLL_FIRST_SECONDS
    share: float = INSTALL_POLL_SHARE


@dataclass(frozen=True)
class Completed:
    summary: str
    untagged: bool = False  # the cluster was read untagged (or gone), with nothing of ours on it


@dataclass(frozen=True)
class RecheckLater:
    reason: str
    delay_seconds: float


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    description: str


Outcome = Completed | RecheckLater | DeadLetter


def handle_message(
    body: bytes,
    *,
    attempt: int,
    services: Services,
    recheck_delay_seconds: float,
    chain: str | None = None,
    now: datetime | None = None,
    install_polling: InstallPolling = InstallPolling(),
) -> Outcome:
    """Decide what becomes of one message. ``attempt`` counts earlier re-checks of this event;
    ``chain`` is the re-check chain the message belongs to (shared.engine.settlement.chain_of)
    and ``now`` the queue's clock: with both, the cluster keeps one chain (None: the message
    decides alone, as if no other chain waited). ``install_polling``: how often an install is
    looked at."""
    try:
        parsed = parse_message(body)
    except MalformedEvent as error:
        return DeadLetter(error.reason, str(error))
    if isinstance(parsed, IgnoredEvent):
        return Completed(f"ignored: {parsed.reason}")
    at = now or datetime.now(UTC)
    outcome = _converge(
        parsed, attempt, services, recheck_delay_seconds, chain, at, install_polling
    )
    return _capped(parsed, attempt, outcome)


def _capped(parsed: ClusterSignal, attempt: int, outcome: Outcome) -> Outcome:
    if (
        isinstance(outcome, RecheckLater)
        and parsed.operation == SWEEP_REQUEST_TYPE
        and attempt >= SWEEP_MAX_RECHECKS
    ):
        # A sweep's chain ends before the next sweep starts one, so sweeps never stack chains
        # on a cluster that waits, and never dead-letter it (docs/decisions.md).
        return Completed(f"{outcome.reason}; the next sweep looks again")
    return outcome


def _converge(
    parsed: ClusterSignal,
    attempt: int,
    services: Services,
    recheck_delay_seconds: float,
    chain: str | None,
    now: datetime,
    install_polling: InstallPolling,
) -> Outcome:
    try:
        # One handler per cluster at a time, across threads and instances; lost mid-run, no
        # further write is made (LeaseLost) and the cluster is re-checked.
        with services.ledger.lease(parsed.cluster_id):
            live = _live_chain(services, parsed, chain, now)
            if live is not None and parsed.operation not in _READS_EVERYTHING:
                return _join(services, parsed, live)
            if _extension_event_of_untagged(services, parsed):
                return Completed(UNTAGGED_EXTENSION_EVENT, untagged=True)
            waited = _waited(services, parsed, chain, now)
            outcome = _capped(
                parsed,
                attempt,
                _reconciled(
                    parsed, attempt, services, recheck_delay_seconds, waited, install_polling
                ),
            )
            if live is not None and isinstance(outcome, RecheckLater):
                outcome = Completed(f"{outcome.reason}; the re-check already waiting goes on")
            elif chain is not None and live is None:
                _keep_chain(services, parsed, chain, outcome, now)
            remember_outcome(services, parsed, attempt, outcome)
            return outcome
    except AutoattachError as error:  # the lease: busy, lost, or storage refusing
        return _outcome_of(error, attempt, recheck_delay_seconds)


# A sweep and a person's request read everything: drift is found there.
_READS_EVERYTHING = (SWEEP_REQUEST_TYPE, RECONCILE_REQUEST_TYPE)

UNTAGGED_EXTENSION_EVENT = (
    "nothing to do: the cluster was not tagged for any workspace when last read, and an "
    "extension changes no tag (a tag change brings an event of its own)"
)


def _extension_event_of_untagged(services: Services, parsed: ClusterSignal) -> bool:
    """An extension's write or delete, on a cluster whose last reconcile found no tag entry for
    any workspace and left nothing of autoattach's on it: no ARM read can find work there. A tag
    added since comes with its own tag or cluster write event, which reads the cluster (and the
    sweep reads every cluster, should that event be lost)."""
    if not parsed.operation.startswith(EXTENSION_SUFFIX + "/"):
        return False
    last = services.ledger.last_outcome(parsed.cluster_id)
    if not last or last.get("untagged") is not True:
        return False
    cluster = parsed.cluster_id
    return not services.ledger.announced(cluster) and services.ledger.continuation(cluster) is None


def _live_chain(
    services: Services, parsed: ClusterSignal, chain: str | None, now: datetime
) -> dict[str, Any] | None:
    """Another chain of the cluster whose next re-check is still to come, or None."""
    if chain is None:
        return None
    kept = services.ledger.chain(parsed.cluster_id)
    if not kept or kept.get("id") == chain:
        return None
    try:
        due = datetime.fromisoformat(str(kept["due"]))
    except (KeyError, ValueError):
        return None
    if now > due + timedelta(seconds=CHAIN_OVERDUE_SECONDS):
        return None  # gone: this message takes over
    return kept


def _keep_chain(
    services: Services, parsed: ClusterSignal, chain: str, outcome: Outcome, now: datetime
) -> None:
    """This message's chain is the cluster's live one while it waits (since when it started);
    none once it ends."""
    kept: dict[str, Any] | None = None
    if isinstance(outcome, RecheckLater):
        due = now + timedelta(seconds=outcome.delay_seconds)
        since = _chain_since(services.ledger.chain(parsed.cluster_id), chain) or now
        kept = {
            "id": chain,
            "due": due.isoformat(timespec="seconds"),
            "event": parsed.event_id,
            "since": since.isoformat(timespec="seconds"),
        }
    services.ledger.keep_chain(parsed.cluster_id, kept)


def _chain_since(kept: dict[str, Any] | None, chain: str) -> datetime | None:
    """When the kept chain started, if it is this one (None: not known)."""
    if not kept or kept.get("id") != chain:
        return None
    try:
        return datetime.fromisoformat(str(kept["since"]))
    except (KeyError, ValueError):
        return None


def _waited(services: Services, parsed: ClusterSignal, chain: str | None, now: datetime) -> float:
    """How long this message's chain has waited so far, in seconds (0 when it starts now)."""
    if chain is None:
        return 0.0
    since = _chain_since(services.ledger.chain(parsed.cluster_id), chain)
    return max(0.0, (now - since).total_seconds()) if since else 0.0


def install_poll_delay(
    waited_seconds: float,
    recheck_delay_seconds: float,
    polling: InstallPolling = InstallPolling(),
    *,
    rng: random.Random | None = None,
) -> float:
    """When to look at an install again, after ``waited_seconds`` of waiting (jittered down by
    up to a tenth, so clusters installing together do not poll in lockstep)."""
    step = min(recheck_delay_seconds, polling.first_seconds + polling.share * waited_seconds)
    return (rng or _jitter).uniform(0.9 * step, step)


def _join(services: Services, parsed: ClusterSignal, live: dict[str, Any]) -> Outcome:
    """The cluster waits in another chain: leave word for it of what this event may have
    changed, and end. No ARM request."""
    operation = parsed.operation
    kept = services.ledger.continuation(parsed.cluster_id)
    if kept is not None:
        if operation == f"{EXTENSION_SUFFIX}/delete":
            # what the chain waits for may no longer be wanted: it reads everything next
            services.ledger.keep_continuation(parsed.cluster_id, None)
        elif not operation.startswith(EXTENSION_SUFFIX + "/") and not kept.get(REREAD_CLUSTER):
            # tags or the cluster itself may differ from what the chain saw
            services.ledger.keep_continuation(parsed.cluster_id, {**kept, REREAD_CLUSTER: True})
    return Completed(
        f"joined the re-check of event {live.get('event', '?')} already waiting for this "
        f"cluster (due {live.get('due', '?')})"
    )


def _outcome_of(error: AutoattachError, attempt: int, recheck_delay_seconds: float) -> Outcome:
    """A typed failure's outcome: busy looks again soon and never gives up; a lost lease looks
    again soon, up to the re-check limit; transient is retried with backoff up to the limit;
    permanent is dead-lettered."""
    if isinstance(error, ClusterBusy):
        # Another handler is converging this cluster right now.
        return RecheckLater(f"{error.reason}: {error}", busy_delay(error.retry_after))
    if isinstance(error, LeaseLost):
        # Another handler may hold the cluster now: look again soon, as when it is busy.
        return _recheck_or_give_up(attempt, f"{error.reason}: {error}", busy_delay(None))
    if isinstance(error, TransientError):
        delay = backoff(attempt, recheck_delay_seconds, error.retry_after)
        return _recheck_or_give_up(attempt, f"{error.reason}: {error}", delay)
    return DeadLetter(error.reason, str(error))


def _reconciled(
    parsed: ClusterSignal,
    attempt: int,
    services: Services,
    recheck_delay_seconds: float,
    waited: float = 0.0,
    install_polling: InstallPolling = InstallPolling(),
) -> Outcome:
    """The outcome of reconciling the cluster (its lease held)."""
    try:
        # a sweep or a person's request reads everything: drift is found there
        discover = parsed.operation in (SWEEP_REQUEST_TYPE, RECONCILE_REQUEST_TYPE)
        result = reconcile(
            parsed.cluster_id,
            services,
            discover=discover,
            continuing=attempt > 0,
            extension_changed=parsed.operation.startswith(EXTENSION_SUFFIX + "/"),
        )
    except AutoattachError as error:
        return _outcome_of(error, attempt, recheck_delay_seconds)
    if result.waiting is not None:
        # a write Azure is still carrying out said when to look again; else the usual delay
        # spread a little, so clusters that started waiting together do not look in lockstep
        delay = _jitter.uniform(recheck_delay_seconds, (1 + RECHECK_SPREAD) * recheck_delay_seconds)
        if result.installing:
            delay = install_poll_delay(waited, recheck_delay_seconds, install_polling)
        if result.retry_after:
            delay = backoff(0, result.retry_after, result.retry_after)
        if result.problems and result.only_rechecks:
            # a failure to try again later (an attach that may have come before its roles took
            # effect): its tries back off, whatever else is waiting, longer the more it failed
            steps = max(attempt, result.attach_tries + 1)
            delay = max(delay, backoff(steps, recheck_delay_seconds, result.retry_after))
        return _recheck_or_give_up(attempt, result.waiting, delay)
    if result.problems and result.only_rechecks:
        delay = backoff(attempt, recheck_delay_seconds, result.retry_after)
        return _recheck_or_give_up(attempt, result.summary(), delay)
    if result.problems:
        return DeadLetter("AttachFailed", result.summary())
    return Completed(result.summary(), untagged=result.untagged)


def remember_outcome(
    services: Services, parsed: ClusterSignal, attempt: int, outcome: Outcome
) -> None:
    """Keep the outcome in the cluster's ledger, for ``autoattach status``. Best effort: a
    failure to keep it is logged and never changes the outcome."""
    kept: dict[str, str | int]
    if isinstance(outcome, Completed):
        kept = {"outcome": "completed", "summary": outcome.summary}
        if outcome.untagged:
            kept["untagged"] = True
    elif isinstance(outcome, RecheckLater):
        kept = {"outcome": "re-check later", "reason": outcome.reason}
    else:
        kept = {"outcome": "dead-lettered", "reason": outcome.reason}
        kept["summary"] = outcome.description
    kept |= {
        "event_id": parsed.event_id,
        "operation": parsed.operation,
        "attempt": attempt,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "app_version": __version__,  # the console warns when it is not its own
    }
    try:
        services.ledger.record_outcome(parsed.cluster_id, kept)
    except Exception as error:  # whatever it was: the record never changes the outcome
        log.warning("cluster %s: could not keep the last outcome: %s", parsed.cluster_id, error)


_jitter = random.Random()


def seed_jitter(seed: int | None) -> None:
    """Make the re-check delays reproducible (the sandbox seeds it, for repeatable runs)."""
    _jitter.seed(seed)


def backoff(
    attempt: int,
    base_seconds: float,
    retry_after: float | None,
    *,
    rng: random.Random | None = None,
) -> float:
    """Exponential from the base, capped at 15 minutes, jittered; never sooner than Azure asked.

    "Equal jitter": the delay is drawn between half and all of the exponential step, so clusters
    throttled together come back spread out, not in lockstep. A longer Retry-After is honoured
    and jittered upwards (up to RETRY_AFTER_JITTER more), never below what Azure asked.
    """
    draw = rng or _jitter
    step = min(base_seconds * (2 ** min(attempt, 10)), MAX_BACKOFF_SECONDS)
    delay = draw.uniform(step / 2, step)
    if retry_after:
        delay = max(delay, retry_after * draw.uniform(1.0, 1.0 + RETRY_AFTER_JITTER))
    return delay


def busy_delay(retry_after: float | None, *, rng: random.Random | None = None) -> float:
    """Soon, spread between one and two of the busy hint, so waiting handlers do not collide."""
    base = retry_after or 5.0
    return (rng or _jitter).uniform(base, 2 * base)


def _recheck_or_give_up(attempt: int, reason: str, delay: float) -> Outcome:
    if attempt >= MAX_RECHECKS:
        return DeadLetter(
            "RecheckLimitReached",
            f"still not done after {attempt} re-checks: {reason}. Replay once it is fixed.",
        )
    return RecheckLater(reason, delay)
