"""Thin Azure Functions entry points: parse, call the shared library, settle."""
