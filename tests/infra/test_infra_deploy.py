"""The infrastructure deploys the first time, in any region, cloud and environment name, and
grants nothing it need not (issue 11)."""

from __future__ import annotations

import re

from tests.infra.bicep_model import (
    INFRA,
    bicep_files,
    body,
    module_using,
    resources_of_type,
    template,
    text,
    variable,
)

ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"


def _loop_array(module: dict) -> str:
    return module["config"]["loop_type"]["detail"]["array_name"]


def test_each_custom_role_is_created_in_and_assignable_only_in_its_own_subscription():
    # Removing a subscription then never shrinks assignableScopes while assignments remain
    # (RoleScopeBeingRemovedContainsAssignments), and no definition lives outside its scopes.
    roles = template("modules/custom-roles.bicep")
    for definition in resources_of_type(roles, ROLE_DEFINITIONS).values():
        scopes = body(definition)["properties"]["assignableScopes"]
        assert text(scopes) == text(
            [
                {
                    "operator": {
                        "type": "property_accessor",
                        "operands": {
                            "operand_1": {
                                "function": {
                                    "type": "subscription",
                                    "parameters": {"subscription_id": None},
                                }
                            },
                            "operand_2": "id",
                        },
                    }
                }
            ]
        )
    module = module_using(template("main.bicep"), "custom-roles.bicep")
    assert _loop_array(module) == "roleSubscriptionIds"
    assert "subscription" in text(body(module)["scope"])


def test_deployments_at_subscription_scope_are_named_per_environment_and_region():
    main = template("main.bicep")
    for name, module in main["modules"].items():
        config = body(module)
        scope = text(config.get("scope"))
        if scope in ('"group"',) or "resource_group" in scope:
            continue
        assert "${token}" in config["name"], (name, config["name"])
    watched = template("modules/watched-subscription.bicep")
    for name, module in watched["modules"].items():
        assert "${token}" in body(module)["name"], name
    assert "location" in text(variable(main, "token"))


def _cleaned(tpl: dict, name: str, source: str) -> None:
    """``name`` is union(filter(<source>, x => !empty(x)), []): blanks and duplicates dropped."""
    function = variable(tpl, name)["function"]
    assert function["type"] == "union", name
    kept = function["parameters"]["arg_1"]["function"]
    assert kept["type"] == "filter" and kept["parameters"]["input_array"] == source, name
    assert '"type": "not"' in text(kept) and '"type": "empty"' in text(kept), name
    listed = variable(tpl, source)
    assert "split" in text(listed["loop_type"]) and "trim" in text(listed["config"]), source


def test_blank_trailing_or_repeated_subscription_and_workspace_ids_are_dropped():
    main = template("main.bicep")
    _cleaned(main, "keptSubscriptionIds", "listedSubscriptionIds")
    _cleaned(main, "workspaceIds", "listedWorkspaceIds")
    _cleaned(main, "assignableIdentityIds", "listedComputeIdentityIds")
    _cleaned(main, "secretNames", "listedSecretNames")
    _cleaned(main, "ownerIds", "listedOwnerIds")
    watched = text(variable(main, "watchedSubscriptionIds"))
    assert "keptSubscriptionIds" in watched and "subscriptionId" in watched
    for derived in ("workspaceSubscriptionIds", "workspaceGroupIds", "roleSubscriptionIds"):
        assert variable(main, derived)["function"]["type"] == "union", derived


def test_names_from_the_environment_name_use_only_characters_every_resource_accepts():
    main = template("main.bicep")
    slug = text(variable(main, "envSlug"))
    for char in ("_", ".", "(", ")"):
        assert f'"{char}"' in slug, char
    assert "to_lower" in slug
    assert body(main["resources"]["group"])["name"] == "rg-${envSlug}"
    watch = body(module_using(main, "watched-subscription.bicep"))
    assert watch["params"]["systemTopicName"] == "autoattach-arm-events-${envSlug}"
    default = main["parameters"]["eventsResourceGroupName"]["default"]
    assert all(f"'{c}'" in default for c in ("_", ".", "(", ")")), default
    # environmentName itself appears only in the token, the slug, the tags and that default.
    for name, value in main["variables"].items():
        if name not in ("token", "envSlug", "tags"):
            assert "environmentName" not in text(value), name
    for name, module in main["modules"].items():
        assert "environmentName" not in text(body(module)), name


def test_zone_redundancy_is_a_parameter_off_by_default():
    main = template("main.bicep")
    assert main["parameters"]["zoneRedundant"]["default"] is False
    for file in ("modules/storage.bicep", "modules/servicebus.bicep"):
        assert template(file)["parameters"]["zoneRedundant"]["default"] is False
        assert body(module_using(main, file.split("/")[1]))["params"]["zoneRedundant"] == (
            "zoneRedundant"
        )
    sku = body(template("modules/storage.bicep")["resources"]["account"])["sku"]["name"]
    assert "Standard_LRS" in text(sku) and "zoneRedundant" in text(sku)
    namespace = body(template("modules/servicebus.bicep")["resources"]["namespace"])
    assert "zoneRedundant" in text(namespace["properties"]["zoneRedundant"])


def test_no_public_cloud_suffix_is_written_into_the_bicep():
    for path in bicep_files():
        content = path.read_text()
        for suffix in ("windows.net", "azure.net", "azure.com"):
            assert suffix not in content, f"{path.name} assumes the public cloud: {suffix}"
    host = variable(template("modules/functionapp.bicep"), "hostSettings")
    assert "AzureWebJobsStorage__accountName" not in host
    assert {"AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri"} <= set(
        host
    )
    network = template("modules/network.bicep")
    zones = text(variable(network, "hubEndpoints"))
    assert "serviceBusSuffix" in zones and "eventGridSuffix" in zones
    assert "environment().suffixes.storage" in zones
    vault_zone = text(variable(network, "keyVaultZone"))
    assert '"keyvaultDns"' in vault_zone and "privatelink.vaultcore." in vault_zone


