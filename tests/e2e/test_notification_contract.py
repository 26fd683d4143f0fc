"""docs/notifications.md is the contract with workspace owners: each notice type autoattach
publishes, its JSON Schema (docs/schemas/notices.schema.json) and a real example. Checked here
against what the product emits in the sandbox, through the real Event Grid publisher client."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from console.cli import main
from shared.decisions import notices
from tests.e2e.conftest import assert_contracts_kept

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "notifications.md"
SCHEMA = ROOT / "docs" / "schemas" / "notices.schema.json"
EXAMPLES = ROOT / "docs" / "examples" / "notices"
# Each committed CloudEvents JSON-lines file, and the sandbox run that writes it.
RUNS = {
    "notices.jsonl": [
        "--world",
        str(EXAMPLES / "world.json"),
        "--events",
        str(EXAMPLES / "events.json"),
    ],
    "notices-wait.jsonl": ["--world", str(EXAMPLES / "world-wait.json")],
}
WS = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-ml/providers/"
    "Microsoft.MachineLearningServices/workspaces/"
)


def product_types() -> set[str]:
    """Every notice type shared/decisions/notices.py declares must be documented."""
    return {
        value
        for name, value in vars(notices).items()
        if name.isupper() and isinstance(value, str) and value.startswith("Autoattach.")
    }


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def validator(definition: str | None = None) -> Draft202012Validator:
    document = schema()
    if definition is not None:
        document = {**document, "oneOf": [{"$ref": f"#/$defs/{definition}"}]}
    return Draft202012Validator(document)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def without_time(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "time"}


def content(events: list[dict[str, Any]]) -> list[str]:
    """What the notices say, in any order: all but ``time`` (the wall clock) and ``id``. An id
    is deterministic for the same change, but a ComputeAttached's derives from when Azure created
    the compute, which moves with the double's virtual timings."""
    return sorted(
        json.dumps({k: v for k, v in e.items() if k not in ("time", "id")}, sort_keys=True)
        for e in events
    )


