"""Sweep request ids: one per cluster and window, whatever the casing of the cluster id."""

from datetime import UTC, datetime, timedelta

from shared.engine.sweep import SWEEP_WINDOW_SECONDS, sweep_message_id, sweep_window

AKS = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-platform"
    "/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)


def test_a_cluster_id_in_other_casing_gets_the_same_sweep_id():
    assert sweep_message_id(AKS, 7) == sweep_message_id(AKS.lower(), 7)


def test_each_window_and_each_cluster_gets_its_own_sweep_id():
    assert sweep_message_id(AKS, 7) != sweep_message_id(AKS, 8)
    assert sweep_message_id(AKS, 7) != sweep_message_id(AKS + "-2", 7)
    assert len(sweep_message_id(AKS, 7)) <= 128


def test_sweeps_a_schedule_apart_fall_in_different_windows():
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert sweep_window(start) == sweep_window(start + timedelta(minutes=1))
    assert sweep_window(start) != sweep_window(start + timedelta(minutes=15))
    assert SWEEP_WINDOW_SECONDS < 15 * 60
