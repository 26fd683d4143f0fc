"""The Function identity has the least rights the code needs; app settings are the ones it reads."""

from __future__ import annotations

import re

import pytest

from sandbox.arm_rbac import condition_holds, parse_condition
from shared import settings
from tests.infra.bicep_model import (
    INFRA,
    all_templates,
    bicep_files,
    body,
    guids,
    module_using,
    resolve,
    resources_of_type,
    template,
    text,
    variable,
)

ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
OWNER = "8e3af657-a8ff-443c-a645-2e00ee1f7d04"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb4-a5c3-7773c4a72bd9"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"

# The roles autoattach grants to compute and workspace identities: what the ABAC condition allows.
GRANTED_ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d",  # AcrPull
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    "85cb6faf-e071-4c9b-8136-154b5a04f717",  # Kubernetes Extension Contributor
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",  # Azure Kubernetes Service Cluster Admin Role
    "2787bf04-f1f5-4bfe-8383-c8a24483ee38",  # Azure Relay Owner
}

# Every role any identity autoattach deploys receives, and the module that grants it.
EXPECTED_ASSIGNMENTS = {
    "modules/app-access.bicep": {
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner: host storage
        "090c5cfd-751d-490a-894a-3ce6f1109419",  # Service Bus Data Owner: trigger, scaling
        "d5a91429-5739-47e2-a06b-3470a27159e7",  # EventGrid Data Sender: notifications
        "3913510d-42f4-4e42-8a64-420c390055eb",  # Monitoring Metrics Publisher: telemetry
    },
    "modules/event-delivery-access.bicep": {
        "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",  # Service Bus Data Sender (system topic)
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor (dead letters)
    },
    "modules/operator-access.bicep": {
        "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",  # Service Bus Data Receiver: list dead letters
        "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",  # Service Bus Data Sender: replay them
    },
    "modules/keyvault-access.bicep": {"4633458b-17de-408a-b874-0445c86b69e6"},  # Secrets User
    "modules/identity-access.bicep": {"f1a07417-d97a-45cb-824c-7a7467783830"},  # MI Operator
    "modules/notification-owners.bicep": {
        "428e0ff0-5e57-4d9c-a221-2c70d0e0a443"  # EventGrid EventSubscription Contributor
    },
    # Custom roles, by definition name: see test_custom_roles_*.
    "modules/delegated-rbac.bicep": set(),
    "modules/delegated-rbac-data.bicep": set(),
    "modules/assignment-reader.bicep": set(),
    "modules/watched-subscription.bicep": set(),
    "modules/workspace-access.bicep": set(),
    "modules/operation-reader.bicep": set(),
}


CLUSTER_ROLES = {
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    "85cb6faf-e071-4c9b-8136-154b5a04f717",  # Kubernetes Extension Contributor
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",  # Azure Kubernetes Service Cluster Admin Role
    "2787bf04-f1f5-4bfe-8383-c8a24483ee38",  # Azure Relay Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor (Trusted Access, issue 18.5)
}
AKS_CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_ROLES = {
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
}
DATA_ROLES = GRANTED_ROLES - CLUSTER_ROLES
SELF = "11111111-2222-3333-4444-555555555555"
# Two workspaces' user-assigned identities (what the preprovision hook reads), and a stranger.
WORKSPACE_PRINCIPALS = (
    "aaaaaaaa-0000-4000-8000-000000000001",
    "aaaaaaaa-0000-4000-8000-000000000002",
)
STRANGER = "bbbbbbbb-0000-4000-8000-000000000009"
WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"
CLUSTER_CONDITION = "cluster-roles-condition.txt"
DATA_CONDITION = "rbac-admin-condition.txt"


def _condition(
    file: str = DATA_CONDITION,
    roles: set[str] = DATA_ROLES,
    self_id: str = SELF,
    principals: tuple[str, ...] = WORKSPACE_PRINCIPALS,
) -> str:
    """A condition as the Bicep renders it (delegated-rbac*.bicep fill the placeholders)."""
    template = (INFRA / "abac" / file).read_text()
    return (
        template.replace("__GRANTABLE_ROLES__", ", ".join(sorted(roles)))
        .replace("__PRINCIPALS__", ", ".join(principals))
        .replace("__SELF__", self_id)
    )


