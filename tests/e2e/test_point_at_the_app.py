"""Pointing the console at a deployed app: `--app <function app id>` reads the app's settings
through ARM (POST .../config/appsettings/list, served by the ARM double), as does the app that
`eval "$(azd env get-values)"` names; a read-only command needs only what it reads. Run in
"Azure" mode against the local double: the operator's sign-in is the sandbox's credential."""

from __future__ import annotations

import json
import os

import pytest

from sandbox.credential import SandboxCredential
from tests.e2e.conftest import ready_document, scenario_from

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
AKS = (
    f"/subscriptions/{SUB}/resourceGroups/rg-platform/providers/Microsoft.ContainerService/"
    "managedClusters/aks-ml"
)
APP = f"/subscriptions/{SUB}/resourceGroups/rg-autoattach/providers/Microsoft.Web/sites/func-aa"


@pytest.fixture
def deployed_app(sandbox_for, monkeypatch):
    """A sandbox whose world holds autoattach's Function App (its settings: the sandbox's own);
    the environment holds none of the app's settings; ARM is the double."""
    document = ready_document()
    document["function_apps"] = [{"id": APP, "location": "westeurope"}]
    sandbox = sandbox_for(scenario_from(document, []))
    for name in list(os.environ):
        if name in sandbox.app_settings() or name.startswith(("AZURE_", "SERVICEBUS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ARM_ENDPOINT", sandbox.arm.base_url)
    monkeypatch.setattr("console.signin.azure_credential", lambda *_: SandboxCredential())
    return sandbox


def test_plan_with_app_reads_the_deployed_apps_settings_through_arm(run_cli, deployed_app):
    code, out, err = run_cli("plan", "--app", APP, "--cluster", AKS, "-o", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["cluster"] == AKS
    assert {a["workspace"].rsplit("/", 1)[-1] for a in report["attachments"]} == {
        "ws-research",
        "ws-prod",
    }


def test_after_azd_env_get_values_status_finds_the_app_azd_deployed(
    run_cli, deployed_app, monkeypatch
):
    # what `eval "$(azd env get-values)"` sets (infra/main.bicep outputs), and nothing else
    for name, value in {
        "AZURE_SUBSCRIPTION_ID": SUB,
        "AZURE_RESOURCE_GROUP": "rg-autoattach",
        "AZURE_FUNCTION_APP_NAME": "func-aa",
        "SERVICEBUS_NAMESPACE": "sb-autoattach.servicebus.windows.net",
        "NOTIFICATION_TOPIC_ENDPOINT": "https://egt.westeurope-1.eventgrid.azure.net/api/events",
        "WATCHED_SUBSCRIPTIONS": SUB,
    }.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli("status", "--cluster", AKS)
    assert code == 0, err
    assert "aks-ml" in out


def test_a_read_only_command_needs_no_queue_names_schedule_or_service_bus(
    run_cli, deployed_app, monkeypatch
):
    settings = deployed_app.app_settings()
    for name in ("ATTACH_POLICY", "AzureWebJobsStorage__blobServiceUri", "ATTACH_TAG_KEY"):
        monkeypatch.setenv(name, settings[name])
    code, out, err = run_cli("plan", "--cluster", AKS)
    assert code == 0, err
    assert out.startswith("Cluster aks-ml")


def test_reconcile_without_the_service_bus_namespace_names_it_and_how_to_point_at_the_app(
    run_cli, deployed_app, monkeypatch
):
    settings = deployed_app.app_settings()
    for name in ("ATTACH_POLICY", "AzureWebJobsStorage__blobServiceUri"):
        monkeypatch.setenv(name, settings[name])
    code, _, err = run_cli("reconcile", "--cluster", AKS)
    assert code == 2
    assert "SERVICEBUS_CONNECTION__fullyQualifiedNamespace" in err
    assert "--app <function app resource id>" in err


def test_an_app_that_does_not_exist_or_is_not_a_function_app_is_named(run_cli, deployed_app):
    missing = APP.replace("func-aa", "func-gone")
    code, _, err = run_cli("status", "--app", missing)
    assert (code, err.strip()) == (2, f"autoattach status: --app {missing}: no such Function App")
    code, _, err = run_cli("plan", "--app", AKS, "--cluster", AKS)
    assert code == 2 and "not a Function App (expected a Microsoft.Web/sites resource id" in err


def test_doctor_with_app_checks_the_deployed_settings_and_finds_its_resource_group(
    run_cli, deployed_app
):
    _, out, _ = run_cli("doctor", "--app", APP, "--output", "json")
    checks = json.loads(out)["checks"]
    assert checks[0] == {
        "area": "settings",
        "subject": "app settings",
        "status": "ok",
        "detail": "all present and well-formed",
        "fix": "",
    }
    deployment = [c for c in checks if c["area"] == "deployment"]
    assert deployment and all(c["status"] == "ok" for c in deployment), deployment
