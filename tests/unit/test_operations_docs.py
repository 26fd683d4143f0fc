"""docs/operations.md, local.settings.json.example and host.json agree with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from functions import telemetry
from shared import settings as names
from shared.adapters.arm import STATUS_REFUSED
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
KUSTO = re.findall(r"```kusto\n(.*?)```", OPERATIONS, flags=re.DOTALL)
EXAMPLE = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]


def test_the_operations_doc_has_the_queries_an_operator_needs():
    for heading in (
        "### Outcomes per cluster",
        "### Dead letters by reason",
        "### Re-check chains",
        "### Failures over time",
    ):
        assert heading in OPERATIONS
    assert len(KUSTO) >= 4


def test_every_attribute_a_query_reads_is_one_the_code_sets():
    read = {name for query in KUSTO for name in re.findall(r"autoattach\.[a-z_]+", query)}
    assert read  # the queries do read attributes
    assert read <= set(telemetry.ATTRIBUTES) | {telemetry.SPAN_NAME}


def test_every_outcome_a_query_compares_with_is_one_the_code_records():
    literals = {text for query in KUSTO for text in re.findall(r'"([^"\n]*)"', query)}
    literals -= {telemetry.SPAN_NAME, *telemetry.ATTRIBUTES}
    literals = {text for text in literals if not text.startswith("<")}  # placeholders
    assert literals
    # outcomes, and the start of the one warning a query looks for
    assert literals <= set(telemetry.OUTCOMES) | {STATUS_REFUSED}


def test_every_attribute_the_code_sets_is_documented():
    table = {f"`{name}`" for name in telemetry.ATTRIBUTES}
    assert all(name in OPERATIONS for name in table)
    assert all(f"`{outcome}`" in OPERATIONS for outcome in telemetry.OUTCOMES)


def test_the_host_exports_with_open_telemetry_as_the_doc_says():
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    assert host["telemetryMode"] == "OpenTelemetry"
    assert '"telemetryMode": "OpenTelemetry"' in OPERATIONS


def test_the_local_settings_example_names_every_setting_the_app_reads():
    every = {
        *names.REQUIRED_APP_SETTINGS,
        *names.OPTIONAL_APP_SETTINGS,
        *names.HOST_STORAGE_SETTINGS,
        "FUNCTIONS_WORKER_RUNTIME",
    }
    assert every <= set(EXAMPLE)


def test_the_local_settings_example_is_valid_once_its_placeholders_are_filled_in():
    settings = Settings.from_environment(EXAMPLE)
    assert settings.attach_policy_file == "attach-policy.local.json"


def test_the_local_settings_example_holds_no_secret_and_git_ignores_the_real_file():
    text = json.dumps(EXAMPLE).lower()
    for secret in ("accountkey", "sharedaccesskey", "instrumentationkey", "password", "secret="):
        assert secret not in text
    assert "local.settings.json" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_app_settings_the_operations_doc_says_the_deployment_sets_are_in_the_bicep():
    doc = (ROOT / "docs" / "operations.md").read_text()
    table = doc.split("The\ndeployment sets:", 1)[1].split("\n\n", 2)[1]
    named = set(re.findall(r"^\| `([A-Z_]+)`", table, re.MULTILINE))
    bicep = (ROOT / "infra" / "modules" / "functionapp.bicep").read_text()
    assert "OTEL_TRACES_SAMPLER" in named
    assert {name for name in named if not re.search(rf"^\s*{name}:", bicep, re.MULTILINE)} == set()