def _clauses(file: str = DATA_CONDITION, roles: set[str] = DATA_ROLES) -> tuple[str, str]:
    """The condition's write clause and delete clause."""
    flat = " ".join(_condition(file, roles).split())
    write, delete = re.split(r"\)\s*\)\s*AND\s*\(\s*\(", flat)
    return write, delete


def _role_set(clause: str, source: str) -> set[str]:
    pattern = (
        rf"@{source}\[Microsoft\.Authorization/roleAssignments:RoleDefinitionId\] "
        r"ForAnyOfAnyValues:GuidEquals \{([^}]*)\}"
    )
    (values,) = re.findall(pattern, clause)
    return {v.strip().lower() for v in values.split(",")}


def _principal_types(clause: str, source: str) -> list[str]:
    pattern = (
        rf"@{source}\[Microsoft\.Authorization/roleAssignments:PrincipalType\] "
        r"StringEqualsIgnoreCase '([^']*)'"
    )
    return re.findall(pattern, clause)


def _allows(condition: str, action: str, role: str, principal: str) -> bool:
    """What the ARM double's ABAC evaluator (sandbox/arm_rbac.py) decides for one request: the
    PUT's body for a write, the existing assignment for a delete."""
    source = "request" if action == WRITE else "resource"
    attributes = {
        source: {"role": role, "principal": principal, "principal_type": "ServicePrincipal"}
    }
    return condition_holds(parse_condition(condition), action, attributes)


@pytest.mark.parametrize("action", [WRITE, DELETE])
def test_aks_cluster_admin_goes_only_to_a_workspace_identity_the_policy_names_never_to_others(
    action: str,
) -> None:
    condition = _condition(CLUSTER_CONDITION, CLUSTER_ROLES)
    for principal in WORKSPACE_PRINCIPALS:
        assert _allows(condition, action, AKS_CLUSTER_ADMIN, principal)
    assert not _allows(condition, action, AKS_CLUSTER_ADMIN, STRANGER)
    assert not _allows(condition, action, AKS_CLUSTER_ADMIN, SELF)
    self_named = _condition(CLUSTER_CONDITION, CLUSTER_ROLES, principals=(SELF,))
    assert not _allows(self_named, action, AKS_CLUSTER_ADMIN, SELF)  # even if listed by mistake
    assert not _allows(condition, action, ACR_PULL, WORKSPACE_PRINCIPALS[0])


@pytest.mark.parametrize("action", [WRITE, DELETE])
def test_the_data_roles_go_to_any_other_service_principal_but_never_to_the_app(
    action: str,
) -> None:
    condition = _condition(DATA_CONDITION, {ACR_PULL})
    assert _allows(condition, action, ACR_PULL, STRANGER)  # a compute's system identity
    assert not _allows(condition, action, ACR_PULL, SELF)
    assert not _allows(condition, action, AKS_CLUSTER_ADMIN, STRANGER)


def test_both_conditions_are_ones_azure_accepts_for_role_assignments():
    for file, roles in ((CLUSTER_CONDITION, CLUSTER_ROLES), (DATA_CONDITION, DATA_ROLES)):
        parse_condition(_condition(file, roles))  # the double refuses what Azure does not offer


@pytest.mark.parametrize(
    ("file", "roles"), [(CLUSTER_CONDITION, CLUSTER_ROLES), (DATA_CONDITION, DATA_ROLES)]
)
def test_abac_conditions_let_the_function_write_and_delete_assignments_of_exactly_their_roles(
    file: str, roles: set[str]
):
    write, delete = _clauses(file, roles)
    assert "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})" in write
    assert "!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})" in delete
    assert _role_set(write, "Request") == roles
    assert _role_set(delete, "Resource") == roles
    assert _principal_types(write, "Request") == ["ServicePrincipal"]
    assert _principal_types(delete, "Resource") == ["ServicePrincipal"]


