"""The engine: drives I/O in order (observe, reconcile, settle, re-check, heal, sweep)
through the ports."""
