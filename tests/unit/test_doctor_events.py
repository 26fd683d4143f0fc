"""Doctor's event-delivery checks, as pure functions over what ARM returns."""

from __future__ import annotations

from console.doctor import events
from shared.decisions.arm_id import ResourceId

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
QUEUE = ResourceId.parse(
    f"/subscriptions/{SUB}/resourceGroups/rg-aa/providers/Microsoft.ServiceBus/namespaces/sb-aa"
    "/queues/cluster-events"
)
FOREIGN_TOPIC = {
    "id": f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.EventGrid"
    "/systemTopics/other-tools-topic",
    "name": "other-tools-topic",
    "properties": {
        "source": f"/subscriptions/{SUB}",
        "topicType": "Microsoft.Resources.Subscriptions",
        "provisioningState": "Succeeded",
    },
}


def test_a_system_topic_that_delivers_nowhere_names_the_parameter_that_reuses_it():
    check = events.check_delivery(SUB, FOREIGN_TOPIC, [], QUEUE, events.CLUSTER_OPERATIONS)
    assert check.status == "problem"
    assert f"AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS {FOREIGN_TOPIC['id']}" in check.fix
    assert "existingSystemTopicIds" in check.fix
