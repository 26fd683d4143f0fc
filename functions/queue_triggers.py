"""Service Bus triggers for cluster-events and extension-events.

Settling is done here, not by the host (``auto_complete_messages=False``): a re-check is a
scheduled copy plus complete, a bad message is dead-lettered with its reason. Each message handled
is one span (functions/telemetry.py) carrying its outcome, when telemetry is on. A message whose
application properties autoattach reads (its re-check count and chain) hold a value autoattach never
writes is dead-lettered as MalformedMessage before it is handled, as a malformed body is.
"""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.servicebus as servicebus

from functions import telemetry
from shared import settings as names
from shared.adapters import meter
from shared.decisions.events import MalformedMessage
from shared.engine.handling import DeadLetter, InstallPolling, Outcome, handle_message
from shared.engine.settlement import (
    MessageActions,
    attempt_of,
    chain_of,
    check_properties,
    event_id_of,
    message_body,
    settle,
)
from shared.wiring import App, current_app

log = logging.getLogger("autoattach.functions")
blueprint = func.Blueprint()


def process(
    message: servicebus.ServiceBusReceivedMessage, actions: MessageActions, queue: str
) -> None:
    app = current_app()
    with telemetry.message_span(queue, message) as span, meter.tally() as seen:
        try:
            outcome = decide(message, app)
        except Exception as error:
            # A bug, not a verdict on the message: let Service Bus deliver it again.
            log.exception("event %s: unexpected failure; abandoning", event_id_of(message))
            span.abandoned(error)
            actions.abandon(message)
            return
        span.outcome(outcome)
        span.saw(seen)
        settle(message, span.watch(actions), outcome, queue=queue, scheduler=app.scheduler)


def decide(message: servicebus.ServiceBusReceivedMessage, app: App) -> Outcome:
    try:
        check_properties(message)
    except MalformedMessage as error:
        return DeadLetter(error.reason, str(error))
    return handle_message(
        message_body(message),
        attempt=attempt_of(message),
        services=app.services,
        recheck_delay_seconds=app.settings.recheck_delay_seconds,
        chain=chain_of(message),
        now=app.scheduler.now(),
        install_polling=InstallPolling(
            first_seconds=app.settings.install_poll_first_seconds,
            share=app.settings.install_poll_percent_of_wait / 100,
        ),
    )


@blueprint.function_name("cluster_events")
@blueprint.service_bus_queue_trigger(
    arg_name="message",
    queue_name=f"%{names.CLUSTER_EVENTS_QUEUE}%",
    connection=names.SERVICEBUS_CONNECTION,
    auto_complete_messages=False,
)
def on_cluster_event(
    message: servicebus.ServiceBusReceivedMessage,
    message_actions: servicebus.ServiceBusMessageActions,
) -> None:
    process(message, message_actions, current_app().settings.cluster_events_queue)


@blueprint.function_name("extension_events")
@blueprint.service_bus_queue_trigger(
    arg_name="message",
    queue_name=f"%{names.EXTENSION_EVENTS_QUEUE}%",
    connection=names.SERVICEBUS_CONNECTION,
    auto_complete_messages=False,
)
def on_extension_event(
    message: servicebus.ServiceBusReceivedMessage,
    message_actions: servicebus.ServiceBusMessageActions,
) -> None:
    process(message, message_actions, current_app().settings.extension_events_queue)
