import pytest

from sandbox.credential import SandboxCredential
from shared import settings as names
from shared.decisions.policy import PolicyError
from shared.settings import Settings, SettingsError
from shared.wiring import build_app

VALID = {
    names.SERVICEBUS_NAMESPACE: "sb-autoattach.servicebus.windows.net",
    names.CLUSTER_EVENTS_QUEUE: "cluster-events",
    names.EXTENSION_EVENTS_QUEUE: "extension-events",
    names.NOTIFICATION_TOPIC_ENDPOINT: "https://topic.westeurope-1.eventgrid.azure.net/api/events",
    names.SWEEP_SCHEDULE: "0 */15 * * * *",
    names.ATTACH_POLICY: '{"workspaces": []}',
    names.HOST_STORAGE_ACCOUNT: "stautoattach",
}


def test_valid_settings_fill_in_the_documented_defaults():
    settings = Settings.from_environment(VALID)
    assert settings.tag_key == "azureml-attach"
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.recheck_delay_seconds == 60
    assert (settings.install_poll_first_seconds, settings.install_poll_percent_of_wait) == (15, 5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({names.CLUSTER_EVENTS_QUEUE: ""}, "missing app settings: CLUSTER_EVENTS_QUEUE"),
        ({names.NOTIFICATION_TOPIC_ENDPOINT: "http://topic"}, "must be an https:// URL"),
        ({names.RECHECK_DELAY_SECONDS: "soon"}, "whole number of seconds"),
        ({names.RECHECK_DELAY_SECONDS: "0"}, "must be positive"),
        ({names.INSTALL_POLL_FIRST_SECONDS: "0"}, "INSTALL_POLL_FIRST_SECONDS must be positive"),
        ({names.INSTALL_POLL_FIRST_SECONDS: "61"}, "at most RECHECK_DELAY_SECONDS"),
        ({names.INSTALL_POLL_PERCENT_OF_WAIT: "5%"}, "INSTALL_POLL_PERCENT_OF_WAIT must be a"),
        ({names.INSTALL_POLL_PERCENT_OF_WAIT: "101"}, "between 0 and 100"),
        ({names.INSTALL_POLL_PERCENT_OF_WAIT: "-1"}, "between 0 and 100"),
        ({names.ATTACH_POLICY_FILE: "/etc/policy.json"}, "set exactly one of ATTACH_POLICY"),
        ({names.ATTACH_POLICY: ""}, "set exactly one of ATTACH_POLICY"),
    ],
)
def test_bad_settings_are_refused_at_start_naming_the_setting(change, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment({**VALID, **change})


def test_a_policy_file_that_cannot_be_read_is_named_in_the_error(tmp_path):
    env = {**VALID, names.ATTACH_POLICY: "", names.ATTACH_POLICY_FILE: str(tmp_path / "no.json")}
    with pytest.raises(SettingsError, match=r"no\.json: cannot read it"):
        Settings.from_environment(env).policy_text()


def test_an_invalid_policy_stops_the_app_from_being_built():
    settings = Settings.from_environment({**VALID, names.ATTACH_POLICY: '{"workspaces": [1]}'})
    with pytest.raises(PolicyError, match=r"workspaces\[0\] must be an object"):
        build_app(settings, SandboxCredential(), scheduler=None)


def test_the_ledger_lives_in_the_apps_own_storage_account_by_its_public_endpoint():
    assert Settings.from_environment(VALID).ledger_blob_endpoint == (
        "https://stautoattach.blob.core.windows.net"
    )


def test_the_blob_service_uri_of_the_host_storage_wins_over_the_account_name():
    env = {**VALID, names.HOST_STORAGE_BLOB_URI: "https://st.blob.core.usgovcloudapi.net/"}
    assert Settings.from_environment(env).ledger_blob_endpoint == (
        "https://st.blob.core.usgovcloudapi.net"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({names.HOST_STORAGE_ACCOUNT: ""}, "AzureWebJobsStorage__blobServiceUri"),
        ({names.HOST_STORAGE_ACCOUNT: "Not_An_Account"}, "storage account name"),
        ({names.HOST_STORAGE_BLOB_URI: "http://st.blob.core.windows.net"}, "https://"),
    ],
)
def test_a_missing_or_malformed_host_storage_setting_stops_the_app_at_start(change, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment({**VALID, **change})


# ---- Azurite, Microsoft's storage emulator, for local runs (docs/operations.md) -------------

LOCAL_AZURITE = {
    **{k: v for k, v in VALID.items() if k != names.HOST_STORAGE_ACCOUNT},
    names.HOST_STORAGE: "UseDevelopmentStorage=true",
}


def test_use_development_storage_puts_the_ledger_in_azurites_blob_service_over_plain_http():
    settings = Settings.from_environment(LOCAL_AZURITE)
    assert settings.ledger_blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"


@pytest.mark.parametrize("value", ["usedevelopmentstorage=TRUE", " UseDevelopmentStorage=true; "])
def test_use_development_storage_is_read_as_the_host_reads_a_connection_string(value):
    settings = Settings.from_environment({**LOCAL_AZURITE, names.HOST_STORAGE: value})
    assert settings.ledger_blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"


@pytest.mark.parametrize("marker", ["WEBSITE_INSTANCE_ID", "CONTAINER_NAME"])
def test_use_development_storage_is_refused_at_start_in_a_deployed_app(marker):
    env = {**LOCAL_AZURITE, marker: "0f3c2b9e8d7a6c5b4a3928171605f4e3d2c1b0a9"}
    with pytest.raises(SettingsError, match=rf"only on your machine.*{marker} is set"):
        Settings.from_environment(env)


@pytest.mark.parametrize("name", [names.HOST_STORAGE_BLOB_URI, names.HOST_STORAGE_ACCOUNT])
def test_use_development_storage_beside_an_identity_based_storage_setting_is_refused(name):
    env = {**LOCAL_AZURITE, name: "https://st.blob.core.windows.net" if "Uri" in name else "st"}
    with pytest.raises(SettingsError, match=rf"either AzureWebJobsStorage=.* or {name}"):
        Settings.from_environment(env)


def test_a_storage_connection_string_with_a_key_is_refused_without_repeating_it():
    key = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWFwcGVhcg=="
    value = f"DefaultEndpointsProtocol=https;AccountName=st;AccountKey={key}"
    with pytest.raises(SettingsError, match="AzureWebJobsStorage__blobServiceUri") as refused:
        Settings.from_environment({**VALID, names.HOST_STORAGE: value})
    assert key not in str(refused.value) and "AccountName=st" not in str(refused.value)


def test_development_storage_with_a_proxy_uri_is_refused_as_not_supported():
    value = "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://10.0.0.4"
    with pytest.raises(SettingsError, match="DevelopmentStorageProxyUri"):
        Settings.from_environment({**LOCAL_AZURITE, names.HOST_STORAGE: value})


def test_the_app_built_for_azurite_signs_the_ledger_with_the_emulators_published_account():
    app = build_app(Settings.from_environment(LOCAL_AZURITE), SandboxCredential())
    client = app.services.ledger._container  # type: ignore[attr-defined]
    assert client.url.startswith("http://127.0.0.1:10000/devstoreaccount1/")
    assert client.credential.account_name == "devstoreaccount1"


def _start_functions_app(env_changes):
    """Import function_app as the Functions worker does when it indexes the functions."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTACH_", "APPLICATIONINS"))}
    env.update({**VALID, "FUNCTIONS_WORKER_RUNTIME": "python", **env_changes})
    env = {k: v for k, v in env.items() if v is not None}
    done = subprocess.run(
        [sys.executable, "-c", "import function_app"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done


BAD_IDENTITY = (
    '{"workspaces": [{"workspace": "/subscriptions/s/resourceGroups/r/providers/'
    'Microsoft.MachineLearningServices/workspaces/w", "clusters": ["/subscriptions/s"], '
    '"computes": [{"identity": "user_assigned"}]}]}'
)


def test_the_app_refuses_to_start_on_a_policy_typo_naming_the_setting_and_the_path():
    done = _start_functions_app({names.ATTACH_POLICY: BAD_IDENTITY})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("shared.decisions.policy.PolicyError: app setting ATTACH_POLICY: ")
    assert "workspaces[0].computes[0].identity" in last
    assert "KeyError" not in done.stderr


def test_a_policy_file_at_fault_is_named_by_its_setting_and_path(tmp_path):
    policy = tmp_path / "attach-policy.json"
    policy.write_text(BAD_IDENTITY)
    done = _start_functions_app({names.ATTACH_POLICY: None, names.ATTACH_POLICY_FILE: str(policy)})
    assert f"ATTACH_POLICY_FILE={policy}: workspaces[0].computes[0].identity" in done.stderr
