"""What the sweep removes beyond the tagged clusters: decided purely from what it read."""

from shared.decisions.arm_id import ResourceId
from shared.decisions.model import MadeAssignment, Role
from shared.engine.healing import orphaned

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RELAY = ResourceId.parse(
    SUB + "/resourceGroups/rg-edge/providers/Microsoft.Relay/namespaces/arc-1-relay"
)
OTHER_RELAY = ResourceId.parse(
    SUB + "/resourceGroups/rg-edge/providers/Microsoft.Relay/namespaces/arc-2-relay"
)
PRINCIPAL = "6a1e5b0c-1d2e-4f30-9a41-5b6c7d8e9f01"


def test_relay_owner_on_a_relay_no_living_arc_cluster_names_is_an_orphan():
    # the Arc cluster was deleted with its extension: nothing names its relay any more
    made = [MadeAssignment(RELAY, Role.AZURE_RELAY_OWNER, PRINCIPAL)]
    assert orphaned(made, set(), set(), relays_in_use={OTHER_RELAY}) == made


def test_relay_owner_on_a_relay_a_living_arc_cluster_names_is_kept():
    made = [MadeAssignment(RELAY, Role.AZURE_RELAY_OWNER, PRINCIPAL)]
    assert orphaned(made, set(), set(), relays_in_use={RELAY}) == []
