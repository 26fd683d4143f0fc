"""Operators may list and replay dead letters on the two queues, and nothing wider."""

from __future__ import annotations

import json

from shared import settings
from tests.infra.bicep_model import (
    INFRA,
    all_templates,
    body,
    module_path,
    module_using,
    resolve,
    resources_of_type,
    template,
    text,
    variable,
)

ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
QUEUES = "Microsoft.ServiceBus/namespaces/queues"
NAMESPACES = "Microsoft.ServiceBus/namespaces"
DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
MODULE = "modules/operator-access.bicep"


def _operator_assignments() -> dict:
    return resources_of_type(template(MODULE), ROLE_ASSIGNMENTS)


def _role(tpl: dict, assignment: dict) -> str:
    """The built-in role an assignment grants (subscriptionResourceId of roleDefinitions)."""
    function = body(assignment)["properties"]["roleDefinitionId"]["function"]
    assert function["type"] == "subscription_resource_id"
    parameters = function["parameters"]
    assert parameters["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    return resolve(tpl, parameters["resource_name_1"])


def _operator_module() -> dict:
    return module_using(template("main.bicep"), "operator-access.bicep")


def test_operators_can_receive_and_resend_dead_letters_on_both_queues_only():
    tpl = template(MODULE)
    assignments = _operator_assignments()
    assert sorted(_role(tpl, a) for a in assignments.values()) == [DATA_RECEIVER, DATA_SENDER]
    (queue_name,) = resources_of_type(tpl, QUEUES)
    queue = tpl["resources"][queue_name]
    assert queue["existing"] is True
    assert body(queue)["name"] == "queueName"
    for assignment in assignments.values():
        assert body(assignment)["scope"] == queue_name
    # One deployment of the module per queue the code reads, when there are operators.
    main = template("main.bicep")
    module = _operator_module()
    loop = module["config"]["loop_type"]["detail"]
    assert loop["array_name"] == "operatorQueues"
    assert body(module)["params"]["queueName"] == loop["item_name"]
    queues = variable(main, "operatorQueues")["operator"]["operands"]
    assert text(queues["condition"]) == text(
        {"function": {"type": "empty", "parameters": {"item_to_test": "operatorIds"}}}
    )
    assert queues["true_value"] == []
    assert {resolve(main, q) for q in queues["false_value"]} == {
        settings.DEFAULT_CLUSTER_EVENTS_QUEUE,
        settings.DEFAULT_EXTENSION_EVENTS_QUEUE,
    }


def test_operators_get_nothing_wider_than_a_queue_anywhere_in_the_bicep():
    tpl = template(MODULE)
    # The module creates role assignments and nothing else, each scoped to the queue: none to the
    # namespace, the resource group (no scope) or a subscription.
    for name, resource in tpl["resources"].items():
        if resource["existing"]:
            continue
        assert resource["type"] == ROLE_ASSIGNMENTS, name
        scope = body(resource).get("scope")
        assert scope in resources_of_type(tpl, QUEUES), (name, scope)
        assert scope not in resources_of_type(tpl, NAMESPACES), (name, scope)
    # The operators' ids reach this module and no other, only through its principalIds parameter.
    main = template("main.bicep")
    module = _operator_module()
    assert body(module)["scope"] == "group"
    assert body(module)["params"]["principalIds"] == "operatorIds"
    for name, other in main["modules"].items():
        if other is not module:
            mentioned = text(body(other))
            assert "operatorIds" not in mentioned and "operatorPrincipal" not in mentioned, name
    for name in resources_of_type(main, ROLE_ASSIGNMENTS):
        assert "operator" not in text(main["resources"][name]).lower(), name
    for name, other in all_templates().items():
        if name not in ("main.bicep", MODULE):
            assert "operator-access" not in text(other.get("modules", {})), name


def test_operator_assignment_names_are_deterministic_per_queue_principal_and_role():
    tpl = template(MODULE)
    for assignment in _operator_assignments().values():
        config = body(assignment)
        loop = assignment["config"]["loop_type"]["detail"]
        assert loop["array_name"] == "principalIds"
        name = config["name"]["function"]
        assert name["type"] == "guid"
        arguments = list(name["parameters"].values())
        assert text(arguments[0]) == text(
            {
                "operator": {
                    "type": "property_accessor",
                    "operands": {"operand_1": "queue", "operand_2": "id"},
                }
            }
        )
        assert arguments[1] == loop["item_name"] == config["properties"]["principalId"]
        assert resolve(tpl, arguments[2]) == _role(tpl, assignment)


def test_operator_principal_type_defaults_to_group_and_allows_users_and_service_principals():
    allowed = ["Group", "User", "ServicePrincipal"]
    for tpl, parameter in (
        (template("main.bicep"), "operatorPrincipalType"),
        (template(MODULE), "principalType"),
    ):
        declaration = tpl["parameters"][parameter]
        assert declaration["default"] == "Group"
        (decorator,) = [d for d in declaration["decorators"] if d["type"] == "allowed"]
        assert decorator["argument"] == allowed
    for assignment in _operator_assignments().values():
        assert body(assignment)["properties"]["principalType"] == "principalType"
    assert body(_operator_module())["params"]["principalType"] == "operatorPrincipalType"


def test_no_operators_by_default_and_blank_or_repeated_ids_are_dropped():
    main = template("main.bicep")
    declaration = main["parameters"]["operatorPrincipalIds"]
    assert (declaration["type"], declaration["default"]) == ("string", "")
    listed = variable(main, "listedOperatorIds")
    assert "split" in text(listed["loop_type"]) and "trim" in text(listed["config"])
    ids = variable(main, "operatorIds")["function"]
    assert ids["type"] == "union"  # drops duplicates
    kept = ids["parameters"]["arg_1"]["function"]
    assert kept["type"] == "filter" and kept["parameters"]["input_array"] == "listedOperatorIds"
    assert '"type": "not"' in text(kept) and '"type": "empty"' in text(kept)


def test_operator_parameters_come_from_the_azd_environment_comma_separated():
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert values["operatorPrincipalIds"] == {"value": "${AUTOATTACH_OPERATOR_PRINCIPAL_IDS=}"}
    assert values["operatorPrincipalType"] == {
        "value": "${AUTOATTACH_OPERATOR_PRINCIPAL_TYPE=Group}"
    }
    assert module_path(_operator_module()) == MODULE
