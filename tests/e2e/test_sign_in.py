"""Nobody signed in to Azure: every console command says so in one line, with how to sign in,
and exits 3; doctor still makes the checks it can make without Azure and says `cannot tell` for
the others. The sign-in is DefaultAzureCredential limited to the Azure CLI, with no `az` on the
PATH: exactly what a fresh machine shows, and nothing is sent anywhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import simple_document, write_json

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
AKS = (
    f"/subscriptions/{SUB}/resourceGroups/rg-platform/providers/Microsoft.ContainerService/"
    "managedClusters/aks-ml"
)


@pytest.fixture
def nobody_signed_in(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("AZURE_", "MSI_", "IDENTITY_", "SERVICEBUS_CONNECTION")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def settings_file(tmp_path) -> Path:
    """A deployed app's settings as `az functionapp config appsettings list -o json` prints them."""
    policy = simple_document()["policy"]
    values = {
        "SERVICEBUS_CONNECTION__fullyQualifiedNamespace": "sb-autoattach.servicebus.windows.net",
        "CLUSTER_EVENTS_QUEUE": "cluster-events",
        "EXTENSION_EVENTS_QUEUE": "extension-events",
        "NOTIFICATION_TOPIC_ENDPOINT": "https://egt.westeurope-1.eventgrid.azure.net/api/events",
        "SWEEP_SCHEDULE": "0 */15 * * * *",
        "ATTACH_POLICY": json.dumps(policy),
        "AzureWebJobsStorage__blobServiceUri": "https://stautoattach.blob.core.windows.net",
    }
    listed = [{"name": k, "value": v, "slotSetting": False} for k, v in values.items()]
    return write_json(tmp_path / "app-settings.json", listed)


SIGN_IN_LINE = (
    "nobody is signed in to Azure: sign in with `az login` (or set AZURE_CLIENT_ID, "
    "AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal)"
)


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "--cluster", AKS],
        ["status", "--cluster", AKS],
        ["status"],
        ["reconcile", "--cluster", AKS],
    ],
    ids=["plan", "status-cluster", "status", "reconcile"],
)
def test_a_command_run_by_nobody_signed_in_says_so_in_one_line_and_exits_3(
    run_cli, nobody_signed_in, settings_file, command
):
    code, out, err = run_cli(*command, "--settings", str(settings_file))
    assert code == 3
    assert out == ""
    assert err.strip() == f"autoattach {command[0]}: {SIGN_IN_LINE}"


def test_doctor_run_by_nobody_signed_in_checks_what_it_can_and_cannot_tell_the_rest(
    run_cli, nobody_signed_in, settings_file
):
    code, out, err = run_cli("doctor", "--settings", str(settings_file), "--output", "json")
    assert code == 3
    assert "DefaultAzureCredential" not in out + err
    checks = json.loads(out)["checks"]
    assert [(c["area"], c["status"]) for c in checks[:2]] == [
        ("settings", "ok"),
        ("policy", "ok"),
    ]
    rest = checks[2:]
    assert {c["area"] for c in rest} == {
        "deployment", "workspaces", "permissions", "events", "queues", "notifications",
        "clusters",
    }  # fmt: skip
    assert all(c["status"] == "cannot tell" and c["detail"] == SIGN_IN_LINE for c in rest)
    assert not [c for c in checks if c["status"] == "problem"]
