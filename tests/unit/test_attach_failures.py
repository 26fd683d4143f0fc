"""An attach Azure fails through its operation: the owners hear Azure's reason, autoattach
detaches its Failed compute and attaches it again a bounded number of times, more while the
failure may only be the workspace identity's roles still taking effect (re-checked, never
dead-lettered), and the tries are counted in the cluster's ledger until it is attached."""

from __future__ import annotations

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import MadeAssignment, Role, WorkspaceState
from shared.decisions.notices import ATTACH_TRIES, attach_tries, derive
from shared.decisions.planner import (
    ATTACH_TRIES as TRIES,
)
from shared.decisions.planner import (
    PROPAGATION_TRIES,
    AttachCompute,
    DetachCompute,
    GrantRole,
    Plan,
    RevokeRole,
    plan,
)
from tests.unit.test_planner import (
    CLUSTER,
    CONVERGED_HOLDINGS,
    REGISTRY,
    STORAGE,
    SUB,
    WORKSPACE,
    compute,
    observation,
)

IDENTITY = ResourceId.parse(
    SUB + "/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws"
)
FAILED = compute(provisioning_state="Failed", errors="BadRequest")
REASON = "BadRequest: The AzureML extension is not installed"


def failed_observation(tries: int = 0, *, user_assigned: bool = False, **changes):
    fields = dict(
        namespaces=frozenset({"azureml"}),
        computes={(WORKSPACE, "aks-ml"): FAILED},
        owned=(FAILED,),
        role_holdings=CONVERGED_HOLDINGS,
        attach_errors={FAILED.id.key: REASON},
        attach_tries={FAILED.id.key: tries} if tries else {},
    )
    if user_assigned:
        cluster_rights = frozenset(
            r.value
            for r in (Role.READER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, Role.AKS_CLUSTER_ADMIN)
        )
        fields |= dict(
            workspaces={
                WORKSPACE: WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, IDENTITY)
            },
            principals={IDENTITY.key: "ws-principal"},
            named_identities={WORKSPACE: IDENTITY},
            role_holdings={**CONVERGED_HOLDINGS, (CLUSTER.key, "ws-principal"): cluster_rights},
        )
    fields |= changes
    return observation(**fields)


def test_a_failed_attach_is_detached_to_be_tried_again_and_its_owners_hear_azures_reason():
    result = plan(failed_observation())
    detach = [a for a in result.actions if isinstance(a, DetachCompute)]
    assert len(detach) == 1 and detach[0].retry
    assert REASON in detach[0].reason
    [problem] = result.problems
    assert problem.recheck  # tried again later, not dead-lettered
    assert REASON in problem.message


def test_the_compute_shows_the_reason_when_no_operation_was_polled():
    result = plan(failed_observation(attach_errors={}))
    assert "BadRequest" in result.problems[0].message


def test_after_its_tries_a_failed_compute_is_left_for_a_person_with_azures_reason():
    result = plan(failed_observation(tries=TRIES))
    assert not any(isinstance(a, DetachCompute) for a in result.actions)
    [problem] = result.problems
    assert not problem.recheck
    assert REASON in problem.message and "az ml compute detach" in problem.message


def test_a_failure_while_the_identitys_roles_may_still_take_effect_is_waited_on_longer():
    result = plan(failed_observation(tries=TRIES, user_assigned=True))
    assert any(isinstance(a, DetachCompute) for a in result.actions)
    assert result.problems[0].recheck
    assert "may not have taken effect yet" in result.problems[0].message
    spent = plan(failed_observation(tries=PROPAGATION_TRIES, user_assigned=True))
    assert not spent.problems[0].recheck


