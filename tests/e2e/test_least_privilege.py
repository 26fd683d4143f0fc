"""The product runs on exactly what its infra grants its identity, against an ARM that authorizes
every request (``arm_authorization: true``, sandbox/arm_rbac.py): the demo converges with no
request refused; with one grant missing, the refusal reaches operators as the product
types it (``AuthorizationFailed``, shared/decisions/errors.py).

The world holds the custom roles of console/doctor/grants.py ``CUSTOM_ROLES`` (the actions of
infra/modules/custom-roles.bicep) and one assignment per ``expected_grants`` need, with the ABAC
condition infra/ puts on each role delegator."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from sandbox.arm_ids import key
from sandbox.arm_rbac import action_of
from sandbox.least_privilege import with_deployment_grants
from sandbox.runner import Sandbox
from sandbox.scenario import split_world_file
from tests.e2e.conftest import demo_document, scenario_from


def demo_events() -> list[dict[str, Any]]:
    return json.loads(resources.files("sandbox").joinpath("demo_events.json").read_text())


def least_privilege(document: dict[str, Any], *, without: str | None = None) -> dict[str, Any]:
    """The world file with RBAC enforced and exactly the grants infra/ makes (less any whose
    ``role @ scope`` contains ``without``)."""
    world, policy, tag_key = split_world_file(copy.deepcopy(document), "least-privilege world")
    return {
        **with_deployment_grants(world, policy, without=without),
        "policy": policy,
        "tag_key": tag_key,
    }


def refusals(sandbox: Sandbox) -> list[tuple[str, str, str]]:
    """(request, action, scope) of every request ARM refused with 403."""
    return [
        (f"{r.method} {r.path}", action_of(r.method, r.path), r.path)
        for r in sandbox.arm.log
        if r.status == 403
    ]


def computes_of(sandbox: Sandbox) -> set[tuple[str, str, str]]:
    return {
        (key(c["workspace"]), c["name"], c["provisioning_state"])
        for c in sandbox.world.snapshot()["computes"]
    }


def test_the_demo_converges_on_exactly_what_infra_grants_with_no_request_refused(sandbox_for):
    free = sandbox_for(scenario_from(demo_document(), demo_events()))
    free.run_pass(0)
    strict = sandbox_for(scenario_from(least_privilege(demo_document()), demo_events()))
    strict.run_pass(0)
    assert refusals(strict) == []
    assert computes_of(strict) == computes_of(free)
    assert computes_of(strict)  # something was attached
    assert {a["scope"].lower() for a in strict.world.snapshot()["role_assignments"]} == {
        a["scope"].lower() for a in free.world.snapshot()["role_assignments"]
    }
    dead = [m for q in strict.bus.queues.values() for m in q.dead_letters]
    assert dead == []


def test_without_the_compute_operator_on_a_workspace_operators_get_a_dead_letter_naming_the_refusal(
    sandbox_for,
):
    demo = demo_document()
    workspace = next(w["id"] for w in demo["workspaces"] if w["id"].endswith("/ws-research"))
    strict = sandbox_for(
        scenario_from(
            least_privilege(demo, without=f"compute operator @ {workspace}"), demo_events()
        )
    )
    strict.run_pass(0)
    refused = [r for r in refusals(strict) if key(r[2]).startswith(key(workspace))]
    assert refused, "the double let the attach through without the compute operator role"
    assert {action for _, action, _ in refused} <= {
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.MachineLearningServices/workspaces/computes/read",
        "Microsoft.MachineLearningServices/workspaces/computes/write",
    }
    # operators: the event is dead-lettered with the product's reason, naming what was refused
    dead = [m for q in strict.bus.queues.values() for m in q.dead_letters]
    about = [m for m in dead if key(workspace) in (m.dead_letter_description or "").lower()]
    assert about and {m.dead_letter_reason for m in about} == {"AuthorizationFailed"}
    assert all("computes/read" in (m.dead_letter_description or "") for m in about)
    assert not any(c[0] == key(workspace) for c in computes_of(strict))
