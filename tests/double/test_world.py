"""The world file: loading, validation errors that name the entry, scenario changes, snapshot."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from sandbox.world import World, WorldError
from tests.double.arm_world import AKS, ARC, BASE_WORLD, WS


def test_world_loads_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(BASE_WORLD))
    snapshot = World.load(path).snapshot()
    assert {"id": AKS, "kind": "aks", "exists": True} in snapshot["clusters"]
    assert {"id": ARC, "kind": "arc", "exists": True} in snapshot["clusters"]
    # Kubernetes namespaces: the world file's, and azureml, made by the installed extension
    assert [n["name"] for n in snapshot["namespaces"] if n["cluster"] == AKS] == [
        "azureml",
        "default",
    ]
    assert snapshot["managed_namespaces"] == []  # none of them is an ARM managed namespace
    assert [c["name"] for c in snapshot["computes"]] == ["by-hand"]
    assert snapshot["computes"][0]["principal_id"]
    json.dumps(snapshot)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda w: w["clusters"][1].pop("location"),
            r"clusters\[1\]: missing required field\(s\) \['location'\]",
        ),
        (
            lambda w: w["clusters"][0].update(id=WS),
            r"clusters\[0\] \(id '.*ws-research'\): id must be",
        ),
        (
            lambda w: w["clusters"][2]["extensions"][0].update(provisioning_state="Installing"),
            r"clusters\[2\] \(id '.*arc-edge'\)\.extensions\[0\]: provisioning_state 'Installing'",
        ),
        (
            lambda w: w["computes"][0].update(workspace=WS + "x"),
            r"computes\[0\] \(name 'by-hand'\): workspace",
        ),
        (lambda w: w.update(extra=[]), r"unknown section"),
        (
            lambda w: w["workspaces"][1]["identity"].update(user_assigned_identity="/nope"),
            r"workspaces\[1\] \(id '.*ws-prod'\): identity.user_assigned_identity",
        ),
    ],
)
def test_invalid_world_entries_are_named_in_the_error(mutate: object, message: str) -> None:
    data = copy.deepcopy(BASE_WORLD)
    mutate(data)  # type: ignore[operator]
    with pytest.raises(WorldError, match=message):
        World.from_dict(data)


def test_delete_cluster_keeps_computes_and_lists_the_cluster_as_gone(world: World) -> None:
    world.apply_change({"op": "delete_cluster", "resource": AKS.upper()})
    snapshot = world.snapshot()
    assert {"id": AKS, "kind": "aks", "exists": False} in snapshot["clusters"]
    assert [n for n in snapshot["namespaces"] if n["cluster"] == AKS] == []
    assert [c["resource_id"] for c in snapshot["computes"]] == [AKS]


def test_create_cluster_and_set_tags_changes(world: World) -> None:
    new = AKS.replace("aks-ml", "aks-new")
    world.apply_change({"op": "create_cluster", "cluster": {"id": new, "location": "westeurope"}})
    world.apply_change(
        {"op": "set_tags", "resource": new, "tags": {"azureml-attach": "ws-research"}}
    )
    cluster = world.cluster(new.lower())
    assert cluster is not None and cluster.tags == {"azureml-attach": "ws-research"}
    with pytest.raises(WorldError, match="already exists"):
        world.apply_change(
            {"op": "create_cluster", "cluster": {"id": new, "location": "westeurope"}}
        )
    with pytest.raises(WorldError, match="unknown op"):
        world.apply_change({"op": "explode"})


def test_the_example_in_docs_world_format_loads() -> None:
    text = (Path(__file__).parents[2] / "docs" / "world-format.md").read_text()
    example = re.search(r"```json\n(\{\n.*?)\n```", text, re.DOTALL)
    assert example is not None
    world = World.from_dict(json.loads(example.group(1)))
    assert world.extension_install_seconds == 120
    assert [r["id"].rsplit("/", 1)[-1] for r in world.snapshot()["relays"]] == ["edge-relay-01"]


def test_managed_namespaces_in_a_world_are_apart_from_kubernetes_namespaces() -> None:
    data = copy.deepcopy(BASE_WORLD)
    data["clusters"][0]["managed_namespaces"] = [
        "team-a",
        {"name": "team-b", "provisioning_state": "Failed", "adoption_policy": "IfIdentical"},
    ]
    snapshot = World.from_dict(data).snapshot()

    managed = {(m["name"], m["provisioning_state"]) for m in snapshot["managed_namespaces"]}
    assert managed == {("team-a", "Succeeded"), ("team-b", "Failed")}
    kubernetes = {n["name"] for n in snapshot["namespaces"] if n["cluster"] == AKS}
    assert "team-a" in kubernetes and "team-b" not in kubernetes


def test_managed_namespaces_on_an_arc_cluster_are_refused() -> None:
    data = copy.deepcopy(BASE_WORLD)
    arc = next(c for c in data["clusters"] if c["id"] == ARC)
    arc["managed_namespaces"] = ["team-a"]
    with pytest.raises(WorldError, match="only AKS clusters have managed namespaces"):
        World.from_dict(data)
