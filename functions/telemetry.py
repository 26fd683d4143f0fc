"""OpenTelemetry for the Functions app: one span per Service Bus message, carrying its outcome.

The Python worker's built-in logging drops ``extra={...}`` on the way to Application Insights, so
outcomes travel as span attributes (and flat log attributes) exported by the Azure Monitor
OpenTelemetry distro. Nothing here imports OpenTelemetry until telemetry is switched on: in the
Functions host with ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set (``configure_from_environment``),
or by a test handing in its own tracer provider (``use_tracer_provider``). Tests, the sandbox and
the CLI never export anything.

docs/operations.md queries exactly the attribute names below (tests/unit/test_operations_docs.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from shared.adapters.meter import Tally
from shared.decisions.events import ClusterSignal, MalformedEvent, MalformedMessage, parse_message
from shared.decisions.notices import ATTACHED as ATTACHED_NOTICE
from shared.engine.handling import Completed, DeadLetter, Outcome, RecheckLater
from shared.engine.settlement import MessageActions, attempt_of, chain_of, event_id_of, message_body

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

log = logging.getLogger("autoattach.functions")

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
FUNCTIONS_WORKER_RUNTIME = "FUNCTIONS_WORKER_RUNTIME"
# Only the product's own loggers go to Application Insights through OpenTelemetry, not every
# Azure SDK request line.
LOGGER_NAME = "autoattach"
TRACER_NAME = "autoattach"
SPAN_NAME = "autoattach.message"

# Span attributes. Not "messaging.*": the Azure Monitor exporter keeps OpenTelemetry's standard
# prefixes out of customDimensions, so an operator could not query them.
OUTCOME = "autoattach.outcome"
REASON = "autoattach.reason"
DESCRIPTION = "autoattach.description"
RECHECK_DELAY = "autoattach.recheck_delay_seconds"
EVENT_ID = "autoattach.event_id"
CLUSTER_ID = "autoattach.cluster_id"
ATTEMPT = "autoattach.attempt"
CHAIN = "autoattach.chain"
QUEUE = "autoattach.queue"
MESSAGE_ID = "autoattach.message_id"
SETTLEMENT = "autoattach.settlement"
# When the event that started this message's chain happened (its eventTime or time): a re-check
# carries the first event's body, so "usable" minus this is the time from the event to usable.
EVENT_TIME = "autoattach.event_time"
ATTACHED = "autoattach.attached"  # computes announced attached (ComputeAttached) by this message
ARM_THROTTLED = "autoattach.arm_throttled"  # Azure answers with 429 while handling it
ATTRIBUTES = (
    OUTCOME,
    REASON,
    DESCRIPTION,
    RECHECK_DELAY,
    EVENT_ID,
    CLUSTER_ID,
    ATTEMPT,
    CHAIN,
    QUEUE,
    MESSAGE_ID,
    SETTLEMENT,
    EVENT_TIME,
    ATTACHED,
    ARM_THROTTLED,
)

COMPLETED = "completed"
SCHEDULED = "scheduled"  # a re-check is scheduled: not ready yet, busy, or a transient failure
DEAD_LETTERED = "dead-lettered"
ABANDONED = "abandoned"  # a bug or a lost re-check: Service Bus delivers the message again
OUTCOMES = (COMPLETED, SCHEDULED, DEAD_LETTERED, ABANDONED)

_tracer: Tracer | None = None


def configure_from_environment(env: Mapping[str, str] | None = None) -> bool:
    """Export to Application Insights, once, when running in the Functions host with a connection
    string. The worker may have configured the distro already (PYTHON_APPLICATIONINSIGHTS_ENABLE_
    TELEMETRY=true, docs/operations.md): then its tracer provider is used, never a second one."""
    env = os.environ if env is None else env
    if not env.get(FUNCTIONS_WORKER_RUNTIME) or not env.get(CONNECTION_STRING, "").strip():
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    if not isinstance(trace.get_tracer_provider(), SdkTracerProvider):
        from azure.monitor.opentelemetry import configure_azure_monitor

        # sampling_ratio=1.0: every outcome is kept (the distro's default is a rate limit of
        # 5 traces per second). Authentication comes from APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
        configure_azure_monitor(logger_name=LOGGER_NAME, sampling_ratio=1.0)
    use_tracer_provider(trace.get_tracer_provider())
    return True


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Record spans with this provider from now on (None: record nothing, import nothing)."""
    global _tracer
    settlement_log = logging.getLogger("autoattach.settlement")
    settlement_log.removeFilter(_flat_outcome)
    if provider is None:
        _tracer = None
        return
    _tracer = provider.get_tracer(TRACER_NAME)
    settlement_log.addFilter(_flat_outcome)
    sampler = getattr(provider, "sampler", None)
    if sampler is not None and not keeps_every_span(sampler.get_description()):
        log.warning(
            "telemetry sampler %s may drop outcome spans; set OTEL_TRACES_SAMPLER=always_on",
            sampler.get_description(),
        )