def test_the_app_can_neither_grant_itself_a_role_nor_revoke_one_of_its_own():
    exclusion = (
        "[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAllValues:GuidNotEquals"
    )
    for file, roles in ((CLUSTER_CONDITION, CLUSTER_ROLES), (DATA_CONDITION, DATA_ROLES)):
        write, delete = _clauses(file, roles)
        assert f"@Request{exclusion} {{{SELF}}}" in write
        assert f"@Resource{exclusion} {{{SELF}}}" in delete
    cluster = text(variable(template("modules/delegated-rbac.bicep"), "condition"))
    assert "__SELF__" in cluster and "principalId" in cluster
    assert "__PRINCIPALS__" in cluster and "grantablePrincipalIds" in cluster
    assert "__GRANTABLE_ROLES__" in cluster and "grantableRoleIds" in cluster
    data = template("modules/delegated-rbac-data.bicep")
    for name in ("registryCondition", "storageCondition"):
        assert "__SELF__" in text(variable(data, name)), name


def test_abac_conditions_have_balanced_parentheses():
    for file in (CLUSTER_CONDITION, DATA_CONDITION):
        depth = 0
        for char in _condition(file):
            depth += {"(": 1, ")": -1}.get(char, 0)
            assert depth >= 0
        assert depth == 0


def test_cluster_roles_are_delegated_where_clusters_live_to_the_workspace_identities_only():
    main = template("main.bicep")
    cluster = module_using(main, "delegated-rbac.bicep")
    assert cluster["config"]["loop_type"]["detail"]["array_name"] == "watchedSubscriptionIds"
    params = body(cluster)["params"]
    assert set(resolve(main, params["grantableRoleIds"])) == CLUSTER_ROLES
    assert params["grantablePrincipalIds"] == "grantablePrincipalIds"
    assert "workspacePrincipalIds" in text(variable(main, "listedPrincipalIds"))
    module = template("modules/delegated-rbac.bicep")
    (delegator,) = [
        r
        for r in resources_of_type(module, ROLE_ASSIGNMENTS).values()
        if "condition" in body(r)["properties"]
    ]
    # No workspace identity to grant to: no delegation at all (an empty set is no condition).
    assert "grantablePrincipalIds" in text(delegator["config"]["condition"])


def test_data_roles_are_delegated_on_each_workspaces_registry_and_storage_account_only():
    main = template("main.bicep")
    registry = main["modules"]["registryDelegation"]
    storage = main["modules"]["storageDelegation"]
    assert registry["config"]["loop_type"]["detail"]["array_name"] == "registryIds"
    assert storage["config"]["loop_type"]["detail"]["array_name"] == "storageIds"
    assert "registryName" in body(registry)["params"]
    assert "storageAccountName" in body(storage)["params"]
    data = template("modules/delegated-rbac-data.bicep")
    assignments = resources_of_type(data, ROLE_ASSIGNMENTS)
    assert {body(a)["scope"] for a in assignments.values()} == {"registry", "account"}
    assert guids(data, variable(data, "registryCondition")) >= {ACR_PULL}
    assert ACR_PULL not in text(variable(data, "blobRoles"))
    assert set(variable(data, "blobRoles")) == BLOB_ROLES
    for file in bicep_files():
        assert "delegated-rbac-group" not in file.read_text(), file.name


def test_delegation_is_the_custom_role_delegator_with_the_condition_never_a_built_in_admin():
    for name in ("modules/delegated-rbac.bicep", "modules/delegated-rbac-data.bicep"):
        tpl = template(name)
        delegators = [
            r
            for r in resources_of_type(tpl, ROLE_ASSIGNMENTS).values()
            if "condition" in body(r)["properties"]
        ]
        assert delegators, name
        for delegator in delegators:
            props = body(delegator)["properties"]
            assert "roleDelegatorRoleName" in text(props["roleDefinitionId"])
            assert props["conditionVersion"] == "2.0"
            assert props["principalType"] == "ServicePrincipal"
            assert props["condition"] in ("condition", "registryCondition", "storageCondition")
    for path in bicep_files():
        assert RBAC_ADMINISTRATOR not in path.read_text().lower(), path.name
    assert _actions("roleDelegatorActions") == [
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
    ]


