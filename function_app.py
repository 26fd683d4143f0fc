"""The Functions app: registers the blueprints in functions/. No logic lives here."""

import logging
import os

import azure.functions as func

from functions import telemetry
from functions.queue_triggers import blueprint as queue_triggers
from functions.sweep import blueprint as sweep
from shared.wiring import current_app

app = func.FunctionApp()
app.register_functions(queue_triggers)
app.register_functions(sweep)

if os.environ.get("FUNCTIONS_WORKER_RUNTIME"):
    # In the Functions host: telemetry first (when APPLICATIONINSIGHTS_CONNECTION_STRING is set),
    # so that start-up is recorded too; then validate settings and the attach policy once, at
    # start, so a bad deployment fails loudly here instead of on every message.
    telemetry.configure_from_environment()
    # The Azure SDKs log every HTTP request and response (headers included) at INFO; in the host
    # that is CPU per request and noise beside the outcome spans. Their warnings still show.
    logging.getLogger("azure").setLevel(logging.WARNING)
    current_app()
