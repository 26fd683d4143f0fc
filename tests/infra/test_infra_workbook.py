"""The operators' workbook (infra/workbook/) reads only what the app emits."""

from __future__ import annotations

import json
import re
from pathlib import Path

from functions import telemetry

ROOT = Path(__file__).resolve().parents[2]
WORKBOOK = ROOT / "infra" / "workbook" / "autoattach.workbook.json"


def queries(workbook: dict) -> dict[str, str]:
    return {
        item["content"]["title"]: item["content"]["query"]
        for item in workbook["items"]
        if item["type"] == 3
    }


def unknown_names(query: str) -> set[str]:
    """autoattach.* names and quoted literals a query uses that the app never emits."""
    names = set(re.findall(r"autoattach\.[a-z_]+", query))
    literals = set(re.findall(r'"([^"\n]*)"', query)) - names
    literals = {text for text in literals if text not in ("second",)}  # KQL's own words
    emitted = set(telemetry.ATTRIBUTES) | {telemetry.SPAN_NAME}
    return (names - emitted) | (literals - set(telemetry.OUTCOMES))


def test_the_workbook_shows_what_operators_look_for():
    titles = set(queries(json.loads(WORKBOOK.read_text(encoding="utf-8"))))
    assert titles == {
        "Attachments per hour",
        "Clusters waiting, and why",
        "Time from event to a usable compute (minutes)",
        "Dead letters by reason",
        "ARM throttling (429 answers per 5 minutes)",
    }


def test_every_attribute_and_operation_name_a_workbook_query_uses_is_one_the_app_emits():
    found = queries(json.loads(WORKBOOK.read_text(encoding="utf-8")))
    assert {title: unknown_names(query) for title, query in found.items()} == {
        title: set() for title in found
    }


def test_a_query_reading_an_attribute_the_app_does_not_emit_is_caught():
    query = (
        'AppDependencies\n| where Name == "autoattach.message"\n'
        '| where Properties["autoattach.attach_count"] > 0'
    )
    assert unknown_names(query) == {"autoattach.attach_count"}
    assert unknown_names(
        'AppDependencies | where Properties["autoattach.outcome"] == "waiting"'
    ) == {"waiting"}


def test_infra_deploys_the_workbook_on_the_apps_log_analytics_workspace():
    monitoring = (ROOT / "infra" / "modules" / "monitoring.bicep").read_text(encoding="utf-8")
    assert "loadTextContent('../workbook/autoattach.workbook.json')" in monitoring
    assert "'Microsoft.Insights/workbooks@" in monitoring
    assert json.loads(WORKBOOK.read_text(encoding="utf-8"))["fallbackResourceIds"] == [
        "__LOG_ANALYTICS_WORKSPACE_ID__"
    ]
