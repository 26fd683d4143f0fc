"""A small seeded campaign inside `make test`: random changes, duplicate, late and lost
deliveries, ARM faults, dropped connections and worker crashes through the real triggers; after
every message is settled and one sweep, no invariant may be violated (campaign/invariants.py).
ARM authorizes every request against exactly the roles infra/ grants autoattach
(sandbox/least_privilege.py), so a path that needs a right infra/ does not give fails here."""

from __future__ import annotations

from campaign.cli import render, run_campaign
from campaign.generate import INSTALL_POLL_PACES, generate
from shared.settings import Settings
from tests.unit.test_settings import VALID

SEEDS = [1, 3, 4]
EVENTS = 40


def test_a_small_campaign_ends_with_the_world_the_policy_asks_for_and_every_invariant_kept():
    summary = run_campaign(SEEDS, EVENTS, least_privilege=True)
    assert summary.events == len(SEEDS) * EVENTS
    assert summary.deliveries > 0
    assert sum(summary.faults.values()) > 0
    assert summary.violations == [], render(summary)


def test_a_seed_gives_the_same_scenario_every_time_so_a_violation_can_be_replayed():
    assert generate(17, 30) == generate(17, 30)
    assert generate(17, 30).steps != generate(18, 30).steps


def test_the_campaign_runs_every_install_poll_pace_a_deployment_may_set():
    drawn = [generate(seed, 5).app_settings for seed in range(30)]
    assert all(pace in drawn for pace in INSTALL_POLL_PACES)
    for pace in INSTALL_POLL_PACES:  # each is a deployment's valid setting
        Settings.from_environment({**VALID, **pace})
