"""Re-check delays after a transient failure: exponential, capped, jittered, never too soon."""

import random

from shared.engine.handling import MAX_BACKOFF_SECONDS, backoff


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
