"""One span per Service Bus message, with its outcome: the real triggers against the sandbox, the
spans caught by the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, StatusCode

import functions.queue_triggers as triggers
from functions import telemetry
from sandbox.scenario import arm_event
from tests.e2e.conftest import ready_document, scenario_from, simple_document

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer_provider(provider)
    try:
        yield exporter
    finally:
        telemetry.use_tracer_provider(None)


def message_spans(exporter):
    return [s for s in exporter.get_finished_spans() if s.name == telemetry.SPAN_NAME]


def test_a_handled_message_is_one_span_with_its_outcome_cluster_event_reason_and_attempt(
    sandbox_for, spans
):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-1")}
    sandbox = sandbox_for(scenario_from(document, [step]))

    report = sandbox.run_pass(0)

    assert [d.outcome for d in report.deliveries] == ["completed"]
    (span,) = message_spans(spans)
    attributes = dict(span.attributes)
    assert attributes[telemetry.OUTCOME] == "completed"
    assert attributes[telemetry.CLUSTER_ID] == cluster
    assert attributes[telemetry.EVENT_ID] == "evt-1"
    assert attributes[telemetry.REASON] == report.deliveries[0].reason
    assert attributes[telemetry.ATTEMPT] == 0
    assert attributes[telemetry.QUEUE] == "cluster-events"
    assert attributes[telemetry.SETTLEMENT] == "complete"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is not StatusCode.ERROR
    assert set(attributes) <= set(telemetry.ATTRIBUTES)


def test_a_re_check_chain_is_one_span_per_delivery_sharing_a_chain_with_rising_attempts(
    sandbox_for, spans
):
    document = simple_document()  # its extension is still installing: re-checks follow
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-wait")}
    sandbox = sandbox_for(scenario_from(document, [step]))

    report = sandbox.run_pass(0)

    found = message_spans(spans)
    assert len(found) == len(report.deliveries) > 1
    outcomes = [s.attributes[telemetry.OUTCOME] for s in found]
    assert outcomes[:-1] == ["scheduled"] * (len(found) - 1)
    assert outcomes[-1] == "completed"
    assert [s.attributes[telemetry.ATTEMPT] for s in found] == list(range(len(found)))
    assert len({s.attributes[telemetry.CHAIN] for s in found}) == 1
    assert {s.attributes[telemetry.EVENT_ID] for s in found} == {"evt-wait"}
    assert all(telemetry.RECHECK_DELAY in s.attributes for s in found[:-1])


def test_a_dead_lettered_message_is_an_error_span_with_the_dead_letter_reason(sandbox_for, spans):
    sandbox = sandbox_for(scenario_from(ready_document(), [{"at": 0, "raw": "{not json"}]))

    sandbox.run_pass(0)

    (span,) = message_spans(spans)
    assert span.attributes[telemetry.OUTCOME] == "dead-lettered"
    assert span.attributes[telemetry.REASON] == "MalformedEvent"
    assert "not JSON" in span.attributes[telemetry.DESCRIPTION]
    assert span.attributes[telemetry.SETTLEMENT] == "deadletter"
    assert telemetry.CLUSTER_ID not in span.attributes
    assert span.status.status_code is StatusCode.ERROR


def test_a_message_abandoned_after_a_crash_is_an_error_span_with_the_exception(
    sandbox_for, spans, monkeypatch
):
    document = ready_document()
    step = {
        "at": 0,
        "event": arm_event(CLUSTER_WRITE, document["clusters"][0]["id"], event_id="evt-x"),
    }
    sandbox = sandbox_for(scenario_from(document, [step]))

    def crash(*args, **kwargs):
        raise RuntimeError("a bug, not a verdict on the message")

    monkeypatch.setattr(triggers, "handle_message", crash)
    report = sandbox.run_pass(0)

    found = message_spans(spans)
    assert len(found) == len(report.deliveries)  # once per delivery, until dead-lettered
    assert {s.attributes[telemetry.OUTCOME] for s in found} == {"abandoned"}
    assert {s.attributes[telemetry.REASON] for s in found} == {"RuntimeError"}
    assert all(s.status.status_code is StatusCode.ERROR for s in found)
    assert all(e.name == "exception" for s in found for e in s.events)


def test_the_settlement_outcome_record_carries_flat_attributes_when_telemetry_is_on(
    sandbox_for, spans
):
    document = ready_document()
    step = {
        "at": 0,
        "event": arm_event(CLUSTER_WRITE, document["clusters"][0]["id"], event_id="evt-f"),
    }
    sandbox = sandbox_for(scenario_from(document, [step]))
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("autoattach.settlement")
    logger.addHandler(handler)
    try:
        sandbox.run_pass(0)
    finally:
        logger.removeHandler(handler)

    (record,) = [r for r in records if hasattr(r, "autoattach_outcome")]
    assert record.__dict__[telemetry.EVENT_ID] == "evt-f"
    assert record.__dict__[telemetry.OUTCOME] == "completed"


def test_nothing_is_recorded_and_open_telemetry_is_not_imported_when_telemetry_is_off():
    # A fresh interpreter: no connection string, not in the Functions host.
    code = (
        "import sys, function_app\n"
        "from functions import telemetry\n"
        "assert telemetry._tracer is None\n"
        "heavy = ('opentelemetry.sdk', 'azure.monitor')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "print(loaded)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_telemetry_is_configured_only_in_the_functions_host_with_a_connection_string():
    with_string = {telemetry.CONNECTION_STRING: "InstrumentationKey=00000000"}
    assert telemetry.configure_from_environment(with_string) is False  # the sandbox, a test
    assert telemetry.configure_from_environment({"FUNCTIONS_WORKER_RUNTIME": "python"}) is False


def test_only_samplers_that_keep_every_outcome_span_pass_the_start_check():
    assert telemetry.keeps_every_span("AlwaysOnSampler")
    assert telemetry.keeps_every_span("ApplicationInsightsSampler1.0")
    assert not telemetry.keeps_every_span("RateLimitedSampler{5.0}")
    assert not telemetry.keeps_every_span("ApplicationInsightsSampler0.5")


def test_a_tracer_provider_the_worker_configured_is_used_and_no_second_one_is_set_up():
    # PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true: the worker configures the distro first.
    code = (
        "import sys\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "worker = TracerProvider()\n"
        "trace.set_tracer_provider(worker)\n"
        "from functions import telemetry\n"
        "assert telemetry.configure_from_environment()\n"
        "assert trace.get_tracer_provider() is worker\n"
        "assert telemetry._tracer is not None\n"
        "print([m for m in sys.modules if m.startswith('azure.monitor')])\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        telemetry.CONNECTION_STRING: "InstrumentationKey=00000000-0000-0000-0000-000000000000",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_message_that_makes_a_compute_usable_says_so_and_when_its_event_happened(
    sandbox_for, spans
):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    event = arm_event(CLUSTER_WRITE, cluster, event_id="evt-1", event_time="2026-03-04T05:06:07Z")
    sandbox = sandbox_for(scenario_from(document, [{"at": 0, "event": event}]))

    sandbox.run_pass(0)

    found = message_spans(spans)
    announced = [s for s in found if s.attributes.get(telemetry.ATTACHED)]
    published = [
        n for n in sandbox.topic.notifications if n["type"] == "Autoattach.ComputeAttached"
    ]
    assert sum(s.attributes[telemetry.ATTACHED] for s in announced) == len(published) > 0
    assert {s.attributes[telemetry.EVENT_TIME] for s in found} == {"2026-03-04T05:06:07Z"}
    assert all(s.attributes[telemetry.ARM_THROTTLED] == 0 for s in found)


def test_a_message_whose_arm_calls_were_throttled_counts_the_429s(sandbox_for, spans):
    document = ready_document()
    cluster = document["clusters"][0]["id"]
    step = {"at": 0, "event": arm_event(CLUSTER_WRITE, cluster, event_id="evt-429")}
    sandbox = sandbox_for(scenario_from(document, [step]))
    sandbox.arm.inject("GET", "/managedclusters/aks-ml", 429, "TooManyRequests", 1, 0)

    sandbox.run_pass(0)

    throttled = sum(s.attributes[telemetry.ARM_THROTTLED] for s in message_spans(spans))
    assert throttled == sum(1 for r in sandbox.arm.log if r.status == 429) == 1
