"""A seeded, randomized reliability campaign over the sandbox (dev tooling, not deployed).

``campaign.generate`` makes a scenario from a seed (a world, a policy and a list of steps:
changes, deliveries, faults); ``campaign.driver`` runs it through ``sandbox.runner.Sandbox``
with the real triggers and SDK clients; ``campaign.invariants`` checks, as pure functions, what
must hold once every message is settled and one sweep has run. ``python -m campaign`` runs many.
"""