def test_each_try_is_counted_in_the_ledger_until_the_compute_is_attached():
    observed = failed_observation()
    announced = derive(observed, plan(observed), {}, retried=[FAILED.id.key]).record
    assert attach_tries(announced) == {FAILED.id.key: 1}
    again = derive(observed, plan(observed), announced, retried=[FAILED.id.key]).record
    assert attach_tries(again) == {FAILED.id.key: 2}
    assert all(e["type"] != ATTACH_TRIES for e in derive(observed, Plan(), again).notices)
    attached = observation(
        namespaces=frozenset({"azureml"}),
        computes={(WORKSPACE, "aks-ml"): compute()},
        owned=(compute(),),
        role_holdings=CONVERGED_HOLDINGS,
    )
    assert attach_tries(derive(attached, plan(attached), again).record) == {}


# ---- Trusted Access and the workspace identity the policy names (issues 18.5, 20.2) ----

OTHER = ResourceId.parse(
    SUB + "/resourceGroups/rg-x/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mine"
)
BASE_RIGHTS = (Role.READER, Role.KUBERNETES_EXTENSION_CONTRIBUTOR, Role.AKS_CLUSTER_ADMIN)


def identity_observation(**changes):
    fields = dict(
        namespaces=frozenset({"azureml"}),
        workspaces={
            WORKSPACE: WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, IDENTITY)
        },
        principals={IDENTITY.key: "ws-principal", OTHER.key: "other-principal"},
        named_identities={WORKSPACE: IDENTITY},
        role_holdings={(CLUSTER.key, "ws-principal"): frozenset(r.value for r in BASE_RIGHTS)},
    )
    fields |= changes
    return observation(**fields)


def test_where_trusted_access_binds_the_workspace_its_identity_also_gets_contributor():
    result = plan(identity_observation(trusted_access=frozenset({WORKSPACE})))
    assert GrantRole(CLUSTER, Role.CONTRIBUTOR, "ws-principal", WORKSPACE) in result.actions
    assert not any(isinstance(a, AttachCompute) for a in result.actions)  # not before it
    without = plan(identity_observation())
    assert any(isinstance(a, AttachCompute) for a in without.actions)


def test_a_workspace_switched_to_an_identity_the_policy_does_not_name_gets_nothing():
    switched = WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, OTHER)
    result = plan(identity_observation(workspaces={WORKSPACE: switched}))
    assert not any(
        isinstance(a, GrantRole | AttachCompute) for a in result.actions
    )  # no cluster rights for the identity someone switched to, nothing attached
    [problem] = result.problems
    assert not problem.recheck
    assert OTHER.raw in problem.message and IDENTITY.raw in problem.message


def test_the_named_identitys_rights_stay_while_the_workspace_runs_on_another():
    switched = WorkspaceState(WORKSPACE, "westeurope", STORAGE, REGISTRY, OTHER)
    made = tuple(MadeAssignment(CLUSTER, r, "ws-principal") for r in BASE_RIGHTS)
    result = plan(identity_observation(workspaces={WORKSPACE: switched}, made_here=made))
    assert not any(isinstance(a, RevokeRole) for a in result.actions)


def test_a_policy_names_no_identity_for_a_workspace_on_one_then_nothing_is_granted():
    result = plan(identity_observation(named_identities={WORKSPACE: None}))
    assert not any(isinstance(a, GrantRole | AttachCompute) for a in result.actions)
    assert "workspace_identity" in result.problems[0].message


def test_contributor_is_revoked_once_the_clusters_trusted_access_no_longer_binds_the_workspace():
    made = tuple(
        MadeAssignment(CLUSTER, r, "ws-principal") for r in (*BASE_RIGHTS, Role.CONTRIBUTOR)
    )
    unbound = plan(identity_observation(made_here=made, trusted_access_read=True))
    revoked = [a for a in unbound.actions if isinstance(a, RevokeRole)]
    assert [(a.role, a.principal_id) for a in revoked] == [(Role.CONTRIBUTOR, "ws-principal")]
    bound = plan(
        identity_observation(
            made_here=made, trusted_access_read=True, trusted_access=frozenset({WORKSPACE})
        )
    )
    assert not any(isinstance(a, RevokeRole) for a in bound.actions)
    unread = plan(identity_observation(made_here=made))  # not read: nothing is concluded
    assert not any(isinstance(a, RevokeRole) for a in unread.actions)