def test_no_owner_user_access_administrator_or_contributor_appears_anywhere_in_the_bicep():
    """Contributor only as a role the delegator may grant to the allowed workspaces' identities
    on clusters whose Trusted Access binds them (issue 18.5): never assigned by the deployment."""
    for path in bicep_files():
        content = path.read_text().lower()
        for role in (OWNER, USER_ACCESS_ADMINISTRATOR):
            assert role not in content, f"{path.name} mentions {role}"
        if path.name == "main.bicep":
            grantable = re.search(r"var clustergrantableroles = \[[^\]]*\]", content)
            assert grantable is not None and CONTRIBUTOR in grantable.group(0)
            content = content.replace(grantable.group(0), "")
        lines = [line for line in content.splitlines() if not line.strip().startswith("//")]
        assert CONTRIBUTOR not in "\n".join(lines), f"{path.name} mentions {CONTRIBUTOR}"


def test_every_role_assignment_grants_only_the_expected_roles():
    found: dict[str, set[str]] = {}
    for name, tpl in all_templates().items():
        for resource in resources_of_type(tpl, ROLE_ASSIGNMENTS).values():
            role = body(resource)["properties"]["roleDefinitionId"]
            found.setdefault(name, set()).update(guids(tpl, role))
    assert found == EXPECTED_ASSIGNMENTS


def test_custom_roles_are_assigned_by_definition_name_and_nothing_else():
    for name in (
        "modules/watched-subscription.bicep",
        "modules/workspace-access.bicep",
        "modules/delegated-rbac.bicep",
        "modules/delegated-rbac-data.bicep",
        "modules/assignment-reader.bicep",
        "modules/operation-reader.bicep",
    ):
        tpl = template(name)
        for assignment in resources_of_type(tpl, ROLE_ASSIGNMENTS).values():
            role = text(body(assignment)["properties"]["roleDefinitionId"])
            assert re.search(r'"(\w+)RoleName"', role), (name, role)


def _actions(role: str) -> list[str]:
    return variable(template("modules/custom-roles.bicep"), role)


def test_custom_roles_hold_no_wildcards_and_no_authorization_rights():
    for role in ("clusterOperatorActions", "computeOperatorActions"):
        for action in _actions(role):
            assert "*" not in action, action
            assert not action.lower().startswith("microsoft.authorization/"), action


def test_cluster_operator_reads_clusters_installs_extensions_and_creates_namespaces_only():
    assert set(_actions("clusterOperatorActions")) == {
        "Microsoft.Resources/subscriptions/resources/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.ContainerService/managedClusters/read",
        "Microsoft.Kubernetes/connectedClusters/read",
        "Microsoft.KubernetesConfiguration/extensions/read",
        "Microsoft.KubernetesConfiguration/extensions/write",
        "Microsoft.KubernetesConfiguration/extensions/operations/read",
        "Microsoft.ContainerService/managedClusters/managedNamespaces/read",
        "Microsoft.ContainerService/managedClusters/managedNamespaces/write",
        "Microsoft.ContainerService/locations/operations/read",
        "Microsoft.ContainerService/locations/operationresults/read",
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/read",
        "Microsoft.Relay/namespaces/read",
        "Microsoft.Relay/namespaces/hybridConnections/read",
    }


def test_compute_writes_are_granted_only_on_allowed_workspaces():
    assert set(_actions("computeOperatorActions")) == {
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.MachineLearningServices/workspaces/computes/read",
        "Microsoft.MachineLearningServices/workspaces/computes/write",
        "Microsoft.MachineLearningServices/workspaces/computes/delete",
    }
    assert not any("computes" in a for a in _actions("clusterOperatorActions"))
    main = template("main.bicep")
    module = module_using(main, "workspace-access.bicep")
    assert module["config"]["loop_type"]["detail"]["array_name"] == "workspaceIds"
    access = template("modules/workspace-access.bicep")
    (assignment,) = resources_of_type(access, ROLE_ASSIGNMENTS).values()
    assert body(assignment)["scope"] == "workspace"


