"""Service Bus queues and Event Grid routing match what the code and its retry design expect."""

from __future__ import annotations

import json
import re

from shared import settings
from tests.infra.bicep_model import (
    body,
    module_using,
    resolve,
    resources_of_type,
    template,
    text,
    variable,
)

QUEUES = "Microsoft.ServiceBus/namespaces/queues"


def _queue_properties():
    tpl = template("modules/servicebus.bicep")
    (queue,) = resources_of_type(tpl, QUEUES).values()
    return {key: resolve(tpl, value) for key, value in body(queue)["properties"].items()}


def _iso_minutes(duration: str) -> int:
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", duration)
    assert match, duration
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return days * 1440 + hours * 60 + minutes


def test_main_creates_exactly_the_two_queues_the_code_reads():
    main = template("main.bicep")
    passed = body(main["modules"]["serviceBus"])["params"]["queueNames"]
    assert [resolve(main, name) for name in passed] == [
        settings.DEFAULT_CLUSTER_EVENTS_QUEUE,
        settings.DEFAULT_EXTENSION_EVENTS_QUEUE,
    ]


def test_cluster_events_queue_detects_duplicates_for_a_day():
    props = _queue_properties()
    assert props["requiresDuplicateDetection"] is True
    assert _iso_minutes(props["duplicateDetectionHistoryTimeWindow"]) == 24 * 60


def test_queues_keep_duplicate_detection_as_long_as_event_grid_retries():
    retry = variable(template("modules/event-subscriptions.bicep"), "retryPolicy")
    window = _iso_minutes(_queue_properties()["duplicateDetectionHistoryTimeWindow"])
    assert retry["eventTimeToLiveInMinutes"] <= window


def test_queues_dead_letter_expired_messages():
    assert _queue_properties()["deadLetteringOnMessageExpiration"] is True


def test_queue_lock_outlasts_a_reconcile_but_returns_a_crashed_message_within_minutes():
    lock = _iso_minutes(_queue_properties()["lockDuration"])
    assert 1 <= lock <= 5  # Service Bus allows at most five minutes


def test_a_poison_message_is_dead_lettered_after_few_immediate_redeliveries():
    # Only unexpected exceptions abandon (redelivered at once); transient failures schedule a copy.
    assert 3 <= _queue_properties()["maxDeliveryCount"] < 10


def test_queues_are_not_session_enabled_because_event_grid_cannot_deliver_to_those():
    assert _queue_properties()["requiresSession"] is False


def test_service_bus_accepts_only_microsoft_entra_identities():
    namespace = body(template("modules/servicebus.bicep")["resources"]["namespace"])
    assert namespace["properties"]["disableLocalAuth"] is True
    # Duplicate detection needs Standard or Premium.
    assert "Basic" not in json.dumps(namespace["sku"])


def _subscription(name: str):
    tpl = template("modules/event-subscriptions.bicep")
    return tpl, body(tpl["resources"][name])["properties"]


def _operation_filter(tpl, props):
    filters = props["filter"]["advancedFilters"]
    (operations,) = [f for f in filters if f["key"] == "data.operationName"]
    assert operations["operatorType"] == "StringIn"
    return {v.lower() for v in resolve(tpl, operations["values"])}


def test_cluster_events_subscription_filters_cluster_writes_deletes_and_tag_writes():
    tpl, props = _subscription("clusterEvents")
    assert _operation_filter(tpl, props) == {
        "microsoft.containerservice/managedclusters/write",
        "microsoft.containerservice/managedclusters/delete",
        "microsoft.kubernetes/connectedclusters/write",
        "microsoft.kubernetes/connectedclusters/delete",
        "microsoft.resources/tags/write",
    }


def test_extension_events_subscription_filters_cluster_extension_writes_and_deletes():
    tpl, props = _subscription("extensionEvents")
    assert _operation_filter(tpl, props) == {
        "microsoft.kubernetesconfiguration/extensions/write",
        "microsoft.kubernetesconfiguration/extensions/delete",
    }


