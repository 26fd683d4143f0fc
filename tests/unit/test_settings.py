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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({names.CLUSTER_EVENTS_QUEUE: ""}, "missing app settings: CLUSTER_EVENTS_QUEUE"),
        ({names.NOTIFICATION_TOPIC_ENDPOINT: "http://topic"}, "must be an https:// URL"),
        ({names.RECHECK_DELAY_SECONDS: "soon"}, "whole number of seconds"),
        ({names.RECHECK_DELAY_SECONDS: "0"}, "must be positive"),
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
