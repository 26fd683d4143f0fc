"""Application properties are read as strictly as bodies: the re-check count and chain a message
carries come from its autoattach-attempt and autoattach-chain properties, and a value autoattach
never writes ends the message as a dead letter with its reason, before any Azure call."""

import json

import pytest

from functions import telemetry
from sandbox.scenario import arm_event
from tests.e2e.conftest import scenario_from, simple_document
from tests.e2e.test_telemetry import message_spans, spans  # noqa: F401 (a fixture)

CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


def deliver_with(sandbox_for, properties):
    """One event for a cluster whose extension is still installing (so it would be re-checked),
    carrying these application properties, delivered through the real trigger."""
    document = simple_document()
    sandbox = sandbox_for(scenario_from(document, []))
    body = json.dumps(arm_event(CLUSTER_WRITE, document["clusters"][0]["id"], event_id="evt-p"))
    queue = sandbox.bus.queues["cluster-events"]
    queue.send(
        body.encode(), message_id="evt-p#0123456789ab#recheck-1", application_properties=properties
    )
    return sandbox, queue, sandbox.deliver_pending()


@pytest.mark.parametrize(
    "value",
    [-300, -1, "-1", "abc", "", "1e3", 2.5, True, b"\xff\xfe"],
    ids=["-300", "-1", "text -1", "abc", "empty", "1e3", "2.5", "true", "binary"],
)
def test_a_malformed_attempt_property_is_dead_lettered_at_once_naming_the_property_and_value(
    sandbox_for, value
):
    sandbox, queue, report = deliver_with(sandbox_for, {"autoattach-attempt": value})

    assert [d.outcome for d in report.deliveries] == ["dead-lettered"]  # not 300 at no delay
    (letter,) = queue.dead_letters
    assert letter.dead_letter_reason == "MalformedMessage"
    assert "autoattach-attempt" in letter.dead_letter_description
    assert repr(value) in letter.dead_letter_description
    assert queue.active == []
    assert sandbox.arm.log == []  # decided before any Azure call


@pytest.mark.parametrize(
    "value",
    ["x" * 200, "abc#recheck-9", "0123456789AB", "", b"\xff"],
    ids=["too long", "with #", "upper case", "empty", "binary"],
)
def test_a_malformed_chain_property_is_dead_lettered_at_once_naming_the_property(
    sandbox_for, value
):
    _, queue, report = deliver_with(
        sandbox_for, {"autoattach-attempt": 1, "autoattach-chain": value}
    )

    assert [d.outcome for d in report.deliveries] == ["dead-lettered"]
    (letter,) = queue.dead_letters
    assert letter.dead_letter_reason == "MalformedMessage"
    assert "autoattach-chain" in letter.dead_letter_description


def test_an_attempt_sent_as_text_digits_still_counts_and_the_chain_carries_on(sandbox_for):
    # the portal's Service Bus Explorer sends custom properties as strings
    _, queue, report = deliver_with(
        sandbox_for, {"autoattach-attempt": "3", "autoattach-chain": "0123456789ab"}
    )

    assert report.deliveries[0].outcome == "scheduled"
    assert report.deliveries[1].label.startswith("re-check 4 of")
    assert queue.dead_letters == []


def test_telemetry_records_a_message_with_malformed_properties_as_a_dead_letter_not_a_crash(
    sandbox_for,
    spans,  # noqa: F811
):
    _, _, report = deliver_with(
        sandbox_for, {"autoattach-attempt": b"\xff", "autoattach-chain": b"\xfe"}
    )

    assert [d.outcome for d in report.deliveries] == ["dead-lettered"]
    (span,) = message_spans(spans)
    assert span.attributes[telemetry.OUTCOME] == "dead-lettered"
    assert span.attributes[telemetry.REASON] == "MalformedMessage"
    assert span.attributes[telemetry.EVENT_ID] == "evt-p"
    assert telemetry.ATTEMPT not in span.attributes
    assert span.attributes[telemetry.SETTLEMENT] == "deadletter"