def doc_examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    parsed = [json.loads(block) for block in blocks]
    return [block for block in parsed if isinstance(block, dict) and "specversion" in block]


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each example world run through ``autoattach sandbox --json --notices FILE``: the JSON
    report and the notices file, by the name of the committed file it should match."""
    out = tmp_path_factory.mktemp("notices")
    runs = {}
    for name, argv in RUNS.items():
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(["sandbox", *argv, "--json", "--notices", str(out / name)])
        assert code == 0
        report = json.loads(stdout.getvalue())
        assert_contracts_kept(report["contracts"], sum(report["requests"].values()))
        runs[name] = (report, read_lines(out / name))
    return runs


def all_emitted(emitted) -> list[dict[str, Any]]:
    return [event for _, events in emitted.values() for event in events]


def test_the_example_worlds_make_the_product_publish_every_notice_type_it_declares(emitted):
    assert {event["type"] for event in all_emitted(emitted)} == product_types()


def test_the_schema_describes_every_notice_type_the_product_declares_and_no_other():
    document = schema()
    Draft202012Validator.check_schema(document)
    defined = {name for name in document["$defs"] if name.startswith("Autoattach.")}
    assert defined == product_types()
    assert {one["$ref"].rsplit("/", 1)[-1] for one in document["oneOf"]} == defined


def test_every_notice_published_fits_the_schema_of_its_type_and_no_other(emitted):
    for event in all_emitted(emitted):
        errors = [e.message for e in validator().iter_errors(event)]
        assert errors == [], (event["type"], errors)
        for other in product_types() - {event["type"]}:
            assert not validator(other).is_valid(event), (event["type"], other)


def test_every_field_of_a_published_notice_is_documented_in_the_schema(emitted):
    definitions = schema()["$defs"]
    envelope = set(definitions["envelope"]["properties"])
    for event in all_emitted(emitted):
        assert set(event) <= envelope, event["type"]
        data = definitions[event["type"]]["properties"]["data"]["properties"]
        assert set(event["data"]) <= set(data), (event["type"], set(event["data"]) - set(data))


def test_the_schema_refuses_a_workspace_notice_without_its_workspace(emitted):
    attached = next(e for e in all_emitted(emitted) if e["type"] == notices.ATTACHED)
    data = {k: v for k, v in attached["data"].items() if k != "workspace"}
    assert not validator().is_valid({**attached, "data": data})
    assert not validator().is_valid({**attached, "source": "/elsewhere"})


def test_the_committed_notice_files_say_what_the_sandbox_publishes_for_their_worlds(emitted):
    for name, (_, events) in emitted.items():
        committed = read_lines(EXAMPLES / name)
        assert content(committed) == content(events), (
            f"docs/examples/notices/{name} is stale: rerun `autoattach sandbox "
            f"{' '.join(RUNS[name])} --notices docs/examples/notices/{name}` "
            "(docs/notifications.md)"
        )


def test_each_example_in_the_doc_is_a_notice_the_product_published(emitted):
    examples = doc_examples()
    assert sorted(e["type"] for e in examples) == sorted(product_types())  # one per type
    committed = [without_time(e) for name in RUNS for e in read_lines(EXAMPLES / name)]
    published = content(all_emitted(emitted))
    for example in examples:
        assert validator().is_valid(example), example["type"]
        assert without_time(example) in committed, f"{example['type']}: not in the files"
        assert content([example])[0] in published, f"{example['type']} was not published"


def test_the_json_report_carries_each_notice_in_full(emitted):
    for report, events in emitted.values():
        assert report["world"]["notifications"] == [
            {key: e[key] for key in ("id", "type", "source", "subject", "time", "data")}
            for e in events
        ]


def test_every_workspace_notice_names_its_workspace_exactly_in_its_data(emitted):
    events = all_emitted(emitted)
    for event in events:
        if event["type"] == notices.TAG_REFUSED:
            assert "workspace" not in event["data"]  # for the platform team: no owner gets it
            continue
        workspace, subject = event["data"]["workspace"].lower(), event["subject"].lower()
        assert subject == workspace or subject.startswith(workspace + "/computes/"), event
    # Why not a subject prefix: ws-prod's id is a prefix of ws-prod2's, and a prefix with a
    # trailing slash misses the notices whose subject is the bare workspace id.
    prod, prod2 = WS + "ws-prod", WS + "ws-prod2"
    by_prefix = [e for e in events if e["subject"].startswith(prod)]
    assert any(e["data"].get("workspace") == prod2 for e in by_prefix)
    by_slash = [e for e in events if e["subject"].startswith(prod + "/")]
    assert any(e["subject"] == prod for e in events if e not in by_slash)
    # data.workspace StringIn [ws-prod] (Event Grid compares strings case-insensitively)
    by_data = [e for e in events if e["data"].get("workspace", "").lower() == prod.lower()]
    assert by_data and all(e["subject"].lower().startswith(prod.lower()) for e in by_data)
    assert not any(e["data"]["workspace"] == prod2 for e in by_data)


def test_the_documented_subscription_filters_on_the_workspace_in_the_data():
    text = DOC.read_text(encoding="utf-8")
    command = re.search(r"az eventgrid event-subscription create(?:[^\n]*\\\n)*[^\n]*", text)
    assert command is not None
    flags = command.group(0)
    assert "--event-delivery-schema cloudeventschemav1_0" in flags
    assert '--advanced-filter data.workspace StringIn "$WORKSPACE_ID"' in flags
    assert "--subject-begins-with" not in flags
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/notifications.md" in readme
    assert "beginning with their workspace id" not in readme


def test_notices_to_a_file_in_a_missing_directory_exit_2_naming_it(run_cli, tmp_path):
    target = tmp_path / "nowhere" / "notices.jsonl"
    code, _, err = run_cli("sandbox", "--notices", str(target))
    assert code == 2
    assert str(target) in err and "--notices" in err


def test_a_run_without_notices_writes_an_empty_notices_file(run_cli, tmp_path):
    events = tmp_path / "events.json"
    events.write_text("[]", encoding="utf-8")
    target = tmp_path / "notices.jsonl"
    code, _, _ = run_cli(
        "sandbox",
        "--world",
        str(EXAMPLES / "world.json"),
        "--events",
        str(events),
        "--notices",
        str(target),
    )
    assert code == 0
    assert target.read_text(encoding="utf-8") == ""
