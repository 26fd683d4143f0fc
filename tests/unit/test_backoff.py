"""Re-check delays: after a transient failure (exponential, capped, jittered, never too soon),
and while the Azure ML extension installs (soon at first, then less often)."""

import random

from shared.engine.handling import (
    MAX_BACKOFF_SECONDS,
    InstallPolling,
    backoff,
    install_poll_delay,
)


def delays(attempt: int, retry_after: float | None, seeds: range) -> list[float]:
    return [backoff(attempt, 60.0, retry_after, rng=random.Random(seed)) for seed in seeds]


def test_clusters_throttled_together_do_not_retry_in_lockstep():
    spread = delays(3, None, range(50))
    assert len(set(spread)) > 40


def test_a_delay_is_never_sooner_than_azure_asked():
    assert min(delays(0, 300.0, range(200))) >= 300.0
    assert min(delays(9, 1200.0, range(200))) >= 1200.0


def test_a_long_retry_after_is_jittered_too():
    assert len(set(delays(0, 300.0, range(50)))) > 40


def test_the_delay_grows_with_the_attempt_and_stays_under_the_cap():
    early = max(delays(0, None, range(100)))
    late = min(delays(4, None, range(100)))
    assert early < late
    assert max(delays(30, None, range(200))) <= MAX_BACKOFF_SECONDS


def test_the_same_seed_gives_the_same_delays():
    assert delays(2, 20.0, range(10)) == delays(2, 20.0, range(10))


def install_polls(waited: float, seeds: range = range(100)) -> list[float]:
    return [install_poll_delay(waited, 60.0, rng=random.Random(seed)) for seed in seeds]


def test_an_install_is_looked_at_again_within_fifteen_seconds_at_first():
    assert min(install_polls(0)) >= 13.5 and max(install_polls(0)) <= 15.0


def test_a_long_install_is_polled_less_often_but_within_five_percent_of_its_wait_plus_fifteen():
    assert max(install_polls(300)) <= 15 + 0.05 * 300
    assert min(install_polls(300)) > max(install_polls(0))


def test_an_install_is_never_polled_less_often_than_the_re_check_delay():
    assert max(install_polls(10_000)) <= 60.0
    assert min(install_polls(10_000)) >= 54.0


def test_a_platform_team_that_trades_latency_for_reads_has_an_install_polled_at_its_own_pace():
    once_a_minute = InstallPolling(first_seconds=60, share=0.0)
    polls = [install_poll_delay(w, 60.0, once_a_minute, rng=random.Random(w)) for w in range(99)]
    assert min(polls) >= 54.0 and max(polls) <= 60.0
    half_again = InstallPolling(first_seconds=20, share=0.5)
    assert 45.0 <= install_poll_delay(60, 600.0, half_again, rng=random.Random(1)) <= 50.0
