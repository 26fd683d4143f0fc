"""A cold instance's first message: from `import function_app` to a new cluster's first ARM write
(its managed namespace), it imports no module that path does not use (issue 22, goal 4). The
figure itself (CPU) is the bench's; here only what was imported, never a time."""

from __future__ import annotations

from benchmarks.cpu import NOT_ON_THE_PATH, cold_start


def test_a_new_clusters_first_event_reaches_its_namespace_write_without_azure_ai_ml_or_aiohttp():
    assert {"aiohttp", "azure.ai.ml"} <= set(NOT_ON_THE_PATH)
    cold = cold_start(runs=1)
    method, path = cold.first_write.split(" ", 1)
    assert method == "PUT" and "/managedNamespaces/" in path
    assert cold.unused_imported == []
