"""The Functions app: registers the blueprints in functions/. No logic lives here."""

import azure.functions as func

from functions.queue_triggers import blueprint as queue_triggers
from functions.sweep import blueprint as sweep

app = func.FunctionApp()
app.register_functions(queue_triggers)
app.register_functions(sweep)
