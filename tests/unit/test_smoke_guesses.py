"""How `autoattach smoke` holds what Azure answered against what the double assumes."""

from __future__ import annotations

from types import SimpleNamespace

from console.smoke.guesses import GUESSES, assumed, observe, world_settings


def test_a_guess_with_a_world_setting_takes_the_worlds_value_and_falls_back_to_the_doubles():
    guess = GUESSES["compute_principal_on_put"]
    assert assumed(guess, SimpleNamespace(compute_principal_on_put=False)) is False
    assert assumed(guess, SimpleNamespace()) is True  # a world without the setting yet
    assert assumed(GUESSES["compute_reput"], SimpleNamespace()) == "accepted"


def test_a_duration_agrees_within_half_of_the_doubles_figure_or_one_poll():
    world = SimpleNamespace(compute_attach_seconds=60.0)
    assert observe("compute_attach_seconds", world, 85, "e").agrees is True
    assert observe("compute_attach_seconds", world, 95, "e").agrees is False
    short = SimpleNamespace(compute_attach_seconds=0.0)
    assert observe("compute_attach_seconds", short, 10, "e", poll=10).agrees is True


def test_an_answer_the_run_could_not_observe_neither_agrees_nor_differs():
    seen = observe("extension_install_seconds", SimpleNamespace(), None, "installed before")
    assert seen.agrees is None and seen.double_assumes == 120.0


def test_observed_guesses_become_the_world_settings_the_double_knows():
    world = SimpleNamespace()
    seen = [
        observe("compute_principal_on_put", world, False, "e"),
        observe("compute_attach_seconds", world, 44.6, "e"),
        observe("compute_reput", world, "accepted", "e"),  # no setting: not written
        observe("compute_tags", world, "dropped", "e"),  # a setting the double lacks here
        observe("extension_install_seconds", world, None, "not observed"),
    ]
    known = {"compute_principal_on_put", "compute_attach_seconds"}
    assert world_settings(seen, known) == {
        "compute_principal_on_put": False,
        "compute_attach_seconds": 45,
    }


def test_every_world_setting_of_the_double_is_probed_or_says_why_not():
    from console.smoke.guesses import NOT_PROBED
    from sandbox.world_format import OPTIONS

    probed = {g.setting for g in GUESSES.values() if g.setting}
    assert sorted(OPTIONS - probed - set(NOT_PROBED)) == [], (
        "a world setting autoattach smoke neither probes (console/smoke/guesses.py GUESSES, "
        "probes.py) nor lists in NOT_PROBED with the reason"
    )