def test_the_status_of_attaches_and_detaches_can_be_read_on_each_workspaces_resource_group():
    # ARM: "To track the status of an asynchronous operation, you need sufficient permission at
    # the level of the resource group. If you only have permission at the level of the resource,
    # you can start the operation but you can't track its status." The compute operator is on
    # the workspace (a resource), so the status reads need a role on its resource group.
    # The published action ("Azure permissions for AI + machine learning"), no wildcard.
    assert _actions("operationReaderActions") == [
        "Microsoft.MachineLearningServices/locations/computeoperationsstatus/read"
    ]
    main = template("main.bicep")
    module = module_using(main, "operation-reader.bicep")
    assert module["config"]["loop_type"]["detail"]["array_name"] == "workspaceGroupIds"
    reader = template("modules/operation-reader.bicep")
    (assignment,) = resources_of_type(reader, ROLE_ASSIGNMENTS).values()
    assert "operationReaderRoleName" in text(body(assignment)["properties"]["roleDefinitionId"])
    assert "scope" not in body(assignment)  # the module's own scope: the resource group
    assert reader["globals"]["scope"]["value"] != "subscription"


def test_function_identity_is_user_assigned_and_the_only_identity_of_the_app():
    site = body(template("modules/functionapp.bicep")["resources"]["site"])
    assert site["identity"]["type"] == "UserAssigned"


def _app_settings() -> dict:
    return variable(template("main.bicep"), "appSettings")


def test_every_required_app_setting_the_code_reads_is_set_by_the_bicep():
    assert set(settings.REQUIRED_APP_SETTINGS) <= set(_app_settings())


def test_the_bicep_sets_exactly_the_product_settings_the_code_reads_except_the_policy_file():
    product = set(settings.REQUIRED_APP_SETTINGS) | set(settings.OPTIONAL_APP_SETTINGS)
    connection = {
        f"{settings.SERVICEBUS_CONNECTION}__credential",
        f"{settings.SERVICEBUS_CONNECTION}__clientId",
    }
    assert set(_app_settings()) == (product - {settings.ATTACH_POLICY_FILE}) | connection


def test_service_bus_connection_is_identity_based_with_the_function_identity():
    values = _app_settings()
    prefix = settings.SERVICEBUS_CONNECTION
    assert values[f"{prefix}__credential"] == "managedidentity"
    client = text(values[f"{prefix}__clientId"])
    assert "identity" in client and "clientId" in client
    assert text(values[settings.AZURE_CLIENT_ID]) == client


def test_queue_settings_name_the_queues_the_bicep_creates():
    main = template("main.bicep")
    values = _app_settings()
    assert resolve(main, values[settings.CLUSTER_EVENTS_QUEUE]) == (
        settings.DEFAULT_CLUSTER_EVENTS_QUEUE
    )
    assert resolve(main, values[settings.EXTENSION_EVENTS_QUEUE]) == (
        settings.DEFAULT_EXTENSION_EVENTS_QUEUE
    )


def test_tag_key_default_matches_the_code():
    main = template("main.bicep")
    assert resolve(main, _app_settings()[settings.ATTACH_TAG_KEY]) == settings.DEFAULT_TAG_KEY


def test_sweep_schedule_recheck_delay_and_install_poll_defaults_match_the_code():
    parameters = template("main.bicep")["parameters"]
    assert parameters["sweepSchedule"]["default"] == settings.DEFAULT_SWEEP_SCHEDULE
    assert parameters["recheckDelaySeconds"]["default"] == settings.DEFAULT_RECHECK_DELAY_SECONDS
    assert parameters["installPollFirstSeconds"]["default"] == (
        settings.DEFAULT_INSTALL_POLL_FIRST_SECONDS
    )
    assert parameters["installPollPercentOfWait"]["default"] == (
        settings.DEFAULT_INSTALL_POLL_PERCENT_OF_WAIT
    )


def test_no_setting_or_output_carries_a_key_or_a_secret():
    for path in bicep_files():
        content = path.read_text()
        assert "listKeys(" not in content and "listkeys(" not in content.lower(), path.name
        assert "AccountKey=" not in content and "SharedAccessKey" not in content, path.name