def keeps_every_span(sampler_description: str) -> bool:
    return sampler_description in ("AlwaysOnSampler", "ApplicationInsightsSampler1.0")


def outcome_attributes(outcome: Outcome) -> dict[str, str | float]:
    """What became of a message, as span attributes."""
    if isinstance(outcome, Completed):
        return {OUTCOME: COMPLETED, REASON: outcome.summary}
    if isinstance(outcome, RecheckLater):
        return {OUTCOME: SCHEDULED, REASON: outcome.reason, RECHECK_DELAY: outcome.delay_seconds}
    return {OUTCOME: DEAD_LETTERED, REASON: outcome.reason, DESCRIPTION: outcome.description}


def message_attributes(queue: str, message: Any) -> dict[str, str | int]:
    """Which message this is: its event, cluster, queue and place in a re-check chain."""
    attributes: dict[str, str | int] = {
        QUEUE: queue,
        MESSAGE_ID: str(message.message_id or ""),
        EVENT_ID: event_id_of(message),
    }
    # A malformed attempt or chain is left out here: the outcome (MalformedMessage) names it.
    with suppress(MalformedMessage):
        attributes[ATTEMPT] = attempt_of(message)
    with suppress(MalformedMessage):
        attributes[CHAIN] = chain_of(message)
    try:
        parsed = parse_message(message_body(message))
    except MalformedEvent:
        return attributes
    if isinstance(parsed, ClusterSignal):
        attributes[CLUSTER_ID] = parsed.cluster_id.raw
        if parsed.time:
            attributes[EVENT_TIME] = parsed.time
    return attributes


def tally_attributes(seen: Tally) -> dict[str, int]:
    """What the adapters saw while the message was handled."""
    return {ATTACHED: seen.published[ATTACHED_NOTICE], ARM_THROTTLED: seen.throttled}


class MessageSpan:
    """The span of one message, or nothing at all when telemetry is off."""

    def __init__(self, span: Span | None) -> None:
        self._span = span

    def outcome(self, outcome: Outcome) -> None:
        if self._span is None:
            return
        self._span.set_attributes(outcome_attributes(outcome))
        if isinstance(outcome, DeadLetter):
            self._error(outcome.reason)

    def saw(self, seen: Tally) -> None:
        if self._span is not None:
            self._span.set_attributes(tally_attributes(seen))

    def abandoned(self, error: BaseException) -> None:
        if self._span is None:
            return
        self._span.record_exception(error)
        self._span.set_attributes({OUTCOME: ABANDONED, REASON: type(error).__name__})
        self._error(type(error).__name__)

    def watch(self, actions: MessageActions) -> MessageActions:
        """The same actions, noting on the span how the message was settled."""
        return actions if self._span is None else _Watched(actions, self)

    def settled(self, how: str) -> None:
        assert self._span is not None
        self._span.set_attribute(SETTLEMENT, how)
        if how == "abandon":
            self._span.set_attribute(OUTCOME, ABANDONED)
            self._error("abandoned")

    def _error(self, description: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        assert self._span is not None
        self._span.set_status(Status(StatusCode.ERROR, description))


@contextmanager
def message_span(queue: str, message: Any) -> Iterator[MessageSpan]:
    if _tracer is None:
        yield MessageSpan(None)
        return
    from opentelemetry.trace import SpanKind

    # INTERNAL: an AppDependencies row under the host's invocation (AppRequests), not a second
    # request of its own.
    with _tracer.start_as_current_span(
        SPAN_NAME, kind=SpanKind.INTERNAL, attributes=message_attributes(queue, message)
    ) as span:
        yield MessageSpan(span)


class _Watched:
    def __init__(self, actions: MessageActions, span: MessageSpan) -> None:
        self._actions = actions
        self._span = span

    def complete(self, message: Any) -> None:
        self._actions.complete(message)
        self._span.settled("complete")

    def abandon(self, message: Any) -> None:
        self._actions.abandon(message)
        self._span.settled("abandon")

    def deadletter(
        self,
        message: Any,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        self._actions.deadletter(
            message,
            deadletter_reason=deadletter_reason,
            deadletter_error_description=deadletter_error_description,
        )
        self._span.settled("deadletter")


def _flat_outcome(record: logging.LogRecord) -> bool:
    """The settlement's outcome record as flat attributes: a nested ``extra`` dict reaches
    Application Insights as a Python repr, not as custom dimensions one can query."""
    outcome = getattr(record, "autoattach_outcome", None)
    if isinstance(outcome, dict):
        record.__dict__[EVENT_ID] = str(outcome.get("id", ""))
        record.__dict__[OUTCOME] = str(outcome.get("outcome", ""))
        record.__dict__[REASON] = str(outcome.get("reason", ""))
    return True