def test_the_app_may_read_queue_counts_for_scaling_on_its_queues_only():
    access = template("modules/app-access.bicep")
    (owner,) = [
        r for r in resources_of_type(access, ROLE_ASSIGNMENTS).values() if "queue" in text(r)
    ]
    assert "serviceBusDataOwner" in text(body(owner)["properties"]["roleDefinitionId"])
    assert body(owner)["scope"] == {
        "operator": {
            "type": "index_accessor",
            "operands": {"operand_1": "queues", "operand_2": "i"},
        }
    }


def test_tag_writes_reach_the_cluster_queue_only_for_clusters():
    tpl = template("modules/event-subscriptions.bicep")
    filters = body(tpl["resources"]["clusterEvents"])["properties"]["filter"]["advancedFilters"]
    (subject,) = [f for f in filters if f["key"] == "subject"]
    assert subject["operatorType"] == "StringContains"
    values = variable(tpl, subject["values"])
    assert {v.lower() for v in values} == {
        "/providers/microsoft.containerservice/managedclusters/",
        "/providers/microsoft.kubernetes/connectedclusters/",
    }
    assert all(len(v) <= 512 for v in values)


def test_no_comment_says_event_grid_sends_the_event_id_as_the_message_id():
    for path in bicep_files():
        content = " ".join(path.read_text().split())
        assert not re.search(r"same id \(the message id", content), path.name
    subscriptions = " ".join((INFRA / "modules" / "event-subscriptions.bicep").read_text().split())
    assert "internal id of its own (not the event id)" in subscriptions


def test_identities_are_assignable_one_by_one_never_subscription_wide():
    actions = variable(template("modules/custom-roles.bicep"), "clusterOperatorActions")
    assert not any("userAssignedIdentities" in a for a in actions)
    main = template("main.bicep")
    module = module_using(main, "identity-access.bicep")
    assert _loop_array(module) == "assignableIdentityIds"
    access = template("modules/identity-access.bicep")
    (assignment,) = resources_of_type(access, ROLE_ASSIGNMENTS).values()
    assert body(assignment)["scope"] == "computeIdentity"


def test_kubeconfigs_are_readable_secret_by_secret_when_the_secrets_are_named():
    tpl = template("modules/keyvault-access.bicep")
    per_secret = tpl["resources"]["readSecret"]
    assert per_secret["config"]["loop_type"]["detail"]["array_name"] == "secretNames"
    vault_wide = tpl["resources"]["readVault"]
    assert "empty" in text(vault_wide["config"]["condition"])
    main = template("main.bicep")
    assert body(module_using(main, "keyvault-access.bicep"))["params"]["secretNames"] == (
        "secretNames"
    )


def test_named_owner_groups_may_create_event_subscriptions_on_the_topic_and_nothing_more():
    tpl = template("modules/notification-owners.bicep")
    (assignment,) = resources_of_type(tpl, ROLE_ASSIGNMENTS).values()
    assert body(assignment)["scope"] == "topic"
    assert "428e0ff0-5e57-4d9c-a221-2c70d0e0a443" in text(
        variable(tpl, "eventSubscriptionContributor")
    )
    main = template("main.bicep")
    module = module_using(main, "notification-owners.bicep")
    assert body(module)["scope"] == "group"
    assert "ownerIds" in text(module["config"]["condition"])


# The regions of the azd Flex Consumption quickstart (Azure-Samples/
# functions-quickstart-python-http-azd, infra/main.bicep, commit 0bb0f10), less its canary region
# eastus2euap.
FLEX_CONSUMPTION_REGIONS = {
    "australiaeast", "australiasoutheast", "brazilsouth", "canadacentral", "centralindia",
    "centralus", "eastasia", "eastus", "eastus2", "francecentral", "germanywestcentral",
    "italynorth", "japaneast", "koreacentral", "northcentralus", "northeurope", "norwayeast",
    "southafricanorth", "southcentralus", "southeastasia", "southindia", "spaincentral",
    "swedencentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westus",
    "westus2", "westus3",
}  # fmt: skip


def test_the_location_is_limited_to_regions_that_run_flex_consumption():
    location = template("main.bicep")["parameters"]["location"]
    allowed = next(d["argument"] for d in location["decorators"] if d["type"] == "allowed")
    assert set(allowed) == FLEX_CONSUMPTION_REGIONS


def test_an_existing_arm_system_topic_is_reused_instead_of_a_second_one_being_created():
    main = template("main.bicep")
    assert main["parameters"]["existingSystemTopicIds"]["default"] == ""
    watch = body(module_using(main, "watched-subscription.bicep"))
    assert "reusedTopicSubscriptions" in text(watch["params"]["existingSystemTopicId"])
    watched = template("modules/watched-subscription.bicep")
    assert "reuseTopic" in text(watched["modules"]["topic"]["config"]["condition"])
    assert "reuseTopic" in text(watched["resources"]["eventsGroup"]["config"]["condition"])
    existing = watched["resources"]["existingTopic"]
    assert existing["existing"] and "reuseTopic" in text(existing["config"]["condition"])
    events = body(watched["modules"]["eventSubscriptions"])
    assert "topicGroupName" in text(events["scope"]) and events["params"]["systemTopicName"] == (
        "topicName"
    )
    delivery = body(watched["modules"]["deliveryAccess"])
    assert delivery["params"]["principalId"] == "topicPrincipalId"
    assert "existingTopic" in text(variable(watched, "topicPrincipalId"))
