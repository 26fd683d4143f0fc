"""``autoattach doctor``: read-only checks of a deployment, one module per area.

Each area module holds pure functions from plain data (what the reads in ``reads.py`` and the
product's own adapters return) to ``Check`` lines (``report.py``); ``run.py`` does the reading and
calls them. Nothing here writes to Azure.
"""
