"""Which computes are autoattach's: a sealed description holds only on the compute it was written
for; a tag or the old description is a claim anyone can write, confirmed only by the ledger."""

from dataclasses import replace

from shared.decisions.arm_id import ResourceId
from shared.decisions.departures import departing, departure
from shared.decisions.notices import ATTACHED, DETACHED, departure_id, derive
from shared.decisions.ownership import Claim, claim_of, confirmed_by_ledger, description_for
from shared.decisions.planner import plan
from shared.engine.ledger_record import with_ledger_claim
from tests.unit.test_notices import converged
from tests.unit.test_planner import WORKSPACE, compute

CLUSTER = ResourceId.parse(
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)
OTHER_CLUSTER = ResourceId.parse(str(CLUSTER).replace("aks-ml", "aks-two"))


def test_the_description_autoattach_writes_claims_the_compute_it_was_written_for():
    description = description_for(WORKSPACE, "aks-ml", CLUSTER)
    assert description.startswith("Attached by autoattach from cluster aks-ml")
    assert claim_of(WORKSPACE, "AKS-ML", CLUSTER, description, {}) is Claim.SEALED


def test_a_sealed_description_copied_onto_another_compute_claims_nothing():
    description = description_for(WORKSPACE, "aks-ml", CLUSTER)
    assert claim_of(WORKSPACE, "by-hand", CLUSTER, description, {}) is Claim.NONE
    assert claim_of(WORKSPACE, "aks-ml", OTHER_CLUSTER, description, {}) is Claim.NONE
    other_workspace = ResourceId.parse(str(WORKSPACE) + "-two")
    assert claim_of(other_workspace, "aks-ml", CLUSTER, description, {}) is Claim.NONE


def test_a_tag_or_the_old_description_is_only_a_legacy_claim():
    tag = {"managed-by": "autoattach"}
    old = "Attached by autoattach from cluster aks-ml"
    assert claim_of(WORKSPACE, "by-hand", CLUSTER, None, tag) is Claim.LEGACY
    assert claim_of(WORKSPACE, "by-hand", CLUSTER, old, {}) is Claim.LEGACY
    assert claim_of(WORKSPACE, "by-hand", OTHER_CLUSTER, old, {}) is Claim.NONE
    assert claim_of(WORKSPACE, "by-hand", CLUSTER, "made by a person", {}) is Claim.NONE


def test_a_legacy_claim_is_autoattachs_only_where_the_ledger_recorded_that_very_compute():
    claimed = replace(compute(), managed_by_autoattach=False, legacy_claim=True, created_on="t1")
    key = f"attached|{claimed.id.key}"
    entry = {"type": ATTACHED, "compute": claimed.id.raw, "created_on": "t1"}
    assert with_ledger_claim(claimed, {key: entry}).managed_by_autoattach
    assert not with_ledger_claim(claimed, {}).managed_by_autoattach
    # made again at that name since (another createdOn): not the compute autoattach attached
    assert not with_ledger_claim(
        claimed, {key: {**entry, "created_on": "t0"}}
    ).managed_by_autoattach
    # an entry written before createdOn was recorded vouches by the compute id alone
    assert confirmed_by_ledger(claimed.id, "t1", {"compute": claimed.id.raw})
    # a compute claiming nothing is never made autoattach's by the ledger
    unclaimed = replace(claimed, legacy_claim=False)
    assert not with_ledger_claim(unclaimed, {key: entry}).managed_by_autoattach


def test_a_departure_has_the_id_the_ledgers_entry_would_give_it():
    observed = converged()
    attached = derive(observed, plan(observed), {})
    told = departure(observed, compute(), "cluster aks-ml was deleted", {})
    assert told is not None and told.notice.type == DETACHED and not told.told
    assert told.notice.id == departure_id(str(attached.notices[0].id))
    assert departure(observed, replace(compute(), principal_id=None), "gone", {}) is None


def test_a_departure_told_stays_in_the_record_while_the_compute_shows_then_leaves_it_quietly():
    observed = converged()
    attached = derive(observed, plan(observed), {})
    told = departure(observed, compute(), "cluster aks-ml was deleted", attached.record)
    assert told is not None
    departures = {told.key: told.as_told()}
    deleting = derive(observed, plan(observed), attached.record, departures=departures)
    assert deleting.notices == ()
    assert deleting.record[told.key]["departure"]["id"] == told.notice.id
    # told again later, with the reason it was told with, and not published again
    again = departure(observed, compute(), "another reason", deleting.record)
    assert again is not None and again.told
    assert again.notice == told.notice
    gone = replace(observed, computes={}, owned=())
    after = derive(gone, plan(gone), deleting.record)
    assert after.notices == ()
    assert after.record == {}
    # without it (a run that failed before its record was written), the ledger's entry tells it
    lost = derive(gone, plan(gone), attached.record)
    assert [n.id for n in lost.notices] == [told.notice.id]


def test_a_compute_whose_departure_was_told_goes_though_the_policy_wants_it_again():
    observed = converged()
    attached = derive(observed, plan(observed), {})
    told = departure(observed, compute(), "cluster aks-ml was untagged", attached.record)
    assert told is not None
    # not published yet (its publish failed): its reason is kept, it is told again, no detach
    assert departing({told.key: told.entry}) == frozenset()
    pending = departure(observed, compute(), "another reason", {told.key: told.entry})
    assert pending is not None and not pending.told
    assert pending.notice == told.notice
    again = replace(observed, departing=departing({told.key: told.as_told()}))
    assert [type(a).__name__ for a in plan(again).actions][-1] == "DetachCompute"
    assert derive(again, plan(again), {told.key: told.as_told()}).notices == ()
