"""The sandbox report splits ARM requests per pass into reads, polls and writes."""

from __future__ import annotations

import re

from sandbox.report import describe_world, json_report
from tests.e2e.conftest import ready_document, scenario_from

# The status URLs the providers give: .../locations/{r}/{computeOperationsStatus|operations|
# operationStatuses}/{id}, and a cluster extension's own .../extensions/{e}/operations/{id}.
STATUS_URL = re.compile(
    r"/locations/[^/]+/(computeOperationsStatus|operations|operationStatuses)/"
    r"|/extensions/[^/]+/operations/",
    re.IGNORECASE,
)


def kinds_in(log) -> dict[str, int]:
    found = {"reads": 0, "polls": 0, "writes": 0}
    for request in log:
        if request.method == "GET" and STATUS_URL.search(request.path):
            found["polls"] += 1
        elif request.method == "GET":
            found["reads"] += 1
        else:
            found["writes"] += 1
    return found


def test_each_pass_reports_its_reads_polls_and_writes_apart(sandbox_for):
    sandbox = sandbox_for(scenario_from(ready_document(realistic_timing=True)))
    first = sandbox.run_pass(0)
    first_kinds = kinds_in(sandbox.arm.log)
    second = sandbox.run_pass(1)
    second_kinds = kinds_in(sandbox.arm.log)
    assert first_kinds["writes"] > 0
    assert (first.reads, first.polls, first.writes) == tuple(first_kinds.values())
    assert (second.reads, second.polls, second.writes) == tuple(second_kinds.values())

    report = json_report(sandbox, [first, second])
    assert report["passes"] == [first_kinds, second_kinds]
    assert report["requests"] == {k: first_kinds[k] + second_kinds[k] for k in first_kinds}
    printed = describe_world(sandbox, [first, second])
    assert (
        f"Pass 1: {len(first.deliveries)} deliveries, ARM reads {first.reads}, "
        f"polls {first.polls}, writes {first.writes}"
    ) in printed