def test_event_subscriptions_take_only_write_and_delete_success_events():
    for name in ("clusterEvents", "extensionEvents"):
        tpl, props = _subscription(name)
        assert set(resolve(tpl, props["filter"]["includedEventTypes"])) == {
            "Microsoft.Resources.ResourceWriteSuccess",
            "Microsoft.Resources.ResourceDeleteSuccess",
        }


def test_advanced_filters_stay_within_event_grid_limits():
    for name in ("clusterEvents", "extensionEvents"):
        tpl, props = _subscription(name)
        filters = props["filter"]["advancedFilters"]
        assert len(filters) <= 25
        assert sum(len(resolve(tpl, f["values"])) for f in filters) <= 25


def _destination_chain(subscription_name: str, param_name: str) -> str:
    """Follow a subscription's destination from event-subscriptions.bicep to main.bicep's queue."""
    _, props = _subscription(subscription_name)
    delivery = props["deliveryWithResourceIdentity"]
    assert delivery["identity"] == {"type": "SystemAssigned"}
    assert delivery["destination"]["endpointType"] == "ServiceBusQueue"
    assert delivery["destination"]["properties"]["resourceId"] == param_name
    watched = template("modules/watched-subscription.bicep")
    passed = body(watched["modules"]["eventSubscriptions"])["params"][param_name]
    queue_id = text(resolve(watched, passed))
    (queue_param,) = re.findall(r'"(\w+QueueName)"', queue_id)
    main = template("main.bicep")
    watch_module = module_using(main, "watched-subscription.bicep")
    return resolve(main, body(watch_module)["params"][queue_param])


def test_cluster_events_are_delivered_to_the_cluster_events_queue_with_the_topic_identity():
    queue = _destination_chain("clusterEvents", "clusterEventsQueueId")
    assert queue == settings.DEFAULT_CLUSTER_EVENTS_QUEUE


def test_extension_events_are_delivered_to_the_extension_events_queue_with_the_topic_identity():
    assert (
        _destination_chain("extensionEvents", "extensionEventsQueueId")
        == settings.DEFAULT_EXTENSION_EVENTS_QUEUE
    )


def test_event_grid_retries_for_a_day_then_dead_letters_to_blob_storage_with_its_identity():
    for name in ("clusterEvents", "extensionEvents"):
        tpl, props = _subscription(name)
        retry = resolve(tpl, props["retryPolicy"])
        assert retry["eventTimeToLiveInMinutes"] == 1440
        assert retry["maxDeliveryAttempts"] >= 1
        dead_letter = resolve(tpl, props["deadLetterWithResourceIdentity"])
        assert dead_letter["identity"] == {"type": "SystemAssigned"}
        assert dead_letter["deadLetterDestination"]["endpointType"] == "StorageBlob"
        assert "deadLetterDestination" not in props  # never the key-based form


def test_each_watched_subscription_gets_a_global_resource_manager_system_topic():
    topic = body(template("modules/event-topic.bicep")["resources"]["systemTopic"])
    assert topic["location"] == "global"
    assert topic["properties"]["topicType"] == "Microsoft.Resources.Subscriptions"
    assert topic["identity"]["type"] == "SystemAssigned"
    main = template("main.bicep")
    watch_module = module_using(main, "watched-subscription.bicep")
    assert watch_module["config"]["loop_type"]["detail"]["array_name"] == "watchedSubscriptionIds"
    assert "subscription" in text(body(watch_module)["scope"])


def test_system_topic_may_send_to_the_queues_before_its_subscriptions_are_created():
    watched = template("modules/watched-subscription.bicep")
    assert "deliveryAccess" in body(watched["modules"]["eventSubscriptions"])["dependsOn"]


def test_notification_topic_takes_cloud_events_with_identity_only():
    topic = body(template("modules/notifications.bicep")["resources"]["topic"])
    assert topic["properties"]["inputSchema"] == "CloudEventSchemaV1_0"
    assert topic["properties"]["disableLocalAuth"] is True
