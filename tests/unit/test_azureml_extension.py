import pytest

from shared.decisions.arm_id import ResourceId
from shared.decisions.azureml_extension import install_refusal, relay_named_by
from shared.decisions.model import ExtensionPolicy

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RELAY = SUB + "/resourceGroups/rg-edge/providers/Microsoft.Relay/namespaces/arcedgerelay"
ARC = ResourceId.parse(
    SUB + "/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/arc-edge"
)
AKS = ResourceId.parse(
    SUB + "/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/aks"
)
KEY = "relayserver.hybridConnectionResourceID"


def test_the_relay_is_the_namespace_of_the_hybrid_connection_the_settings_name():
    settings = {KEY: RELAY + "/hybridConnections/arc-edge", "relayserver.enabled": "true"}
    assert relay_named_by(settings) == ResourceId.parse(RELAY)


def test_the_relay_id_is_compared_without_regard_to_case():
    settings = {KEY: (RELAY + "/HybridConnections/arc-edge").upper()}
    assert relay_named_by(settings) == ResourceId.parse(RELAY)


@pytest.mark.parametrize(
    "settings",
    [
        None,
        {},
        {"relayserver.enabled": "true"},
        {KEY: ""},
        {KEY: "not an id"},
        {KEY: RELAY},  # the namespace itself is not a hybrid connection
        {KEY: SUB + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s"},
    ],
)
def test_settings_that_name_no_hybrid_connection_name_no_relay(settings):
    assert relay_named_by(settings) is None


def test_autoattach_does_not_install_on_arc_and_says_which_command_does():
    policy = ExtensionPolicy(settings=(("enableTraining", "true"), ("note", "a b")))
    message = install_refusal(ARC, policy)
    assert message is not None
    assert message.startswith("the policy installs the Azure ML extension only on AKS")
    assert "Arc cluster arc-edge" in message
    assert (
        "az k8s-extension create --cluster-type connectedClusters --cluster-name arc-edge "
        "--resource-group rg-edge --subscription 0b1f6471-1bf0-4dda-aec3-cb9272f09590 "
        "--name azureml --extension-type Microsoft.AzureML.Kubernetes --release-train stable "
        "--config enableTraining=true 'note=a b'"
    ) in message
    assert "creates its Azure Relay" in message


def test_autoattach_may_install_on_aks():
    assert install_refusal(AKS, ExtensionPolicy()) is None
