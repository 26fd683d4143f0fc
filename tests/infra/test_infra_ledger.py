"""The cluster ledger's storage: the app's own account, reached by the setting the code reads."""

from shared import settings
from tests.infra.bicep_model import body, template, text, variable


def test_the_host_settings_give_the_code_the_blob_endpoint_of_the_apps_own_storage():
    host = variable(template("modules/functionapp.bicep"), "hostSettings")
    assert host[settings.HOST_STORAGE_BLOB_URI] == "storageBlobEndpoint"
    # The account-name form assumes the public cloud; the service URIs carry the cloud's suffix.
    assert settings.HOST_STORAGE_ACCOUNT not in host


def test_the_app_identity_may_lease_and_write_blobs_in_its_own_storage_account():
    assignment = body(template("modules/app-access.bicep")["resources"]["hostStorage"])
    assert text(assignment["scope"]) == '"storage"'
    assert "storageBlobDataOwner" in text(assignment["properties"]["roleDefinitionId"])