def test_host_storage_and_telemetry_authenticate_with_the_managed_identity():
    tpl = template("modules/functionapp.bicep")
    host = variable(tpl, "hostSettings")
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "Authorization=AAD" in host["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    storage = body(template("modules/storage.bicep")["resources"]["account"])["properties"]
    assert storage["allowSharedKeyAccess"] is False
    insights = template("modules/monitoring.bicep")["resources"]["applicationInsights"]
    assert body(insights)["properties"]["DisableLocalAuth"] is True


def test_private_networking_is_the_default_and_one_parameter_turns_it_off():
    main = template("main.bicep")
    assert main["parameters"]["privateNetworking"]["default"] is True
    assert main["modules"]["network"]["config"]["condition"] == "privateNetworking"
    app = module_using(main, "functionapp.bicep")
    assert "integrationSubnetId" in text(body(app)["params"]["integrationSubnetId"])


def test_private_endpoints_cover_service_bus_the_host_storage_the_topic_and_the_kubeconfig_vault():
    tpl = template("modules/network.bicep")
    groups = {e["groupId"] for e in variable(tpl, "hubEndpoints")}
    assert groups == {"namespace", "blob", "queue", "table", "topic"}
    vault = text(variable(tpl, "vaultEndpoints"))
    assert '"groupId": "vault"' in vault and "keyVaultId" in vault
    main = template("main.bicep")
    assert body(main["modules"]["network"])["params"]["keyVaultId"] == "kubeconfigKeyVaultId"
    assert "Microsoft.App/environments" in text(tpl["resources"]["vnet"])


def test_the_app_goes_out_through_a_nat_gateway_and_its_subnets_allow_only_what_it_needs():
    tpl = template("modules/network.bicep")
    subnets = body(tpl["resources"]["vnet"])["properties"]["subnets"]
    integration, endpoints = subnets
    assert "natGateway" in text(integration["properties"]["natGateway"])
    assert integration["properties"]["defaultOutboundAccess"] is False
    # NSGs apply to private endpoints only with network policies on for them
    assert (
        endpoints["properties"]["privateEndpointNetworkPolicies"] == "NetworkSecurityGroupEnabled"
    )
    allowed = {r["destination"] for r in variable(tpl, "integrationRules")}
    assert allowed == {
        "VirtualNetwork",
        "AzureResourceManager",
        "AzureActiveDirectory",
        "AzureMonitor",
        "Internet",
    }
    assert all(r["ports"] == ["443"] for r in variable(tpl, "integrationRules")[1:])
    nsg = text(body(tpl["resources"]["integrationNsg"]))
    assert "deny-other-outbound" in nsg and "deny-inbound" in nsg
    endpoint_rules = body(tpl["resources"]["endpointNsg"])["properties"]["securityRules"]
    assert [r["name"] for r in endpoint_rules] == ["allow-app-subnet", "deny-other-inbound"]
    assert endpoint_rules[0]["properties"]["sourceAddressPrefix"] == "integrationSubnetPrefix"


def test_central_private_dns_zones_can_be_reused_instead_of_created():
    main = template("main.bicep")
    assert main["parameters"]["existingPrivateDnsZoneIds"]["default"] == ""
    tpl = template("modules/network.bicep")
    assert tpl["resources"]["zones"]["config"]["loop_type"]["detail"]["array_name"] == (
        "ownZoneEndpoints"
    )
    assert "reusedZoneNames" in text(variable(tpl, "ownZoneEndpoints"))
    groups = text(body(tpl["resources"]["dnsGroups"]))
    assert "reusedZoneIds" in groups


def test_service_bus_the_topics_and_the_app_send_their_logs_to_log_analytics():
    diagnostics = template("modules/diagnostics.bicep")
    scopes = {body(r)["scope"] for r in diagnostics["resources"].values() if not r.get("existing")}
    assert scopes == {"namespace", "topic", "site"}
    for resource in diagnostics["resources"].values():
        if not resource.get("existing"):
            assert body(resource)["properties"]["workspaceId"] == "logAnalyticsId"
    system_topic = template("modules/event-topic.bicep")["resources"]["diagnostics"]
    assert body(system_topic)["scope"] == "systemTopic"


def test_a_delete_lock_on_the_resource_group_is_one_parameter_away():
    main = template("main.bicep")
    assert main["parameters"]["lockResources"]["default"] is False
    assert main["modules"]["lock"]["config"]["condition"] == "lockResources"
    lock = body(template("modules/lock.bicep")["resources"]["lock"])
    assert lock["properties"]["level"] == "CanNotDelete"
