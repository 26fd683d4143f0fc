import json

import pytest

from shared.decisions.events import ClusterSignal, IgnoredEvent, MalformedEvent, parse_message

AKS = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-platform"
    "/providers/Microsoft.ContainerService/managedClusters/aks-ml"
)
ARC = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-edge"
    "/providers/Microsoft.Kubernetes/connectedClusters/arc-1"
)


def event_grid(
    operation: str, uri: str, event_type: str = "Microsoft.Resources.ResourceWriteSuccess"
):
    return {
        "id": "evt-1",
        "topic": "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590",
        "subject": uri,
        "eventType": event_type,
        "eventTime": "2026-01-01T09:00:00Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {"operationName": operation, "resourceUri": uri, "status": "Succeeded"},
    }


def cloud_event(operation: str, uri: str):
    return {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590",
        "subject": uri,
        "type": "Microsoft.Resources.ResourceWriteSuccess",
        "time": "2026-01-01T09:00:00Z",
        "data": {"operationName": operation, "resourceUri": uri},
    }


def body(document) -> bytes:
    return json.dumps(document).encode()


def test_an_event_grid_cluster_write_asks_to_reconcile_that_cluster():
    parsed = parse_message(
        body(event_grid("Microsoft.ContainerService/managedClusters/write", AKS))
    )
    assert isinstance(parsed, ClusterSignal)
    assert parsed.cluster_id.raw == AKS
    assert parsed.event_id == "evt-1"


def test_a_cloudevents_arc_cluster_write_asks_to_reconcile_that_cluster():
    parsed = parse_message(body(cloud_event("Microsoft.Kubernetes/connectedClusters/write", ARC)))
    assert isinstance(parsed, ClusterSignal)
    assert parsed.cluster_id.raw == ARC


def test_a_one_element_array_is_read_like_a_single_event():
    event = event_grid("Microsoft.ContainerService/managedClusters/write", AKS)
    assert parse_message(body([event])) == parse_message(body(event))


def test_resource_ids_compare_without_regard_to_case():
    lower = parse_message(
        body(event_grid("microsoft.containerservice/managedclusters/WRITE", AKS.lower()))
    )
    assert isinstance(lower, ClusterSignal)
    assert (
        lower.cluster_id
        == parse_message(
            body(event_grid("Microsoft.ContainerService/managedClusters/write", AKS))
        ).cluster_id
    )


def test_an_extension_event_names_the_cluster_it_is_installed_on():
    extension = AKS + "/providers/Microsoft.KubernetesConfiguration/extensions/azureml"
    parsed = parse_message(
        body(event_grid("Microsoft.KubernetesConfiguration/extensions/write", extension))
    )
    assert isinstance(parsed, ClusterSignal)
    assert parsed.cluster_id.raw == AKS


def test_a_tag_write_on_a_cluster_asks_to_reconcile_the_tagged_cluster():
    parsed = parse_message(body(event_grid("Microsoft.Resources/tags/write", AKS)))
    assert isinstance(parsed, ClusterSignal) and parsed.cluster_id.raw == AKS
    scoped = AKS + "/providers/Microsoft.Resources/tags/default"
    parsed = parse_message(body(event_grid("Microsoft.Resources/tags/write", scoped)))
    assert isinstance(parsed, ClusterSignal) and parsed.cluster_id.raw == AKS


def test_events_about_other_resources_are_ignored_with_a_reason():
    storage = AKS.replace(
        "Microsoft.ContainerService/managedClusters/aks-ml", "Microsoft.Storage/storageAccounts/st"
    )
    parsed = parse_message(body(event_grid("Microsoft.Storage/storageAccounts/write", storage)))
    assert isinstance(parsed, IgnoredEvent)
    assert "not about a cluster" in parsed.reason


def test_failed_operations_are_ignored():
    parsed = parse_message(
        body(
            event_grid(
                "Microsoft.ContainerService/managedClusters/write",
                AKS,
                "Microsoft.Resources.ResourceWriteFailure",
            )
        )
    )
    assert isinstance(parsed, IgnoredEvent)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "array of 0 events"),
        (b'[{"id": 1}, {"id": 2}]', "array of 2 events"),
        (b'"a string"', "must be a JSON object"),
        (b'{"id": "x"}', "neither an Event Grid event"),
        (b'{"id": "x", "eventType": "Microsoft.Resources.ResourceWriteSuccess"}', "'data'"),
        (
            b'{"id": "x", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "data": {}}',
            "operationName",
        ),
    ],
)
def test_malformed_messages_are_permanent_failures_with_a_specific_reason(raw, expected):
    with pytest.raises(MalformedEvent) as caught:
        parse_message(raw)
    assert expected in str(caught.value)
    assert caught.value.reason == "MalformedEvent"


def test_a_resource_uri_that_is_not_an_arm_id_is_malformed():
    with pytest.raises(MalformedEvent, match="not an ARM resource id"):
        parse_message(body(event_grid("Microsoft.ContainerService/managedClusters/write", "aks")))


@pytest.mark.parametrize("levels", [100, 1000, 100_000])
@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_a_deeply_nested_body_is_a_malformed_event_not_a_crash(opener, closer, levels):
    # refused the same way on every Python, whether its decoder parses the depth or runs out
    # of stack (3.11 did at about 1,000 levels, 3.13 parses far deeper)
    body = opener * levels + "1" + closer * levels
    with pytest.raises(MalformedEvent) as raised:
        parse_message(body.encode())
    assert raised.value.reason == "MalformedEvent"
    assert "nested" in str(raised.value)


def test_the_event_id_is_read_from_the_body_of_either_envelope():
    from shared.decisions.events import event_id_in

    assert event_id_in(json.dumps(event_grid("x", AKS)).encode()) == "evt-1"
    assert event_id_in(json.dumps([cloud_event("x", AKS)]).encode()) == "ce-1"


def test_a_body_with_no_event_id_has_none():
    from shared.decisions.events import event_id_in

    assert event_id_in(b"not json") is None
    assert event_id_in(b"[" * 5000) is None
    assert event_id_in(json.dumps({"id": 7}).encode()) is None
    assert event_id_in(json.dumps([{"id": "a"}, {"id": "b"}]).encode()) is None
