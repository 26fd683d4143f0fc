"""A periodic sweep: asks for a reconcile of every tagged cluster, catching what no event said."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import settings as names
from shared.engine.sweep import request_reconciles
from shared.wiring import current_app

log = logging.getLogger("autoattach.functions")
blueprint = func.Blueprint()


@blueprint.function_name("sweep")
@blueprint.timer_trigger(
    arg_name="timer", schedule=f"%{names.SWEEP_SCHEDULE}%", run_on_startup=False
)
def on_sweep(timer: func.TimerRequest) -> None:
    app = current_app()
    requested = request_reconciles(app)
    log.info("sweep asked for %d cluster reconcile(s)", requested)
